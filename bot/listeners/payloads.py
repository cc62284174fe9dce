"""A Reply turned into what Slack takes: ack()/respond() keyword arguments, with the Share button."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

from bot.commands import Reply

#: The one Slack action id of the Share button (see bot/listeners/actions/share.py).
SHARE_ACTION = "reewatch_share"
#: Slack allows 2000 characters in a button value; the value is the command text to re-run.
MAX_VALUE = 2000
#: Serialized bodies kept for replies with a memo key (a card body is ~6 KB: 256 are ~1.5 MB).
BODY_CACHE_SIZE = 256


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


class _Bodies:
    """A small thread-safe LRU of serialized ack bodies by (Reply.memo, command text, flags)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def put(self, key: Hashable, body: str) -> None:
        with self._lock:
            self._items[key] = body
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_BODIES = _Bodies(BODY_CACHE_SIZE)


def reply_json(reply: Reply, raw: str) -> str:
    """reply_payload(reply, raw) as the JSON body Slack receives, serialized once per distinct reply: a
    Reply with a `memo` key reuses the body built for an equal key and command text. `ack(reply_json(...))`
    sends it as is (Bolt passes a one-string ack through and labels a body starting with `{` JSON)."""
    if reply.memo is None:
        return json.dumps(reply_payload(reply, raw))
    key = (reply.memo, raw, reply.ephemeral, reply.shareable)
    body = _BODIES.get(key)
    if body is None:
        body = json.dumps(reply_payload(reply, raw))
        _BODIES.put(key, body)
    return body
