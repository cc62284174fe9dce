"""The "Share in channel" button under an ephemeral lookup: the same answer, posted for everyone.

The button's value is the subcommand text; clicking re-runs it as the clicking user and posts the
result in the channel through the payload's response_url, without the button, naming who shared it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, Respond

from bot.commands import Invocation, Reply
from bot.commands.dispatch import dispatch, split_args
from bot.deps import Deps
from bot.listeners.payloads import SHARE_ACTION, reply_payload
from core.cards import context

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.action(SHARE_ACTION)
    def share(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
        ack()
        inv = share_invocation(body, deps)
        if not read_only(inv):  # a Share click re-runs lookups only, never a mutation
            reply = Reply(text=f"Only lookups can be shared; `{inv.command} {inv.name}` was not run again.")
        else:
            reply = dispatch(inv, deps)
        if not reply.shareable:  # e.g. the element vanished or the user lost access: tell only them
            deps.background.submit(_respond, respond, {**reply_payload(reply, ""), "replace_original": False}, inv)
            return
        shared = Reply(text=reply.text, blocks=[*reply.blocks[:49], context(f"Shared by <@{inv.user_id}>")],
                       ephemeral=False)
        payload = {**reply_payload(shared, ""), "replace_original": False}
        deps.background.submit(_respond, respond, payload, inv)


#: Subcommands whose answers are lookups (their Share button re-runs them), and their mutating actions.
LOOKUPS = {"help", "status", "history", "events", "controls", "subscriptions", "feeds", "oncall", "incidents"}
MUTATING_ACTIONS = {"add", "remove", "rm", "delete", "override"}


def read_only(inv: Invocation) -> bool:
    return inv.name in LOOKUPS and not (inv.args and inv.args[0].lower() in MUTATING_ACTIONS)


def share_invocation(body: dict[str, Any], deps: Deps) -> Invocation:
    """The Invocation a Share click stands for: the button's command text, as the clicking user."""
    action = (body.get("actions") or [{}])[0]
    raw = str(action.get("value") or "").strip()
    words = split_args(raw)
    user = str((body.get("user") or {}).get("id") or "")
    channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
    return Invocation(command=deps.settings.command, name=words[0].lower() if words else "help", args=words[1:],
                      raw=raw, user_id=user, channel_id=channel,
                      team_id=str((body.get("team") or {}).get("id") or ""),
                      is_admin=deps.settings.is_admin(user), response_url=body.get("response_url"))


def _respond(respond: Respond, payload: dict[str, Any], inv: Invocation) -> None:
    result = respond(**payload)
    if getattr(result, "status_code", 200) != 200:
        log.warning("share failed", extra={"channel": inv.channel_id, "status": getattr(result, "status_code", None)})
