"""The only worker-side Slack caller: slack_sdk's WebClient at SLACK_API_URL, paced per channel.

    out = SlackOut(ctx)
    ts = out.post("C123", text, blocks, thread_ts=None, metadata=None)
    out.update("C123", ts, text, blocks)
    dm = out.open_dm("U123");  out.usergroup_update("S123", ["U1", "U2"])

Errors, drawn as a tree:

    SlackDeliveryError (core.errors)   ok:false that retrying cannot fix (channel_not_found, ...)
    SlackUnavailable (here)            5xx, connection errors or 429s outlived this call's retries

Pacing: chat.postMessage to one channel is spaced to `slack_channel_rate` messages/s with bursts of
`slack_channel_burst`, using a slot reserved atomically in Redis, so every worker process on every host
shares one allowance. A 429 is still possible (other apps, Slack's own judgement); it sleeps for
Retry-After and tries again.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from core import metrics
from core.errors import ReewatchError, SlackDeliveryError
from workers.context import WorkerContext

log = logging.getLogger(__name__)

#: ok:false errors that Slack might not repeat on a second try; every other ok:false is final.
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout",
                              "ratelimited"})
#: Errors that mean the destination is broken (shown on the subscription), not the message.
DESTINATION_ERRORS = frozenset({"channel_not_found", "not_in_channel", "is_archived", "invalid_auth",
                                "not_authed", "account_inactive", "token_revoked", "missing_scope",
                                "restricted_action", "team_access_not_granted", "channel_is_archived"})

# Slot reservation (GCRA): the returned number is how long the caller waits before its slot.
# KEYS[1] pacing key; ARGV: interval seconds, burst. Redis TIME keeps hosts with skewed clocks in step.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local slot = tat - interval * (burst - 1)
local wait = slot - now
if wait < 0 then wait = 0 end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.ceil((tat + interval - now) * 1000) + 1000)
return tostring(wait)
"""


