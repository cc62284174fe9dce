"""Pure Block Kit builders for what the Slack app shows: the element card, the board, event lists,
the controls timeline, the feeds list and the App Home view. Data in, `Card(text, blocks)` out.

Feed-derived text is escaped (core.text); every card stays within Slack's limits (50 blocks, 3000
characters a section), so callers never need to trim.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from core.elements import Element
from core.models import Event, Severity
from core.text import escape, link, truncate_escaped

Block = dict[str, Any]

SEVERITY_ICON = {"critical": "🔴", "high": "🟠", "elevated": "🟡", "info": "⚪", "easing": "🟢"}
LEVEL_ICON = {"critical": "🔴", "elevated": "🟠", "watch": "🟡", "normal": "🟢"}
SPARK = "▁▂▃▄▅▆▇█"
SECTION_LIMIT = 3000
MAX_BLOCKS = 50


@dataclass(frozen=True, slots=True)
class Card:
    """A message: plain-text fallback plus blocks."""

    text: str
    blocks: list[Block] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Measure:
    """One export-control measure as a card shows it."""

    title: str
    state: str  # "in force", "suspended", "announced", "lifted", ...
    date: str  # ISO date the state began
    review: str = ""  # a warning when the entry is due for review, else ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class BoardRow:
    symbol: str
    name: str
    level: str
    why: str = ""
    override: bool = False


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A feed and its health."""

    id: str
    name: str
    url: str
    tier: str
    enabled: bool = True
    last_success: float | None = None
    failures: int = 0
    disabled: bool = False
    disabled_reason: str = ""
    last_error: str = ""


# --- small pieces ---------------------------------------------------------------------------------

def sparkline(counts: Sequence[int]) -> str:
    """One character per day, scaled to the busiest day (all-zero days show the lowest bar)."""
    top = max(counts, default=0)
    if top <= 0:
        return SPARK[0] * len(counts)
    return "".join(SPARK[min(len(SPARK) - 1, round(c / top * (len(SPARK) - 1)))] for c in counts)


