"""Pure Block Kit builders for what the workers post: event posts, thread updates, digests, status
changes and feed-disabled notices. Each returns `Message(text, blocks)` within Slack's limits
(core.blockkit) with every piece of feed text escaped (core.text), so feed content can never mention
anyone or forge a link. Sections are `verbatim` so Slack does not linkify names in feed text either.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from core.models import Event, Severity
from core.text import escape, safe_url, truncate, truncate_escaped

#: Action id of the "Open" link buttons; the Bolt app acks it (Slack sends an action for URL buttons too).
OPEN_LINK_ACTION = "reewatch_open_link"
BADGES = {
    Severity.CRITICAL: ":red_circle: CRITICAL",
    Severity.HIGH: ":large_orange_circle: HIGH",
    Severity.ELEVATED: ":large_yellow_circle: ELEVATED",
    Severity.INFO: ":white_circle: info",
    Severity.EASING: ":large_green_circle: easing",
}
TITLE_CHARS = 280
SUMMARY_CHARS = 1200
DIGEST_ITEMS = 40  # 40 sections + header + overflow note + context stays under 50 blocks


@dataclass(frozen=True, slots=True)
class Message:
    """What chat.postMessage / chat.update receive: a plain-text fallback and Block Kit blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


class StatusChangeLike(Protocol):
    """The fields of core.status.StatusChange that a status message shows."""

    symbol: str
    old: Any
    new: Any
    reason: str
    at: float


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": _mrkdwn(text)}
    if block_id:
        block["block_id"] = block_id
    return block


def _context(*texts: str, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "context", "elements": [_mrkdwn(t) for t in texts if t][:10]}
    if block_id:
        block["block_id"] = block_id
    return block


def _severity(event: Event) -> Severity:
    try:
        return Severity(event.severity)
    except ValueError:
        return Severity.INFO


def _when(ts: float) -> str:
    """Slack's date token: each reader sees their own time zone; the fallback is UTC."""
    fallback = datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{fallback}>"


def _source(event: Event) -> str:
    return event.source or event.feed_id


def _button(url: str, label: str = "Open article") -> dict[str, Any] | None:
    good = safe_url(url)
    if good is None or len(good) > 3000:
        return None
    return {"type": "button", "action_id": OPEN_LINK_ACTION, "url": good,
            "text": {"type": "plain_text", "text": label, "emoji": False}}


def also_reported(outlets: Sequence[str], lead: str) -> str:
    """'Also reported by A, B and 3 more' over the outlets other than `lead` (escaped), or ''."""
    others = [o for o in dict.fromkeys(outlets) if o and o != lead]
    if not others:
        return ""
    shown = [escape(truncate(o, 60)) for o in others[:6]]
    more = f" and {len(others) - 6} more" if len(others) > 6 else ""
    return f"Also reported by {', '.join(shown)}{more}"


def event_message(event: Event, outlets: Sequence[str] = ()) -> Message:
    """The first post of a story: headline, summary, tags, severity, source, also-reported-by, link."""
    sev = _severity(event)
    title = truncate_escaped(event.title or "(untitled)", TITLE_CHARS)
    blocks = [_section(f"{BADGES[sev]}  *{title}*", "headline")]
    summary = event.summary or ""
    if summary and summary.strip() != (event.title or "").strip():
        body = truncate_escaped(summary, SUMMARY_CHARS)
        if event.summary_original and event.summary_original.strip() not in summary:
            body += f"\n原文: {truncate_escaped(event.summary_original, 600)}"
        blocks.append(_section(body, "summary"))
    tags = " ".join(f"`{escape(s)}`" for s in event.elements[:12])
    meta = f"{escape(truncate(_source(event), 80))} ({escape(event.tier)}) · {_when(event.when)}"
    blocks.append(_context(*(t for t in (tags, meta) if t), block_id="meta"))
    also = also_reported(outlets, _source(event))
    if also:
        blocks.append(_context(also, block_id="also"))
    button = _button(event.link)
    if button:
        blocks.append({"type": "actions", "block_id": "links", "elements": [button]})
    headline = truncate_escaped(event.title or "(untitled)", 500)
    text = f"[{sev.value.upper()}] {headline} — {truncate_escaped(_source(event), 80)}"
    return Message(text, blocks)


