"""Block Kit builders: valid within limits for every shape of input, feed text inert."""

from __future__ import annotations

import re
from typing import Any

import pytest

from core.blockkit import validate_message
from core.blocks import (
    Message,
    digest_message,
    event_message,
    feed_disabled_message,
    status_change_message,
    thread_reply,
)
from core.models import Event, Level
from core.status import StatusChange

EVIL = "<!channel> <@U1> <#C1|x> <https://evil|click> &lt;!here&gt; *bold* _i_ `code` > quote"


def event(**fields: Any) -> Event:
    base: dict[str, Any] = {"id": "e1", "feed_id": "mofcom", "title": "China restricts gallium exports",
                            "link": "https://mofcom.gov.cn/a", "source": "MOFCOM", "tier": "official",
                            "published": 1_760_000_000.0, "elements": ["Ga", "Ge"], "severity": "critical",
                            "summary": "Exports of gallium need a licence from 1 August."}
    return Event(**(base | fields))


def interpreted(message: Message) -> list[str]:
    texts = [message.text] + [el["text"] for b in message.blocks for el in
                              ([b["text"]] if "text" in b else []) + b.get("elements", []) if "text" in el
                              and isinstance(el["text"], str)]
    return [tok for t in texts for tok in re.findall(r"<([^<>]*)>", t)]


CASES = {
    "plain": event(),
    "evil": event(title=EVIL, summary=EVIL, source=EVIL, summary_original="对镓" + EVIL),
    "huge": event(title="T" * 100_000, summary="S " * 50_000, source="O" * 10_000, elements=["Dy"] * 40,
                  link="https://x.example/" + "p" * 5000),
    "empty": event(title="", summary="", source="", elements=[], link="", severity="bogus"),
}


@pytest.mark.parametrize("name", CASES)
def test_every_builder_is_valid_and_inert(name: str) -> None:
    e = CASES[name]
    messages = [event_message(e, ["MOFCOM", "Reuters", EVIL] + [f"O{i}" for i in range(20)]), thread_reply(e),
                digest_message([e] * 60, 1_760_000_000.0, 1_760_086_400.0),
                status_change_message(StatusChange("Ga", Level.WATCH, Level.CRITICAL, EVIL * 200, 1.7e9)),
                feed_disabled_message("mofcom", EVIL * 100, EVIL)]
    for message in messages:
        assert validate_message(message.text, message.blocks) == []
        for token in interpreted(message):
            assert token.startswith(("!date^", "https://mofcom.gov.cn/a|", "https://x.example/")), token


def test_event_message_shape() -> None:
    m = event_message(event(summary_original="自8月1日起对镓实施出口管制。"), ["MOFCOM", "Reuters", "Xinhua"])
    ids = [b.get("block_id") for b in m.blocks]
    assert ids == ["headline", "summary", "meta", "also", "links"]
    assert m.blocks[0]["text"]["text"] == ":red_circle: CRITICAL  *China restricts gallium exports*"
    assert "原文: 自8月1日起对镓实施出口管制。" in m.blocks[1]["text"]["text"]
    assert m.blocks[3]["elements"][0]["text"] == "Also reported by Reuters, Xinhua"
    assert m.blocks[4]["elements"][0]["url"] == "https://mofcom.gov.cn/a"
    assert m.text == "[CRITICAL] China restricts gallium exports — MOFCOM"


def test_digest_overflow_note() -> None:
    m = digest_message([event(id=str(i)) for i in range(45)], None, 1.7e9)
    assert m.blocks[-1]["elements"][0]["text"].startswith("… and 5 more")