def ago(then: float | None, now: float) -> str:
    """`5m ago`, `3h ago`, `2d ago`; `never` for None."""
    if not then:
        return "never"
    secs = max(0.0, now - then)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{int(secs // size)}{unit} ago"
    return "just now"


def day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def context(*parts: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": p[:3000]} for p in parts[:10] if p]}


def sections(lines: Iterable[str], limit: int = SECTION_LIMIT) -> list[Block]:
    """Lines packed into as few mrkdwn sections as fit in `limit` characters each."""
    out: list[Block] = []
    chunk = ""
    for line in lines:
        line = line[:limit]
        if chunk and len(chunk) + 1 + len(line) > limit:
            out.append(_section(chunk))
            chunk = line
        else:
            chunk = f"{chunk}\n{line}" if chunk else line
    if chunk:
        out.append(_section(chunk))
    return out


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _fit(blocks: list[Block], limit: int = MAX_BLOCKS) -> list[Block]:
    if len(blocks) <= limit:
        return blocks
    return [*blocks[: limit - 1], context(f"…{len(blocks) - limit + 1} more blocks not shown")]


# --- events ---------------------------------------------------------------------------------------

def event_line(event: Event, now: float, *, outlets: int = 1) -> str:
    """`🔴 *critical* <link|title> · Source · 3h ago` with the title escaped."""
    icon = SEVERITY_ICON.get(event.severity, "⚪")
    title = truncate_escaped(event.title, 200)
    shown = link(event.link, event.title) if len(escape(event.title)) <= 200 and event.link else title
    more = f" · +{outlets - 1} more outlet{'s' if outlets > 2 else ''}" if outlets > 1 else ""
    source = f" · {escape(event.source)}" if event.source else ""
    return f"{icon} *{event.severity}* {shown}{source} · {ago(event.when, now)}{more}"


def by_story(events: Iterable[Event]) -> list[tuple[Event, int]]:
    """One (lead event, outlets) per story cluster, most severe first, then newest."""
    stories: dict[str, list[Event]] = {}
    for ev in events:
        stories.setdefault(ev.cluster_id or ev.id, []).append(ev)
    leads = []
    for members in stories.values():
        lead = max(members, key=lambda e: (Severity(e.severity).rank, e.when))
        leads.append((lead, len({m.source or m.feed_id for m in members})))
    leads.sort(key=lambda pair: (Severity(pair[0].severity).rank, pair[0].when), reverse=True)
    return leads


def event_list(title: str, events: Sequence[Event], now: float, *, empty: str = "No events.") -> Card:
    """Recent events, one line per story, most severe and newest first."""
    stories = by_story(events)
    lines = [event_line(ev, now, outlets=n) for ev, n in stories]
    blocks = [header(title), *(sections(lines) if lines else [_section(empty)])]
    if stories:
        blocks.append(context(f"{len(stories)} stor{'y' if len(stories) == 1 else 'ies'} from {len(events)} "
                              f"report{'s' if len(events) != 1 else ''}"))
    return Card(text=f"{title}: {len(stories)} stories" if stories else f"{title}: {empty}", blocks=_fit(blocks))


# --- element card ---------------------------------------------------------------------------------

def element_card(el: Element, *, level: str, why: str, measures: Sequence[Measure], uses: Sequence[str],
                 supply: Sequence[str], events: Sequence[Event], counts: Sequence[int], oncall: str | None,
                 now: float) -> Card:
    """Everything about one element: names, class, level and why, measures, uses, supply, news, on call."""
    group = el.group.replace("_", " ")
    icon = LEVEL_ICON.get(level, "⚪")
    blocks: list[Block] = [
        header(f"{el.name_en} ({el.symbol}) · {el.name_zh}"),
        context(" · ".join([group, *_classes(el), f"atomic number {el.z}"])),
        _section(f"{icon} *Status: {level}*" + (f" – {escape(why)}" if why else "")),
    ]
    if measures:
        blocks.append(_section("*Export controls*"))
        blocks += sections(measure_line(m) for m in measures)
    else:
        blocks.append(context("No export-control measures recorded."))
    facts = [f"• {u}" for u in uses[:6]] + [f"• {s}" for s in supply[:4]]
    if facts:
        blocks += sections(["*Uses and supply*", *facts])
    total = sum(counts)
    blocks.append(_section(f"*Last {len(counts)} days* `{sparkline(counts)}` {total} event{'s' if total != 1 else ''}"))
    stories = by_story(events)[:5]
    if stories:
        blocks += sections(["*Latest*", *(event_line(ev, now, outlets=n) for ev, n in stories)])
    blocks.append(context(f"On call: {oncall}" if oncall else "On call: nobody configured"))
    text = f"{el.name_en} ({el.symbol}) {el.name_zh}: {level}" + (f" – {why}" if why else "")
    return Card(text=text, blocks=_fit(blocks))


def _classes(el: Element) -> list[str]:
    """China's light/heavy split and MOFCOM's medium/heavy listing: two separate facts (Sm and Eu are light
    rare earths yet MOFCOM-listed as medium/heavy)."""
    out = [f"{el.class_cn} rare earth (China's light/heavy split)"] if el.class_cn in ("light", "heavy") else []
    if el.mofcom_medium_heavy:
        out.append(f"MOFCOM-listed medium/heavy ({escape(el.mofcom_listed or '')})")
    elif el.mofcom_listed:
        out.append(f"MOFCOM-controlled ({escape(el.mofcom_listed)})")
    return out


def measure_line(m: Measure) -> str:
    review = f"\n   :warning: {escape(m.review)}" if m.review else ""
    source = f" ({escape(m.source)})" if m.source else ""
    return f"• *{escape(m.state)}* since {m.date}: {escape(m.title)}{source}{review}"


def controls_card(title: str, measures: Sequence[Measure]) -> Card:
    """The export-control timeline, newest first."""
    ordered = sorted(measures, key=lambda m: m.date, reverse=True)
    body = sections(measure_line(m) for m in ordered) if ordered else [_section("No measures recorded.")]
    return Card(text=f"{title}: {len(ordered)} measures", blocks=_fit([header(title), *body]))


# --- board and feeds ------------------------------------------------------------------------------

def board_lines(rows: Sequence[BoardRow]) -> list[str]:
    ordered = sorted(rows, key=lambda r: list(LEVEL_ICON).index(r.level) if r.level in LEVEL_ICON else 9)
    return [f"{LEVEL_ICON.get(r.level, '⚪')} *{r.symbol}* {r.name} – {r.level}"
            + (" (manual)" if r.override else "") + (f": {escape(r.why)}" if r.why else "") for r in ordered]


def board(rows: Sequence[BoardRow], *, title: str = "Watched elements") -> Card:
    """The board: one line per element, worst first."""
    if not rows:
        return Card(text=f"{title}: none", blocks=[header(title), _section(
            "No elements on the watchlist. Add them under `watchlist:` in feeds.yaml.")])
    worst = sorted(rows, key=lambda r: -list(LEVEL_ICON).index(r.level) if r.level in LEVEL_ICON else 0)
    text = f"{title}: " + ", ".join(f"{r.symbol} {r.level}" for r in worst[:10])
    return Card(text=text, blocks=_fit([header(title), *sections(board_lines(rows))]))


def feed_line(row: FeedRow, now: float) -> str:
    if row.disabled:
        health = f":no_entry: disabled: {escape(row.disabled_reason or 'too many failures')}"
    elif not row.enabled:
        health = ":pause_button: paused in feeds.yaml"
    elif row.failures:
        health = f":warning: {row.failures} failure{'s' if row.failures != 1 else ''}" + (
            f" ({escape(row.last_error[:120])})" if row.last_error else "")
    else:
        health = ":white_check_mark: ok"
    return (f"*{escape(row.id)}* {escape(row.name)} · {row.tier} · last success {ago(row.last_success, now)}"
            f" · {health}")


def feeds_list(rows: Sequence[FeedRow], now: float) -> Card:
    """Every feed with its health: last success, failures, disabled and why."""
    bad = sum(1 for r in rows if r.disabled or r.failures)
    body = sections(feed_line(r, now) for r in rows) if rows else [_section("No feeds configured.")]
    summary = f"{len(rows)} feeds, {bad} with problems" if bad else f"{len(rows)} feeds, all healthy"
    return Card(text=f"Feeds: {summary}", blocks=_fit([header("Feeds"), *body, context(summary)]))


# --- App Home -------------------------------------------------------------------------------------

def home_view(*, board_rows: Sequence[BoardRow], subscriptions: Sequence[str], oncall: Sequence[str],
              incidents: Sequence[str], command: str) -> dict[str, Any]:
    """The App Home tab: board, the user's channels' subscriptions, on call now and next, open incidents."""
    blocks: list[Block] = [header("reewatch"), context(f"Type `{command} help` in any channel for commands.")]
    blocks += [header("Board"), *(sections(board_lines(board_rows)) or [_section("Watchlist is empty.")])]
    blocks += [{"type": "divider"}, header("Your channels' subscriptions"),
               *(sections(subscriptions) or [_section(f"None yet: `{command} subscribe` in a channel.")])]
    blocks += [{"type": "divider"}, header("On call"),
               *(sections(oncall) or [_section("No rotation configured (`oncall:` in feeds.yaml).")])]
    blocks += [{"type": "divider"}, header("Open incidents"),
               *(sections(incidents) or [_section("No open incidents.")])]
    return {"type": "home", "blocks": _fit(blocks, 100)}
