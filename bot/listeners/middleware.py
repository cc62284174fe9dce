"""Global middleware: Events API deliveries act once, even when Slack retries them.

Slack retries an event it thinks went unanswered (X-Slack-Retry-Num 1..3, within minutes). The first
delivery of an `event_id` claims it in Redis (SET NX with a TTL); a later delivery of the same id is
answered 200 without running a listener. Commands and buttons are never retried, so they skip this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.middleware import Middleware

from bot.deps import Deps

log = logging.getLogger(__name__)

#: Slack gives up after ~5 minutes of retries; an hour covers that with room for clock skew.
RETRY_TTL_SECONDS = 3600


def register(app: App, deps: Deps) -> None:
    app.middleware(OncePerEvent(deps))


class OncePerEvent(Middleware):
    """Drops repeated deliveries of an Events API `event_id`. A Middleware subclass rather than a
    decorated function: Bolt then calls process() directly instead of inspecting and building keyword
    arguments on every request, commands included, which only pass through."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    def process(self, *, req: BoltRequest, resp: BoltResponse,
                next: Callable[[], BoltResponse]) -> BoltResponse | None:
        body = req.body
        if body.get("type") != "event_callback" or not body.get("event_id"):
            return next()
        event_id = str(body["event_id"])
        first = self.deps.redis.set(self.deps.keys.slack_retry(event_id), "1", nx=True, ex=RETRY_TTL_SECONDS)
        if first:
            return next()
        retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
        log.info("duplicate event delivery ignored", extra={"event_id": event_id, "retry_num": retry})
        return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})
