"""Incident messages (core.incident_blocks): valid Block Kit in every state, feed text inert, mentions only
where the escalation logic put them; and step targets (core.oncall.target)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.blockkit import validate_message
from core.feeds import Rotation
from core.incident_blocks import (
    ACK_ACTION,
    RESOLVE_ACTION,
    direct_page,
    incident_lines,
    page,
    page_reply,
    report_reply,
    thread_line,
)
from core.incidents import AuditEntry, Incident, State
from core.oncall import on_call, target

HOSTILE = "Dy exports halted <!channel> <@U999> & <https://evil.example|click> " + "x" * 400


def incident(state: State = State.TRIGGERED, **extra: object) -> Incident:
    fields: dict[str, object] = {"id": "12", "cluster_id": "c1", "state": state, "created_at": 1_750_000_000.0,
                                 "title": HOSTILE, "link": "https://news.example/a?b=1&c=2", "source": "Wire <b>",
                                 "severity": "critical", "elements": ["Dy", "Tb"], "reports": 3}
    fields.update(extra)
    return Incident(**fields)  # type: ignore[arg-type]


def _actions(blocks: list[dict[str, object]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]  # type: ignore[index, attr-defined]


@pytest.mark.parametrize(
    ("inc", "buttons", "says"),
    [
        (incident(), [ACK_ACTION, RESOLVE_ACTION], "Triggered, paging <@U1>"),
        (incident(State.ACKNOWLEDGED, acked_by="U2", acked_at=1_750_000_100.0), [RESOLVE_ACTION],
         "Acknowledged by <@U2>"),
        (incident(State.RESOLVED, resolved_by="U3", resolved_at=1_750_000_200.0), [], "Resolved by <@U3>"),
    ],
)
def test_page_in_each_state_is_valid_and_has_the_right_buttons(inc: Incident, buttons: list[str], says: str) -> None:
    msg = page(inc, paging="<@U1>", step_note="step 1 of 3")
    assert validate_message(msg.text, msg.blocks) == []
    assert _actions(msg.blocks) == buttons
    assert says in str(msg.blocks)
    assert all(e["value"] == "12" for b in msg.blocks if b["type"] == "actions" for e in b["elements"])


def test_feed_text_cannot_mention_or_link() -> None:
    msg = page(incident(), paging="<@U1>")
    rendered = msg.text + str(msg.blocks)
    for token in ("<!channel>", "<@U999>", "<https://evil.example"):
        assert token not in rendered
    assert "&lt;!channel&gt;" in msg.text and "Wire &lt;b&gt;" in str(msg.blocks)
    assert msg.text.startswith("<@U1> Incident #12")  # the page's own mention notifies
    assert "<@U1>" not in page(incident(State.ACKNOWLEDGED, acked_by="U2"), paging="<@U1>").text


def test_thread_lines_replies_and_dm_are_valid() -> None:
    for msg in (page_reply("<!here>", step=2, steps=3, round_=1, rounds=2),
                report_reply("Caixin <x>", HOSTILE, "https://news.example/b"),
                thread_line(AuditEntry(1_750_000_000.0, "ack", by="U2", text="acknowledged by <@U2>")),
                direct_page(incident(), "C0ONCALL"), direct_page(incident(), "#ree-oncall")):
        assert validate_message(msg.text, msg.blocks) == []
        assert "<!channel>" not in msg.text and "<@U999>" not in msg.text
    assert "step 3 of 3, round 2 of 2" in page_reply("<!here>", step=2, steps=3, round_=1, rounds=2).text
    assert "<#C0ONCALL>" in direct_page(incident(), "C0ONCALL").text


def test_incident_lines_show_state_and_hold() -> None:
    held = incident(held_until=1_750_003_600.0)
    line = incident_lines([held], now=1_750_000_600.0)[0]
    assert line.startswith("*#12* critical · triggered, held until") and "10m ago" in line
    assert "<!channel>" not in line


def test_step_targets() -> None:
    rot = Rotation(users=["UA1", "UB2"])
    who = on_call(rot, datetime(2025, 1, 8, tzinfo=UTC))
    assert target("primary", who).mention == f"<@{who.primary}>"
    assert target("secondary", who).user == who.secondary
    assert (target("here", who).mention, target("here", who).user) == ("<!here>", None)
    assert target("channel", who).mention == "<!channel>"
    assert target("user:UZZ9", who).mention == "<@UZZ9>"
    assert target("usergroup:S0G", who).mention == "<!subteam^S0G>"
    solo = on_call(Rotation(users=["UA1"]), datetime(2025, 1, 8, tzinfo=UTC))
    assert (target("secondary", solo).kind, target("secondary", solo).user) == ("primary", "UA1")
    with pytest.raises(ValueError):
        target("everyone", who)
