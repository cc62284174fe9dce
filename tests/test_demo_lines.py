"""The demo's terminal: one line per message the bot posts, readable, with its severity."""

from __future__ import annotations

import io

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.cli.demo_lines import Printer, plain, severity_of
from tests.conftest import TEST_BOT_TOKEN
from tests.fakes.slack_api import SlackStandIn


def test_plain_turns_mrkdwn_into_one_readable_line() -> None:
    names = {"U1": "Ada Okafor"}.get
    text = ":large_orange_circle: HIGH  *<https://x.example/a?b=1&amp;c=2|Curbs on Dy &amp; Tb>*\n<@U1> <!here>"
    assert plain(text, lambda u: names(u) or u) == "HIGH Curbs on Dy & Tb @Ada Okafor @here"
    assert plain("at <!date^1700000000^{time}|22:13 UTC> in <#C1|ops>") == "at 22:13 UTC in ops"


@pytest.mark.parametrize(("params", "expected"), [
    ({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": ":red_circle: CRITICAL  *ban*"}}]},
     "critical"),
    ({"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Incident #1: high"}}]},
     "high"),
    ({"text": "Gallium curbs paused (easing)"}, "easing"),
    ({"text": "Dy status", "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "Dy: normal → *elevated*"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "high story"}]}]}, "elevated"),
    ({"text": "Copper output recovers", "blocks": []}, None),
    ({"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Dy"}},
                              {"type": "section", "text": {"type": "mrkdwn", "text": "a high wall"}}]}, None),
])
def test_severity_of_reads_badges_headers_and_fallback(params: dict[str, object], expected: str | None) -> None:
    assert severity_of(params) == expected


def test_one_line_per_post_edit_and_thread_reply_and_none_for_failures() -> None:
    out = io.StringIO()
    printer = Printer(out, describe_channel=lambda c: {"D1": "DM Ada"}.get(c, c))
    with SlackStandIn(token=TEST_BOT_TOKEN, rate_limit=False) as slack:
        slack.on_call(printer.on_call)
        client = WebClient(token=TEST_BOT_TOKEN, base_url=slack.api_url)
        first = client.chat_postMessage(channel="#supply-risk", text=":large_orange_circle: HIGH China curbs Dy")
        client.chat_postMessage(channel="#supply-risk", thread_ts=first["ts"], text="Also reported by Wire")
        client.chat_update(channel="#supply-risk", ts=first["ts"], text=":large_orange_circle: HIGH China curbs Dy (2)")
        client.chat_postMessage(channel="D1", text="[HIGH] You are on call")
        with pytest.raises(SlackApiError):
            client.chat_postMessage(channel="#supply-risk", text="")
    lines = out.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert [line.split()[1] for line in lines] == ["post", "thread", "edit", "post"]
    assert "#supply-risk" in lines[0] and "[HIGH] HIGH China curbs Dy" in lines[0]
    assert "DM Ada" in lines[3] and lines[3].count("[HIGH]") == 1
    assert printer.counts == {"post": 2, "thread": 1, "edit": 1}
