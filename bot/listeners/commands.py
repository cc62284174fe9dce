"""The slash command (`/ree` or REEWATCH_COMMAND): parse, dispatch, ack with the reply.

The reply is the ack itself (one HTTP response, no Web API call). Lookups are ephemeral with a
"Share in channel" button; a Reply with `later` work acks first and answers again via response_url.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.commands import Invocation, Reply
from bot.commands.dispatch import dispatch, invocation
from bot.deps import Deps
from bot.listeners.payloads import reply_json, reply_payload

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.command(deps.settings.command)
    def slash_command(ack: Ack, command: dict[str, Any], respond: Respond) -> None:
        started = time.perf_counter()
        inv = invocation(command, deps)
        reply = dispatch(inv, deps)
        ack(reply_json(reply, inv.raw))  # the body serialized once per distinct reply (Reply.memo)
        deps.observe_command(inv.name or "help", time.perf_counter() - started)
        if reply.later is not None:
            deps.background.submit(run_later, reply, inv, respond)


def run_later(reply: Reply, inv: Invocation, respond: Respond) -> None:
    """Run a Reply's slow part after the ack and send its answer through the response_url."""
    assert reply.later is not None
    try:
        follow = reply.later()
    except Exception:
        log.exception("follow-up failed", extra={"subcommand": inv.name, "channel": inv.channel_id})
        follow = Reply(text=f":warning: `{inv.command} {inv.name}` failed on our side; the error is logged.")
    result = respond(**reply_payload(follow, inv.raw), replace_original=False)
    if getattr(result, "status_code", 200) != 200:  # respond() does not raise on HTTP errors
        log.warning("response_url post failed", extra={"status": getattr(result, "status_code", None),
                                                       "channel": inv.channel_id})
