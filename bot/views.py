"""Store data shaped for core.cards: board rows, on-call lines, open incidents, subscription lines.

Shared by the subcommands and App Home, so both show the same thing.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any
from urllib.parse import urlsplit

from bot.deps import Deps
from core import elements
from core.cards import BoardRow, Measure
from core.text import escape


def board_rows(deps: Deps) -> list[BoardRow]:
    """The watchlist's elements with their status (feeds.yaml `watchlist:`), one pipelined read."""
    symbols = list(deps.feeds_file().watchlist)
    if not symbols:
        return []
    cat = elements.catalogue()
    return [BoardRow(symbol=s.symbol, name=cat[s.symbol].name_en, level=s.level.value, why=s.reason,
                     override=s.override is not None)
            for s in deps.status.board(symbols)]


def oncall_now(deps: Deps, now: float | None = None, ovs: list[Any] | None = None) -> Any:
    """core.oncall.OnCall at `now`, or None when feeds.yaml has no rotation; `ovs`: the overrides, when
    the caller has read them already."""
    config = deps.feeds_file().oncall
    if config is None:
        return None
    from core import oncall

    when = datetime.fromtimestamp(now or time.time(), UTC)
    return oncall.on_call(config.rotation, when, overrides(deps) if ovs is None else ovs)


def overrides(deps: Deps) -> list[Any]:
    from core.incidents import load_overrides

    return list(load_overrides(deps.redis, deps.keys))


def oncall_lines(deps: Deps, now: float) -> list[str]:
    """`Now: @a (secondary @b) until ...` and `Next: @c from ...` (core.oncall's rotation math)."""
    config = deps.feeds_file().oncall
    if config is None:
        return []
    from core import oncall
    from core.incident_blocks import clock

    when = datetime.fromtimestamp(now, UTC)
    ovs = overrides(deps)
    current = oncall.on_call(config.rotation, when, ovs)
    since, upcoming = oncall.next_handover(config.rotation, when, ovs)
    second = f" (secondary <@{current.secondary}>)" if current.secondary else ""
    by = " by override" if current.override else ""
    return [f"*Now:* <@{current.primary}>{second}{by} until {clock(current.until.timestamp())}",
            f"*Next:* <@{upcoming.primary}> from {clock(since.timestamp())}"]


def incident_lines(deps: Deps, limit: int = 10) -> list[str]:
    """Open incidents, newest first, as `/ree incidents` shows them."""
    from core.incident_blocks import incident_lines as lines
    from core.incidents import IncidentStore

    incidents = sorted(IncidentStore(deps.redis, deps.keys).open_incidents(), key=lambda i: -i.created_at)
    return lines(incidents[:limit], time.time())


def subscription_line(sub: Any) -> str:
    """One subscription as `/ree subscriptions` shows it (broken ones flagged)."""
    return (":warning: " if sub.broken else "") + escape(sub.describe())


def element_facts(symbol: str) -> tuple[list[str], list[str]]:
    """Key uses, and supply figures with their source and year (the element's, then its group's)."""
    uses, supply = _facts(symbol)
    return list(uses), list(supply)


@cache
def _facts(symbol: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    el = elements.catalogue()[symbol]
    figures = [*el.supply, *elements.group_supply(el.group)]
    return tuple(el.uses), tuple(f"{f.metric}: *{f.value}* ({f.source}, {f.year})" for f in figures)


def measures_for(symbol: str | None, now: float) -> list[Measure]:
    """Export-control measures (all, or those covering `symbol`) with their state today and review warnings."""
    return list(_measures_on(symbol, datetime.fromtimestamp(now, UTC).date()))


@lru_cache(maxsize=512)
def _measures_on(symbol: str | None, today: date) -> tuple[Measure, ...]:
    """The states depend on the day only (core/controls.yaml is read once per process)."""
    from core import controls

    out = []
    for m, st in controls.timeline(symbol, today):
        since = st.since or m.effective or m.announced
        # state_on, not m.state: the last recorded state may have run out (a suspension that ended) or be
        # past its review date, and then the card says "needs review" with core.controls' reason.
        review = st.note if st.needs_review else ""
        covered = ", ".join(m.elements) if m.elements else (m.group or "").replace("_", " ")
        out.append(Measure(title=f"{m.title} ({m.number}; {covered})", state=st.label, date=since.isoformat(),
                           review=review, source=", ".join(_site(u) for u in m.sources[:2])))
    return tuple(out)


def _site(url: str) -> str:
    """A source URL as its site name (`mofcom.gov.cn`); the card stays short, `controls` has the detail."""
    host = urlsplit(url).hostname or url
    return host.removeprefix("www.").removeprefix("english.")