class SlackUnavailable(ReewatchError):
    """Slack could not be reached (5xx, connection, repeated 429) within this call's retries."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SlackOut:
    """Paced, retrying Slack Web API calls for workers. Thread-safe (WebClient is stateless)."""

    def __init__(self, ctx: WorkerContext, *, client: WebClient | None = None, attempts: int = 4,
                 ratelimit_attempts: int = 8, backoff: float = 0.5, max_wait: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings, self.keys, self.redis = ctx.settings, ctx.keys, ctx.redis
        token = ctx.settings.slack_bot_token.get_secret_value() if ctx.settings.slack_bot_token else None
        # retry_handlers=[]: this class owns retries, so attempts and metrics are counted in one place.
        self.client = client or WebClient(token=token, base_url=ctx.settings.slack_api_url, timeout=15,
                                          retry_handlers=[])
        self.attempts, self.ratelimit_attempts = attempts, ratelimit_attempts
        self.backoff, self.max_wait, self._sleep = backoff, max_wait, sleep
        self._reserve = self.redis.register_script(_RESERVE)

    # --- the calls ------------------------------------------------------------------------------
    def post(self, channel: str, text: str, blocks: Sequence[Mapping[str, Any]] | None = None, *,
             thread_ts: str | None = None, metadata: Mapping[str, Any] | None = None, paced: bool = True) -> str:
        """chat.postMessage, paced for `channel` (unless the caller already took a slot with
        `wait_for_slot`), links never unfurled. Returns the message ts."""
        kwargs: dict[str, Any] = {"channel": channel, "text": text, "unfurl_links": False, "unfurl_media": False}
        if blocks:
            kwargs["blocks"] = list(blocks)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if metadata:
            kwargs["metadata"] = dict(metadata)
        response = self._call("chat.postMessage", kwargs, pace=channel if paced else None, channel=channel)
        self._learn_channel_id(channel, response)
        self._count("posted")
        return str(response["ts"])

    def post_for_update(self, channel: str, text: str,
                        blocks: Sequence[Mapping[str, Any]] | None = None) -> tuple[str, str]:
        """`post` for a message that will be edited later: returns (channel id, ts), because chat.update
        takes only ids while chat.postMessage also takes names such as #ree-oncall (the incident page)."""
        ts = self.post(channel, text, blocks)
        return self.channel_id(channel), ts

    def update(self, channel: str, ts: str, text: str, blocks: Sequence[Mapping[str, Any]] | None = None,
               *, metadata: Mapping[str, Any] | None = None) -> None:
        """chat.update of one of the bot's messages."""
        kwargs: dict[str, Any] = {"channel": self.channel_id(channel), "ts": ts, "text": text,
                                  "blocks": list(blocks or [])}
        if metadata:
            kwargs["metadata"] = dict(metadata)
        self._call("chat.update", kwargs)
        self._count("updated")

    def open_dm(self, user: str) -> str:
        """The DM channel id with `user` (conversations.open)."""
        return str(self._call("conversations.open", {"users": user})["channel"]["id"])

    def usergroup_update(self, usergroup: str, users: Sequence[str]) -> None:
        """Replace the members of `usergroup` (Slack cannot empty a group this way)."""
        self._call("usergroups.users.update", {"usergroup": usergroup, "users": ",".join(users)})

    def history(self, channel: str, *, oldest: float, limit: int = 200) -> list[dict[str, Any]]:
        """Top-level messages since `oldest` with their metadata (for reconciling an interrupted post)."""
        response = self._call("conversations.history", {"channel": self.channel_id(channel), "oldest": f"{oldest:.6f}",
                                                        "limit": limit, "include_all_metadata": True})
        return list(response.get("messages") or [])

    def replies(self, channel: str, ts: str) -> list[dict[str, Any]]:
        """A thread's messages, parent first, with metadata."""
        response = self._call("conversations.replies", {"channel": self.channel_id(channel), "ts": ts, "limit": 200,
                                                        "include_all_metadata": True})
        return list(response.get("messages") or [])

    # --- channel names -----------------------------------------------------------------------------
    # feeds.yaml may name channels ("#supply-risk"). chat.postMessage accepts a name and answers with
    # the id; chat.update and conversations.* take ids only. The id learned from the first post is
    # kept in Redis (shared by every worker) and used for those calls.
    def _learn_channel_id(self, channel: str, response: Mapping[str, Any]) -> None:
        real = str(response.get("channel") or "")
        if real and real != channel and _is_name(channel):
            self.redis.hset(self.keys.channel_ids(), channel, real)

    def channel_id(self, channel: str) -> str:
        """The id for `channel` when it is a name already posted to; otherwise `channel` unchanged."""
        if not _is_name(channel):
            return channel
        return str(self.redis.hget(self.keys.channel_ids(), channel) or channel)

    # --- pacing and retries ---------------------------------------------------------------------
    def wait_for_slot(self, channel: str) -> float:
        """Reserve this channel's next posting slot and sleep until it; returns seconds waited."""
        interval = 1.0 / self.settings.slack_channel_rate
        wait = float(self._reserve(keys=[self.keys.pacing(channel)],
                                   args=[repr(interval), self.settings.slack_channel_burst]))
        if wait > 0:
            self._sleep(wait)
        return wait

    def _call(self, method: str, kwargs: dict[str, Any], *, pace: str | None = None,
              channel: str | None = None) -> dict[str, Any]:
        failures = limited = 0
        channel = channel or pace or kwargs.get("channel")
        while True:
            if pace or (limited and channel and method == "chat.postMessage"):
                self.wait_for_slot(channel or "")  # after a 429 the retry takes a fresh slot too
            try:
                response = self.client.api_call(method, json=kwargs) if method.startswith("chat.") \
                    else self.client.api_call(method, params=kwargs)
                return dict(response.data) if isinstance(response.data, dict) else {}
            except SlackApiError as exc:
                status = exc.response.status_code
                error = str(exc.response.get("error") or f"http_{status}")
                if status == 429:
                    limited += 1
                    self._ratelimited(method, channel)
                    if limited >= self.ratelimit_attempts:
                        raise SlackUnavailable("ratelimited") from None
                    self._sleep(min(self.max_wait, _retry_after(exc.response.headers)))
                    continue
                if status < 500 and error not in TRANSIENT_ERRORS:
                    self._count("failed")
                    log.warning("slack refused %s: %s", method, error, extra={"channel": channel})
                    raise SlackDeliveryError(error) from None
                reason = error
            except (SlackClientError, URLError, OSError) as exc:
                reason = f"connection: {type(exc).__name__}"
            failures += 1
            if failures >= self.attempts:
                raise SlackUnavailable(reason)
            self._count("retried")
            delay = min(self.max_wait, self.backoff * 2 ** (failures - 1)) * (0.5 + random.random() / 2)
            log.info("slack %s failed (%s), retrying in %.2fs", method, reason, delay,
                     extra={"channel": channel})
            self._sleep(delay)

    def _ratelimited(self, method: str, channel: str | None) -> None:
        log.info("slack rate limited %s", method, extra={"channel": channel})
        metrics.inc(self.redis, self.keys, "reewatch_slack_ratelimited_total")

    def _count(self, outcome: str) -> None:
        metrics.inc(self.redis, self.keys, "reewatch_posts_total", {"outcome": outcome})


def _is_name(channel: str) -> bool:
    return channel.startswith("#")


def _retry_after(headers: Mapping[str, Any]) -> float:
    """Seconds from a Retry-After header (Slack sends whole seconds); 1 when absent or odd."""
    raw = headers.get("Retry-After") or headers.get("retry-after")
    if isinstance(raw, list):
        raw = raw[0] if raw else None
    try:
        value = float(raw) if raw is not None else 1.0
    except ValueError:
        return 1.0
    return value if math.isfinite(value) and value >= 0 else 1.0
