"""The "Open article" URL button on event posts (core.blocks.OPEN_LINK_ACTION).

Slack opens the link in the browser itself, but still sends the click as a `block_actions` request and
shows the user a warning icon when nobody acks it; the listener only acks.
"""

from __future__ import annotations

from slack_bolt import Ack, App

from bot.deps import Deps
from core.blocks import OPEN_LINK_ACTION


def register(app: App, deps: Deps) -> None:
    @app.action(OPEN_LINK_ACTION)
    def open_link(ack: Ack) -> None:
        ack()
