"""Signed Slack requests built locally: what Slack would send for a slash command, a button click or
an event, signed with a signing secret (v0 HMAC-SHA256 over `v0:{timestamp}:{body}`).

Used by `reewatch ask`, the benchmarks and the tests (tests/slackreq.py adds test defaults).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from slack_bolt import BoltRequest

TEAM_ID = "T0REEWATCH"


@dataclass(frozen=True)
class SignedRequest:
    """A raw body and the headers Slack would send with it."""

    body: str
    headers: dict[str, str]

    def bolt(self) -> BoltRequest:
        """As Bolt's in-process request (what `app.dispatch` takes)."""
        return BoltRequest(body=self.body, headers={k.lower(): [v] for k, v in self.headers.items()})


def signature(secret: str, body: str, timestamp: int) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed(body: str, *, secret: str, content_type: str, timestamp: int | None = None,
           extra_headers: dict[str, str] | None = None) -> SignedRequest:
    ts = int(time.time()) if timestamp is None else timestamp
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": signature(secret, body, ts),
        **(extra_headers or {}),
    }
    return SignedRequest(body=body, headers=headers)


def slash_command(text: str, *, secret: str, command: str = "/ree", user_id: str = "U0USER",
                  channel_id: str = "C0CHANNEL", team_id: str = TEAM_ID, response_url: str = "",
                  trigger_id: str = "1.2.trigger", timestamp: int | None = None) -> SignedRequest:
    """A slash command as Slack posts it: form fields, signed."""
    form = {
        "token": "deprecated", "team_id": team_id, "team_domain": "reewatch", "channel_id": channel_id,
        "channel_name": "general", "user_id": user_id, "user_name": user_id.lower(), "command": command,
        "text": text, "api_app_id": "A0REEWATCH", "is_enterprise_install": "false",
        "response_url": response_url, "trigger_id": trigger_id,
    }
    return signed(urlencode(form), secret=secret, content_type="application/x-www-form-urlencoded",
                  timestamp=timestamp)


def block_actions(action_id: str, value: str, *, secret: str, user_id: str = "U0USER",
                  channel_id: str = "C0CHANNEL", team_id: str = TEAM_ID, response_url: str = "",
                  message_ts: str = "1700000000.000100", block_id: str = "b", ephemeral: bool = True,
                  timestamp: int | None = None) -> SignedRequest:
    """A button click (`block_actions`): one form field `payload` holding the JSON, signed."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id},
        "api_app_id": "A0REEWATCH", "token": "deprecated",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                      "is_ephemeral": ephemeral},
        "trigger_id": "1.2.trigger", "team": {"id": team_id, "domain": "reewatch"},
        "channel": {"id": channel_id, "name": "general"}, "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
                     "text": {"type": "plain_text", "text": "button"}, "action_ts": "1700000001.000200"}],
    }
    if not ephemeral:
        payload["message"] = {"ts": message_ts, "text": "", "blocks": []}
    return signed(urlencode({"payload": json.dumps(payload)}), secret=secret,
                  content_type="application/x-www-form-urlencoded", timestamp=timestamp)


def event(inner: dict[str, Any], *, secret: str, event_id: str, team_id: str = TEAM_ID,
          retry_num: int | None = None, timestamp: int | None = None) -> SignedRequest:
    """An Events API delivery (`event_callback`); `retry_num` adds Slack's retry headers."""
    body = {"token": "deprecated", "team_id": team_id, "api_app_id": "A0REEWATCH", "event": inner,
            "type": "event_callback", "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": team_id, "user_id": "U0REEBOT", "is_bot": True}]}
    extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} if retry_num else None
    return signed(json.dumps(body), secret=secret, content_type="application/json", timestamp=timestamp,
                  extra_headers=extra)


def app_home_opened(user_id: str, *, secret: str, event_id: str, retry_num: int | None = None) -> SignedRequest:
    return event({"type": "app_home_opened", "user": user_id, "channel": "D0HOME", "tab": "home",
                  "event_ts": f"{time.time():.6f}"}, secret=secret, event_id=event_id, retry_num=retry_num)