def thread_reply(event: Event) -> Message:
    """A later report of the same story, posted in the first post's thread."""
    sev = _severity(event)
    title = truncate_escaped(event.title or "(untitled)", TITLE_CHARS)
    lines = [f"{BADGES[sev]}  *{escape(truncate(_source(event), 80))}* ({escape(event.tier)}): {title}"]
    if event.summary and event.summary.strip() != (event.title or "").strip():
        lines.append(truncate_escaped(event.summary, 600))
    blocks = [_section("\n".join(lines), "report"), _context(_when(event.when), block_id="meta")]
    button = _button(event.link)
    if button:
        blocks.append({"type": "actions", "block_id": "links", "elements": [button]})
    return Message(f"Also reported by {truncate_escaped(_source(event), 80)}: {truncate_escaped(event.title, 500)}",
                   blocks)


def digest_message(events: Sequence[Event], since: float | None, until: float) -> Message:
    """One message gathering a channel's events since the last digest, most severe first."""
    ordered = sorted(events, key=lambda e: (-_severity(e).rank, -e.when))
    window = f"since {_when(since)}" if since else f"until {_when(until)}"
    head = f"*Rare-earth digest*: {len(ordered)} {'story' if len(ordered) == 1 else 'stories'} {window}"
    blocks = [_section(head, "digest_head")]
    for i, event in enumerate(ordered[:DIGEST_ITEMS]):
        url = safe_url(event.link)
        url = url if url and len(escape(url)) <= 1500 else None  # a section holds 3000 characters
        title = truncate_escaped(event.title or "(untitled)", 200)
        title = f"<{escape(url)}|{title.replace('|', '¦')}>" if url else title
        tags = " ".join(f"`{escape(s)}`" for s in event.elements[:6])
        line = f"{BADGES[_severity(event)]}  {title}\n{escape(truncate(_source(event), 60))} · {tags}".rstrip(" ·")
        blocks.append(_section(line, f"d{i}"))
    if len(ordered) > DIGEST_ITEMS:
        blocks.append(_context(f"… and {len(ordered) - DIGEST_ITEMS} more (see `/ree events`)", block_id="more"))
    if not ordered:
        blocks.append(_context("Nothing new matched this channel's subscriptions.", block_id="empty"))
    return Message(f"Rare-earth digest: {len(ordered)} {'story' if len(ordered) == 1 else 'stories'}", blocks)


def _level(value: Any) -> str:
    return str(getattr(value, "value", value))


def status_change_message(change: StatusChangeLike, name: str = "") -> Message:
    """One short message: element, from what level to what level, and why."""
    old, new = _level(change.old), _level(change.new)
    label = f"{escape(change.symbol)}" + (f" ({escape(name)})" if name else "")
    step = _rank(new) - _rank(old)
    arrow = ":arrow_up:" if step > 0 else ":arrow_down:" if step < 0 else ":left_right_arrow:"
    reason = truncate_escaped(change.reason or "no reason given", 1500)
    text = f"{arrow} *{label}* status: {escape(old)} → *{escape(new)}*\n{reason}"
    fallback = f"{change.symbol} status: {old} → {new}"
    return Message(escape(fallback), [_section(text, "status"), _context(_when(change.at), block_id="meta")])


def _rank(level: str) -> int:
    order = ("normal", "watch", "elevated", "critical")
    return order.index(level) if level in order else -1


def feed_disabled_message(feed_id: str, reason: str, name: str = "") -> Message:
    """Tells a channel that a feed it follows stopped being polled, and why."""
    label = escape(name or feed_id)
    text = (f":warning: Feed *{label}* (`{escape(feed_id)}`) was disabled and is no longer polled: "
            f"{truncate_escaped(reason or 'repeated failures', 1000)}\nAn admin can check it with `/ree feeds`.")
    return Message(f"Feed {label} was disabled", [_section(text, "feed_disabled")])
