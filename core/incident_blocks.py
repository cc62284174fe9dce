"""Block Kit for incidents: the page (with Acknowledge and Resolve), its in-place updates, thread lines,
the DM to the person paged, and the `/ree incidents` list. Pure builders.

Feed text (title, outlet) is always escaped; the only mentions are the `mention` strings that
core.oncall.target made, passed in by the escalation logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from core.incidents import AuditEntry, Incident, State
from core.text import escape, link, truncate_escaped

ACK_ACTION = "reewatch_incident_ack"
RESOLVE_ACTION = "reewatch_incident_resolve"
TITLE_LIMIT = 300

Block = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Message:
    text: str
    blocks: list[Block]


def clock(ts: float) -> str:
    """`14:02 UTC`, with Slack's localized date token so each reader sees their own time zone."""
    fallback = datetime.fromtimestamp(ts, UTC).strftime("%H:%M UTC")
    return f"<!date^{int(ts)}^{{time}}|{fallback}>"


def _title(incident: Incident) -> str:
    return link(incident.link, truncate_escaped(incident.title, TITLE_LIMIT)[:TITLE_LIMIT]) if incident.link \
        else truncate_escaped(incident.title, TITLE_LIMIT)


def status_line(incident: Incident, *, paging: str = "") -> str:
    """One line saying where the incident stands (and whom it is paging while triggered)."""
    if incident.state is State.RESOLVED:
        return f":white_check_mark: Resolved by <@{incident.resolved_by}> at {clock(incident.resolved_at)}"
    if incident.state is State.ACKNOWLEDGED:
        return f":eyes: Acknowledged by <@{incident.acked_by}> at {clock(incident.acked_at)}"
    if paging:
        return f":rotating_light: Triggered, paging {paging}"
    return ":rotating_light: Triggered"


def page(incident: Incident, *, paging: str = "", step_note: str = "") -> Message:
    """The incident message in the escalation channel. `paging` is the mention of the current target
    (only in the first post and while triggered); updates pass the same incident in its new state."""
    sev = escape(incident.severity)
    elements = ", ".join(escape(e) for e in incident.elements) or "no element tagged"
    source = escape(incident.source) if incident.source else "unknown source"
    reports = f"{incident.reports} reports" if incident.reports != 1 else "1 report"
    state = status_line(incident, paging=paging)
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "emoji": True,
                                    "text": f"Incident #{incident.id}: {incident.severity}"[:150]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_title(incident)}*"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{elements} · {source} · {reports}"}]},
        {"type": "section", "text": {"type": "mrkdwn", "text": state + (f"\n{step_note}" if step_note else "")}},
    ]
    buttons = []
    if incident.state is State.TRIGGERED:
        buttons.append({"type": "button", "action_id": ACK_ACTION, "style": "primary", "value": incident.id,
                        "text": {"type": "plain_text", "text": "Acknowledge"}})
    if incident.state is not State.RESOLVED:
        buttons.append({"type": "button", "action_id": RESOLVE_ACTION, "style": "danger", "value": incident.id,
                        "text": {"type": "plain_text", "text": "Resolve"},
                        "confirm": {"title": {"type": "plain_text", "text": f"Resolve incident #{incident.id}?"},
                                    "text": {"type": "plain_text", "text": "Escalation stops and the incident closes."},
                                    "confirm": {"type": "plain_text", "text": "Resolve"},
                                    "deny": {"type": "plain_text", "text": "Cancel"}}})
    if buttons:
        blocks.append({"type": "actions", "block_id": f"incident_{incident.id}", "elements": buttons})
    plain_title = escape(incident.title[:TITLE_LIMIT])
    text = f"Incident #{incident.id} ({sev}): {plain_title}"
    if incident.state is State.TRIGGERED and paging:
        text = f"{paging} {text}"  # the mention in the fallback text is what notifies
    else:
        text += f" ({incident.state.value})"
    return Message(text, blocks)


def thread_line(entry: AuditEntry) -> Message:
    """One audit entry as a thread reply: page, ack, resolve, hold, release, report, override."""
    icon = {"page": ":loudspeaker:", "ack": ":eyes:", "resolve": ":white_check_mark:", "hold": ":zzz:",
            "release": ":alarm_clock:", "report": ":newspaper:", "page_failed": ":warning:",
            "override": ":repeat:"}.get(entry.kind, ":information_source:")
    text = f"{icon} {entry.text} ({clock(entry.at)})"
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}])


def page_reply(mention: str, *, step: int, steps: int, round_: int, rounds: int) -> Message:
    """The thread reply of a later step: re-mentions the next target (notifications come from it)."""
    where = f"step {step + 1} of {steps}" + (f", round {round_ + 1} of {rounds}" if rounds > 1 else "")
    text = f":loudspeaker: {mention} nobody has acknowledged yet: you are paged ({where})."
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def report_reply(source: str, title: str, url: str) -> Message:
    """Another outlet reported the same story: a thread line, never a new page."""
    label = truncate_escaped(title, TITLE_LIMIT)
    text = f":newspaper: Also reported by {escape(source or 'another source')}: {link(url, label)}"
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}])


def direct_page(incident: Incident, channel: str, *, problem: str = "") -> Message:
    """The DM to a person paged: what happened and where to answer (or, when the escalation channel
    refused the page, that it did and why)."""
    where = f"<#{channel}>" if channel[:1] in ("C", "G") else escape(channel)
    answer = f"Acknowledge it in {where} or with `/ree ack {incident.id}`."
    if problem:
        answer = (f"The escalation channel {where} refused the page ({escape(problem)}), so it comes to you "
                  f"directly: acknowledge with `/ree ack {incident.id}`, and ask an admin to fix the channel.")
    text = (f":rotating_light: You are on call for incident #{incident.id} ({escape(incident.severity)}): "
            f"{escape(incident.title[:TITLE_LIMIT])}. {answer}")
    return Message(text, [{"type": "section", "text": {"type": "mrkdwn", "text": text}}])


def incident_lines(incidents: Sequence[Incident], now: float) -> list[str]:
    """`/ree incidents`: one line per open incident."""
    lines = []
    for inc in incidents:
        age = int((now - inc.created_at) // 60)
        state = inc.state.value + (f" by <@{inc.acked_by}>" if inc.acked_by else "")
        if inc.held_until > now:
            state += f", held until {clock(inc.held_until)}"
        lines.append(f"*#{inc.id}* {escape(inc.severity)} · {state} · {age}m ago · {_title(inc)}")
    return lines
