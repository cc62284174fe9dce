"""The Bolt app factory: one composition root for the Slack side."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from core.settings import Settings


def create_app(settings: Settings) -> App:
    """A Bolt app with reewatch's listeners registered. Nothing slow happens before ack()."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = App(
        token=token,
        signing_secret=secret,
        client=WebClient(token=token, base_url=settings.slack_api_url),
        token_verification_enabled=False,
    )

    @app.command(settings.command)
    def _command(ack: Ack, command: dict[str, Any]) -> None:
        ack(text=f"reewatch is starting up; `{settings.command} help` will list the subcommands.")

    return app
