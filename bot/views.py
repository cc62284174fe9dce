"""Store data shaped for core.cards: board rows, on-call lines, open incidents, subscription lines.

Shared by the subcommands and App Home, so both show the same thing.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from bot.deps import Deps
from core import elements
from core.cards import SEVERITY_ICON, BoardRow, Measure, ago
from core.text import escape, link


def board_rows(deps: Deps) -> list[BoardRow]:
    """The watchlist's elements with their status (feeds.yaml `watchlist:`), one pipelined read."""
    symbols = list(deps.feeds_file().watchlist)
    if not symbols:
        return []
    cat = elements.catalogue()
    return [BoardRow(symbol=s.symbol, name=cat[s.symbol].name_en, level=str(s.level), why=s.reason or "",
                     override=bool(getattr(s, "override", False)))
            for s in deps.status.board(symbols)]


def oncall_now(deps: Deps, now: float | None = None) -> Any:
    """core.oncall.OnCall at `now`, or None when feeds.yaml has no rotation."""
    config = deps.feeds_file().oncall
    if config is None:
        return None
    from core import oncall

    when = datetime.fromtimestamp(now or time.time(), UTC)
    return oncall.on_call(config.rotation, when, overrides(deps))


def overrides(deps: Deps) -> list[Any]:
    from core.incidents import load_overrides

    return list(load_overrides(deps.redis, deps.keys))


def oncall_lines(deps: Deps, now: float) -> list[str]:
    """`Now: @a (secondary @b) until Mon 09:00 UTC` and `Next: @c from ...`."""
    config = deps.feeds_file().oncall
    if config is None:
        return []
    from core import oncall

    when = datetime.fromtimestamp(now, UTC)
    ovs = overrides(deps)
    current = oncall.on_call(config.rotation, when, ovs)
    upcoming = oncall.next_change(config.rotation, when, ovs)
    second = f" (secondary <@{current.secondary}>)" if current.secondary else ""
    by = " by override" if current.override else ""
    return [f"*Now:* <@{current.primary}>{second}{by} until {_when(current.until)}",
            f"*Next:* <@{upcoming.primary}> from {_when(current.until)}"]


def _when(moment: datetime) -> str:
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{moment:%Y-%m-%d %H:%M} UTC>"


def incident_lines(deps: Deps, limit: int = 10) -> list[str]:
    """Open incidents, newest first: `#12 🔴 high triggered · title · 2h ago`."""
    from core.incidents import IncidentStore

    now = time.time()
    incidents = sorted(IncidentStore(deps.redis, deps.keys).open_incidents(), key=lambda i: -i.created_at)
    return [incident_line(inc, now) for inc in incidents[:limit]]


def incident_line(inc: Any, now: float) -> str:
    who = f" by <@{inc.acked_by}>" if inc.acked_by else ""
    return (f"*{inc.label}* {SEVERITY_ICON.get(inc.severity, '⚪')} {inc.severity} · {inc.state}{who} · "
            f"{link(inc.link, inc.title) if inc.link else escape(inc.title)} · {ago(inc.created_at, now)}")


def subscription_line(sub: Any) -> str:
    """One subscription: its id, what it matches, its minimum severity and digest, broken or not."""
    what = ["everything"] if getattr(sub, "all", False) else []
    what += [f"feed `{f}`" for f in getattr(sub, "feeds", [])]
    what += list(getattr(sub, "elements", []))
    what += [f'"{k}"' for k in getattr(sub, "keywords", [])]
    extra = ""
    if getattr(sub, "min_severity", None):
        extra += f" · min {sub.min_severity}"
    if getattr(sub, "digest", None):
        extra += f" · digest {sub.digest}"
    broken = f" · :warning: broken: {sub.broken}" if getattr(sub, "broken", None) else ""
    return f"`{sub.id}` {', '.join(what) or 'nothing'}{extra}{broken}"


def element_facts(symbol: str) -> tuple[list[str], list[str]]:
    """Key uses, and supply figures with their source and year (the element's, then its group's)."""
    el = elements.catalogue()[symbol]
    figures = [*el.supply, *elements.group_supply(el.group)]
    supply = [f"{f.metric}: *{f.value}* ({f.source}, {f.year})" for f in figures]
    return list(el.uses), supply


def measures_for(symbol: str | None, now: float) -> list[Measure]:
    """Export-control measures (all, or those covering `symbol`) as cards show them, with review warnings."""
    from core import controls

    today = datetime.fromtimestamp(now, UTC).date()
    out = []
    for m in controls.measures(symbol):
        review = (f"needs review: this state was due for re-checking by {m.review_by}"
                  if m.needs_review(today) else "")
        out.append(Measure(title=m.title, state=m.state_text if hasattr(m, "state_text") else str(m.state),
                           date=str(m.state_since if hasattr(m, "state_since") else m.effective),
                           review=review, source=", ".join(getattr(m, "sources", ())[:2])))
    return out
