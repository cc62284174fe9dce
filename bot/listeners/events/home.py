"""App Home: republished every time a user opens the tab.

The event is acknowledged at once; building the view (Redis reads) and views.publish (a Web API call)
run as a Bolt lazy listener, so Slack never waits on them. Publishing is idempotent, and retried
deliveries are dropped by bot/listeners/middleware.py.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.home import home_view_for

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    def ack_now(ack: Ack) -> None:
        ack()

    def publish(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") != "home":
            return
        user = str(event.get("user") or "")
        view = home_view_for(deps, client, user)
        try:
            client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            log.warning("views.publish failed: %s", exc.response.get("error"), extra={"user": user})

    app.event("app_home_opened")(ack=ack_now, lazy=[publish])
