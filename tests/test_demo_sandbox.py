"""The sandbox routes on the Slack stand-in, against the real Bolt app served over loopback HTTP:
commands and clicks arrive signed and are answered; response_url replies show as Slack would."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from slack_sdk import WebClient

from core.settings import Settings
from tests.conftest import TEST_BOT_TOKEN, TEST_SIGNING_SECRET
from tests.fakes.sandbox import DemoUser, Sandbox
from tests.fakes.slack_api import SlackStandIn

ADA, BEN = "U0DEMO0001", "U0DEMO0002"
CHANNEL = "#supply-risk"


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class _ThreadingWSGI(ThreadingMixIn, WSGIServer):
    daemon_threads = True


@pytest.fixture
def standin() -> Iterator[SlackStandIn]:
    with SlackStandIn(token=TEST_BOT_TOKEN, rate_limit=False) as server:
        yield server


@pytest.fixture
def sandbox(settings: Settings, standin: SlackStandIn) -> Iterator[Sandbox]:
    from bot.server import make_wsgi

    bot_settings = settings.model_copy(update={"slack_api_url": standin.api_url})
    httpd = make_server("127.0.0.1", 0, make_wsgi(bot_settings), server_class=_ThreadingWSGI, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    users = [DemoUser(ADA, "ada", "Ada Okafor", "on call"), DemoUser(BEN, "ben", "Ben Lindqvist")]
    try:
        yield Sandbox(standin, bot_url=f"http://127.0.0.1:{httpd.server_address[1]}",
                      signing_secret=TEST_SIGNING_SECRET, users=users, channels=[CHANNEL, "#ree-oncall"]).attach()
    finally:
        httpd.shutdown()
        httpd.server_close()


def _channel(state: dict[str, Any], channel: str = CHANNEL) -> dict[str, Any]:
    return next(c for c in state["channels"] if c["id"] == channel)


def _until(check: Callable[[], Any], what: str, limit: float = 20.0) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {limit:.0f}s")


def test_page_and_assets_are_served(sandbox: Sandbox) -> None:
    page = httpx.get(sandbox.url)
    assert page.status_code == 200 and "<title>reewatch" in page.text
    assert httpx.get(sandbox.url + "sandbox/app.js").headers["content-type"].startswith("text/javascript")
    state = httpx.get(sandbox.url + "sandbox/state", params={"user": ADA}).json()
    assert [c["id"] for c in state["channels"]] == [CHANNEL, "#ree-oncall"]
    assert httpx.get(sandbox.url + "sandbox/state", params={"user": ADA, "since": state["version"]}).json() == {
        "version": state["version"]}


def test_a_command_typed_in_the_page_is_answered_only_to_its_user(sandbox: Sandbox) -> None:
    result = httpx.post(sandbox.url + "sandbox/command", json={"user": ADA, "channel": CHANNEL, "text": "/ree help"})
    answer = result.json()
    assert answer["ok"] and answer["status"] == 200, answer
    assert "status" in (answer["reply"].get("text", "") + str(answer["reply"].get("blocks", "")))
    mine = _channel(sandbox.state(ADA))["messages"]
    assert [(m["author"], m["ephemeral"]) for m in mine] == [(ADA, True), ("bot", True)]
    assert mine[0]["text"] == "/ree help" and mine[1]["blocks"]
    assert _channel(sandbox.state(BEN))["messages"] == []


def test_a_bad_signature_would_be_refused_so_the_page_signs_for_real(sandbox: Sandbox) -> None:
    sandbox.signing_secret = "not-the-secret"
    answer = sandbox.run_command({"user": ADA, "channel": CHANNEL, "text": "help"})
    assert answer["status"] == 401
    assert "HTTP 401" in _channel(sandbox.state(ADA))["messages"][-1]["text"]


def test_share_button_on_a_lookup_reaches_the_channel(sandbox: Sandbox) -> None:
    answer = sandbox.run_command({"user": ADA, "channel": CHANNEL, "text": "events Dy"})
    reply = next(m for m in _channel(sandbox.state(ADA))["messages"] if m["author"] == "bot")
    button = next(e for b in reply["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e.get("action_id") == "reewatch_share")
    click = sandbox.click({"user": ADA, "channel": CHANNEL, "ts": reply["ts"], "action_id": button["action_id"],
                           "block_id": "", "value": button.get("value"), "text": "Share in channel"})
    assert answer["ok"] and click["ok"], (answer, click)

    def shared() -> list[dict[str, Any]]:
        return [m for m in _channel(sandbox.state(BEN))["messages"] if m["author"] == "bot"]

    assert _until(shared, "shared message visible to another user")


def test_response_url_replies_replace_or_delete_the_clicked_message(sandbox: Sandbox, standin: SlackStandIn) -> None:
    posted = WebClient(token=TEST_BOT_TOKEN, base_url=standin.api_url).chat_postMessage(
        channel=CHANNEL, text="pick one", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "pick one"}}])
    ts = posted["ts"]
    click = sandbox.click({"user": ADA, "channel": CHANNEL, "ts": ts, "action_id": "not_a_reewatch_action",
                           "value": "x"})
    assert click["status"] == 404  # Bolt: no listener for that action; the page says so
    done = [{"type": "section", "text": {"type": "mrkdwn", "text": "done"}}]
    httpx.post(click["response_url"], json={"replace_original": True, "text": "replaced", "blocks": done})
    msg = next(m for m in _channel(sandbox.state(BEN))["messages"] if m["ts"] == ts)
    assert msg["text"] == "replaced" and msg["edited"] and msg["blocks"][0]["text"]["text"] == "done"
    httpx.post(click["response_url"], json={"text": "just for you"})
    assert _channel(sandbox.state(ADA))["messages"][-1]["text"] == "just for you"
    assert all(m["text"] != "just for you" for m in _channel(sandbox.state(BEN))["messages"])
    httpx.post(click["response_url"], json={"delete_original": "true"})
    assert all(m["ts"] != ts for m in _channel(sandbox.state(BEN))["messages"])


def test_opening_the_home_tab_publishes_the_app_home(sandbox: Sandbox, standin: SlackStandIn) -> None:
    assert sandbox.open_home(ADA)["status"] == 200
    home = _until(lambda: sandbox.state(ADA)["home"], "App Home view")
    assert home["type"] == "home" and home["blocks"]
    assert sandbox.state(BEN)["home"] is None
