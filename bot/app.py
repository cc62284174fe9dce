"""The Bolt app factory: one composition root for the Slack side.

Listener mode: `process_before_response=True`. Every listener here finishes in well under a
millisecond of Python plus a few pipelined Redis round trips, so answering in the request thread is
both fast and safe; Bolt's default threaded runner instead hands the listener to a pool and polls for
its ack() in 10 ms steps, which puts ~10 ms on every reply (bench/bench_app.py measures both). Work
that could be slow (a feed fetch, a Slack Web API call, a response_url post) never runs before the
response: it goes to `Deps.background` or a Bolt lazy listener.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bot.deps import Deps
from bot.listeners import register_all
from core.settings import Settings

log = logging.getLogger(__name__)


class _TokenIsUsed(logging.Filter):
    """Drops Bolt's "`token` will be unused/ignored" warnings, which are wrong here: Bolt reads
    SLACK_BOT_TOKEN from the environment by itself and warns that a `client` or `authorize` takes
    precedence, but our `authorize` hands out that very token (from settings), so nothing is ignored."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("`token`" in message and ("will be unused" in message or "will be ignored" in message))


logging.getLogger("slack_bolt.App").addFilter(_TokenIsUsed())


def create_app(settings: Settings, *, deps: Deps | None = None, process_before_response: bool = True) -> App:
    """A Bolt app with reewatch's listeners registered. Nothing slow happens before ack()."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""

    def authorize(enterprise_id: str | None, team_id: str | None, user_id: str | None) -> AuthorizeResult:
        # Single workspace with a known bot token: no auth.test round trip to Slack on any request
        # (Bolt's default single-team authorization calls it lazily on the first one).
        return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=token)

    deps = deps or Deps(settings)
    app = App(
        signing_secret=secret,
        listener_executor=deps.background,  # lazy listeners and follow-ups share one pool
        authorize=authorize,
        client=WebClient(base_url=settings.slack_api_url),
        process_before_response=process_before_response,
        raise_error_for_unhandled_request=False,
    )
    app.error(_on_error)
    register_all(app, deps)
    return app


def _on_error(error: Exception, body: dict[str, Any], response: BoltResponse | None) -> BoltResponse:
    """Bolt's last resort: log with the request kind, answer Slack without a retry storm."""
    log.error("listener failed: %s", error, exc_info=error, extra={"kind": body.get("type") or "command"})
    return BoltResponse(status=500, body="", headers={"X-Slack-No-Retry": "1"})
