"""Signed Slack requests for tests, and helpers to send them through the real Bolt app.

Build (signed with the test signing secret unless `secret=` says otherwise):

    req = slash("status Dy")                          # a /ree slash command
    req = click("reewatch_share", "status Dy")        # a block_actions button click
    req = home_opened("U1", event_id="Ev1")           # an app_home_opened event (retry_num= for retries)

Send:

    resp = dispatch(app, req)                         # in-process: app.dispatch(BoltRequest)
    reply = ack_json(resp)                            # the JSON body Slack would receive
    httpx.post(url + "/slack/events", content=req.body, headers=req.headers)   # over HTTP

`forged(req)` breaks the signature; `stale=True` on any builder signs with a timestamp 6 minutes old.
Re-exports bot.signed's builders for callers that want full control.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

from slack_bolt import App, BoltResponse

from bot.signed import SignedRequest, app_home_opened, block_actions, event, signature, signed, slash_command
from tests.conftest import TEST_SIGNING_SECRET

__all__ = ["SignedRequest", "ack_json", "app_home_opened", "block_actions", "click", "dispatch", "drain", "event",
           "forged", "home_opened", "signature", "signed", "slash", "slash_command"]

STALE_SECONDS = 360  # Slack (and Bolt) refuse timestamps more than 5 minutes away


def _ts(stale: bool) -> int | None:
    return int(time.time()) - STALE_SECONDS if stale else None


def slash(text: str, *, secret: str = TEST_SIGNING_SECRET, stale: bool = False, **fields: Any) -> SignedRequest:
    """A signed `/ree TEXT` (fields: command, user_id, channel_id, response_url, ...)."""
    return slash_command(text, secret=secret, timestamp=_ts(stale), **fields)


def click(action_id: str, value: str, *, secret: str = TEST_SIGNING_SECRET, stale: bool = False,
          **fields: Any) -> SignedRequest:
    """A signed button click (fields: user_id, channel_id, response_url, message_ts, ephemeral, ...)."""
    return block_actions(action_id, value, secret=secret, timestamp=_ts(stale), **fields)


def home_opened(user_id: str, *, event_id: str, retry_num: int | None = None,
                secret: str = TEST_SIGNING_SECRET) -> SignedRequest:
    """A signed app_home_opened delivery; `retry_num` marks it as Slack's retry."""
    return app_home_opened(user_id, secret=secret, event_id=event_id, retry_num=retry_num)


def forged(req: SignedRequest) -> SignedRequest:
    """The same request with a signature made with the wrong secret."""
    ts = int(req.headers["X-Slack-Request-Timestamp"])
    return replace(req, headers={**req.headers, "X-Slack-Signature": signature("not-the-secret", req.body, ts)})


def dispatch(app: App, req: SignedRequest) -> BoltResponse:
    """Run the request through the app in-process, exactly as the HTTP adapter would."""
    return app.dispatch(req.bolt())


def drain(app: App) -> None:
    """Wait until the app's lazy listeners (App Home publishing) have finished: deterministic, no sleeps."""
    executor = app.listener_runner.listener_executor
    executor.shutdown(wait=True)


def ack_json(resp: BoltResponse) -> dict[str, Any]:
    """The ack body as JSON (a bare ack() gives an empty body: {})."""
    assert resp.status == 200, f"status {resp.status}: {resp.body}"
    return json.loads(resp.body) if resp.body else {}


# --- fixtures: `pytest_plugins = ("tests.slackreq",)` in a test module brings in app, app_settings, slack ---

import pytest  # noqa: E402

from core.settings import Settings  # noqa: E402
from tests.fakes.slack_api import SlackStandIn  # noqa: E402


@pytest.fixture
def slack():  # type: ignore[no-untyped-def]
    """A running Slack Web API stand-in."""
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def app_settings(settings: Settings, slack: SlackStandIn) -> Settings:
    """Test settings pointed at the stand-in, with U0ADMIN as the only admin."""
    return settings.model_copy(update={"slack_api_url": slack.api_url, "admins": ["U0ADMIN"]})


@pytest.fixture
def app(app_settings: Settings) -> App:
    """The real Bolt app, as `reewatch serve` builds it."""
    from bot.app import create_app

    return create_app(app_settings)
