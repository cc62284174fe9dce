"""The demo's Slack sandbox in headless Chromium: the page loads, the bot's posts appear without a
reload, a slash command typed in the page is answered, and Acknowledge stops an escalation."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.browser.conftest import shot
from tests.demo_process import DemoProcess, posts

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ACK_ACTION = "reewatch_incident_ack"  # core.incident_blocks.ACK_ACTION, the button the page must send back
ONCALL = "#ree-oncall"


def _open(page: Any, channel: str) -> None:
    page.locator(f'#sidebar button[data-channel="{channel}"]').click()
    page.locator("#pane-title").filter(has_text=channel.lstrip("#")).wait_for()


def test_page_loads_with_the_demo_channels(page: Any) -> None:
    page.locator("#channel-list button").first.wait_for()
    names = page.locator("#channel-list button").all_inner_texts()
    for channel in ("supply-risk", "trade-compliance", "ree-oncall"):
        assert any(channel in name for name in names), names
    assert page.locator("#user-select option").count() == 3
    page.locator("#conn").filter(has_text="live").wait_for()
    shot(page, "sandbox-loaded")


def test_a_bot_post_appears_without_reload(page: Any, demo: DemoProcess) -> None:
    channel, message = demo.wait_for("post from the bot", posts)[0]
    _open(page, channel)
    row = page.locator(f'#messages .msg[data-ts="{message["ts"]}"]')
    row.wait_for()
    if message["blocks"]:  # rendered from Block Kit, not dumped as text
        assert row.locator(".blk-header, .blk-section, .blk-context").count() > 0
    assert row.inner_text().strip()
    shot(page, "sandbox-post")


def test_a_slash_command_is_answered(page: Any) -> None:
    _open(page, "#supply-risk")
    before = page.locator("#messages .msg.ephemeral").count()
    page.fill("#command-input", "/ree help")
    page.press("#command-input", "Enter")
    answer = page.locator("#messages .msg.ephemeral").nth(before + 1)  # +0 is the echoed command itself
    answer.wait_for()
    assert "status" in answer.inner_text()
    assert page.locator("#messages .msg.ephemeral").nth(before).inner_text().count("/ree help") == 1
    shot(page, "sandbox-command")


def _incident(state: dict[str, Any]) -> dict[str, Any] | None:
    for channel in state.get("channels", []):
        if channel["id"] != ONCALL:
            continue
        for msg in channel["messages"]:
            buttons = [e for b in msg.get("blocks", []) if b.get("type") == "actions" for e in b.get("elements", [])]
            if any(b.get("action_id") == ACK_ACTION for b in buttons):
                return msg
    return None


def _ack_value(incident: dict[str, Any]) -> str:
    return next(e["value"] for b in incident["blocks"] if b.get("type") == "actions"
                for e in b.get("elements", []) if e.get("action_id") == ACK_ACTION)


def _pages(state: dict[str, Any], incident_ts: str, incident_id: str) -> int:
    """Escalation steps sent so far for one incident: 'you are paged' replies in its thread and DMs
    to the people paged that name it."""
    count = 0
    for channel in state.get("channels", []):
        for msg in channel["messages"]:
            if channel["kind"] == "dm" and f"incident #{incident_id} " in msg.get("text", "") + " ":
                count += 1
            if channel["id"] == ONCALL and msg["ts"] == incident_ts:
                count += sum(1 for r in msg.get("replies", []) if "paged" in r.get("text", ""))
    return count


def test_acknowledge_stops_the_escalation(page: Any, demo: DemoProcess) -> None:
    incident = demo.wait_for("incident with an Acknowledge button", _incident)
    _open(page, ONCALL)
    row = page.locator(f'#messages .msg[data-ts="{incident["ts"]}"]')
    row.locator("button", has_text="Acknowledge").click()
    row.filter(has_text=re.compile("Acknowledged by")).wait_for()
    assert row.locator("button", has_text="Acknowledge").count() == 0
    shot(page, "sandbox-acknowledged")
    incident_id = _ack_value(incident)
    paged = _pages(demo.state(), incident["ts"], incident_id)
    # The demo's steps are 15 s apart: watch for longer than one step and see no further page.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert _pages(demo.state(), incident["ts"], incident_id) == paged, "paged after the acknowledgement"
        time.sleep(1)


def test_app_home_opens(page: Any) -> None:
    page.locator("#nav-home").click()
    card = page.locator("#home .home-card .blocks")
    card.wait_for()
    assert card.locator(".blk-header, .blk-section").count() > 0
    assert page.locator("#composer").is_hidden()
    shot(page, "sandbox-home")
