"""The App Home tab's data: the board, the user's channels' subscriptions, on call now and next, and
open incidents, gathered from the stores and rendered by core.cards.home_view."""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.deps import Deps
from bot.views import board_rows, incident_lines, oncall_lines, subscription_line
from core.cards import home_view

log = logging.getLogger(__name__)

MAX_CHANNELS = 50


def home_view_for(deps: Deps, client: WebClient, user_id: str) -> dict[str, Any]:
    """The Home view for one user."""
    now = time.time()
    subs: list[str] = []
    for channel in user_channels(client, user_id):
        subs += [f"<#{channel}> {subscription_line(s)}" for s in deps.subscriptions.for_channel(channel)]
    return home_view(board_rows=board_rows(deps), subscriptions=subs, oncall=oncall_lines(deps, now),
                     incidents=incident_lines(deps), command=deps.settings.command)


def user_channels(client: WebClient, user_id: str) -> list[str]:
    """Channels the user is in (users.conversations); none when Slack refuses (missing scope)."""
    try:
        resp = client.users_conversations(user=user_id, types="public_channel,private_channel",
                                          exclude_archived=True, limit=MAX_CHANNELS)
    except SlackApiError as exc:
        log.warning("users.conversations failed: %s", exc.response.get("error"), extra={"user": user_id})
        return []
    return [str(c["id"]) for c in resp.get("channels") or []][:MAX_CHANNELS]
