"""A Reply turned into what Slack takes: ack()/respond() keyword arguments, with the Share button."""

from __future__ import annotations

from typing import Any

from bot.commands import Reply

#: The one Slack action id of the Share button (see bot/listeners/actions/share.py).
SHARE_ACTION = "reewatch_share"
#: Slack allows 2000 characters in a button value; the value is the command text to re-run.
MAX_VALUE = 2000


def reply_payload(reply: Reply, raw: str) -> dict[str, Any]:
    """ack()/respond() arguments: ephemeral or in-channel, links not unfurled, Share button on lookups."""
    blocks = list(reply.blocks)
    if reply.shareable and reply.ephemeral and raw and len(raw) <= MAX_VALUE:
        blocks = [*blocks[:49], share_button(raw)]
    payload: dict[str, Any] = {
        "text": reply.text,
        "response_type": "ephemeral" if reply.ephemeral else "in_channel",
        "unfurl_links": False,
        "unfurl_media": False,
    }
    if blocks:
        payload["blocks"] = blocks
    return payload


def share_button(raw: str) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": "reewatch_share",
        "elements": [{
            "type": "button",
            "action_id": SHARE_ACTION,
            "text": {"type": "plain_text", "text": "Share in channel"},
            "value": raw,
        }],
    }
