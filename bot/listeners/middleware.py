"""Global middleware: Events API deliveries act once, even when Slack retries them.

Slack retries an event it thinks went unanswered (X-Slack-Retry-Num 1..3, within minutes). The first
delivery of an `event_id` claims it in Redis (SET NX with a TTL); a later delivery of the same id is
answered 200 without running a listener. Commands and buttons are never retried, so they skip this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.deps import Deps

log = logging.getLogger(__name__)

#: Slack gives up after ~5 minutes of retries; an hour covers that with room for clock skew.
RETRY_TTL_SECONDS = 3600


def register(app: App, deps: Deps) -> None:
    @app.middleware
    def once_per_event(req: BoltRequest, body: dict[str, Any], next: Callable[[], BoltResponse]) -> BoltResponse:
        if body.get("type") != "event_callback" or not body.get("event_id"):
            return next()
        event_id = str(body["event_id"])
        first = deps.redis.set(deps.keys.slack_retry(event_id), "1", nx=True, ex=RETRY_TTL_SECONDS)
        if first:
            return next()
        retry = (req.headers.get("x-slack-retry-num") or ["?"])[0]
        log.info("duplicate event delivery ignored", extra={"event_id": event_id, "retry_num": retry})
        return BoltResponse(status=200, body="", headers={"X-Slack-No-Retry": "1"})
