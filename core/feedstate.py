"""Per-feed poll state in Redis and the policy that reads it: backoff, freshness, auto-disable.

    FeedStateStore(redis, keys).get(feed_id) -> FeedState

One hash per feed (`Keys.feed_state`) holds validators, body hash, last success, consecutive
failures, when the current run of failures began, the error, the disabled flag and reason, and the
next due time, which is mirrored in the `Keys.feeds_due` sorted set the scheduler reads.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import redis as redis_lib

from core.keys import Keys
from core.settings import Settings

ErrorClass = Literal["client", "server"]
#: Fewest consecutive failures before a feed can be disabled for a long run of errors.
MIN_FAILURES_TO_DISABLE = 3
_CLIENT_REASONS = frozenset({"blocked_address", "bad_url", "too_large", "bad_encoding", "redirect_loop",
                             "too_many_redirects", "bad_redirect", "not_a_feed"})


@dataclass(slots=True)
class FeedState:
    """What the last polls of one feed left behind. Times are Unix seconds."""

    feed_id: str
    url: str | None = None  # the new address after a permanent redirect...
    moved_from: str | None = None  # ...of this configured URL (a later edit of feeds.yaml wins)
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    seeded: bool = False
    last_attempt: float | None = None
    last_success: float | None = None
    last_new: float | None = None
    failures: int = 0
    failing_since: float | None = None
    last_error: str | None = None
    last_error_reason: str | None = None
    disabled: bool = False
    disabled_reason: str | None = None
    disabled_at: float | None = None
    next_due: float | None = None

    @property
    def healthy(self) -> bool:
        return not self.disabled and self.failures == 0

    def effective_url(self, configured: str) -> str:
        """Where to fetch: the permanent-redirect target, unless the configured URL changed since."""
        return self.url if self.url and self.moved_from == configured else configured


_FLOATS = {"last_attempt", "last_success", "last_new", "failing_since", "disabled_at", "next_due"}
_BOOLS = {"seeded", "disabled"}


def _decode(feed_id: str, raw: Mapping[Any, Any]) -> FeedState:
    state = FeedState(feed_id)
    for f in fields(FeedState):
        value = raw.get(f.name)
        if value is None or f.name == "feed_id":
            continue
        value = str(value)
        if f.name in _FLOATS:
            setattr(state, f.name, float(value))
        elif f.name in _BOOLS:
            setattr(state, f.name, value == "1")
        elif f.name == "failures":
            state.failures = int(value)
        else:
            setattr(state, f.name, value)
    return state


def error_class(reason: str, status: int | None) -> ErrorClass:
    """Client errors (4xx, not a feed, refused) will not fix themselves; server and network ones may."""
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return "client"
    return "client" if reason in _CLIENT_REASONS else "server"


def success_delay(interval: float, fresh_for: float | None, cache_max: float) -> float:
    """Wait after a good poll: the feed's interval, longer if the server says its copy stays fresh (bounded)."""
    if fresh_for is None or fresh_for <= interval:
        return interval
    return max(interval, min(fresh_for, cache_max))


def backoff_delay(interval: float, failures: int, cap: float, retry_after: float | None = None,
                  cache_max: float = 3600.0) -> float:
    """Exponential backoff: interval * 2^failures, capped; Retry-After honoured within `cache_max`."""
    delay = min(max(cap, interval), interval * 2.0 ** min(failures, 30))
    if retry_after is not None:
        delay = max(delay, min(retry_after, max(cache_max, interval)))
    return delay


def disable_reason(state: FeedState, *, reason: str, status: int | None, message: str, now: float,
                   settings: Settings) -> str | None:
    """Why the feed should be disabled after this (already counted) failure, or None to keep polling."""
    if reason == "gone" or status == 410:
        return "the publisher removed this feed (HTTP 410 Gone)"
    if state.failures < MIN_FAILURES_TO_DISABLE or state.failing_since is None:
        return None
    limit = settings.feed_disable_4xx_after if error_class(reason, status) == "client" \
        else settings.feed_disable_5xx_after
    failing_for = now - state.failing_since
    if failing_for >= limit:
        return f"failing for {failing_for / 86400:.1f} days ({state.failures} polls in a row); last error: {message}"
    return None


class FeedStateStore:
    """Reads and writes feed state; every write that moves the next due time updates `feeds_due` too."""

    def __init__(self, redis: redis_lib.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    def get(self, feed_id: str) -> FeedState:
        return _decode(feed_id, self.redis.hgetall(self.keys.feed_state(feed_id)))

    def get_many(self, feed_ids: list[str]) -> dict[str, FeedState]:
        pipe = self.redis.pipeline(transaction=False)
        for feed_id in feed_ids:
            pipe.hgetall(self.keys.feed_state(feed_id))
        return {fid: _decode(fid, raw) for fid, raw in zip(feed_ids, pipe.execute(), strict=True)}

    def _write(self, feed_id: str, values: dict[str, str | float | int | None], next_due: float | None = None) -> None:
        key = self.keys.feed_state(feed_id)
        pipe = self.redis.pipeline()
        present = {k: (int(v) if isinstance(v, bool) else v) for k, v in values.items() if v is not None}
        absent = [k for k, v in values.items() if v is None]
        if next_due is not None:
            present["next_due"] = next_due
            pipe.zadd(self.keys.feeds_due(), {feed_id: next_due})
        if present:
            pipe.hset(key, mapping=present)  # type: ignore[arg-type]
        if absent:
            pipe.hdel(key, *absent)
        pipe.execute()

    def record_success(self, feed_id: str, *, now: float, next_due: float, etag: str | None = None,
                       last_modified: str | None = None, body_hash: str | None = None,
                       title: str | None = None, url: str | None = None, moved_from: str | None = None,
                       new_items: bool = False) -> None:
        """A poll that reached the feed (200 or 304): clear the failure run, keep validators."""
        values: dict[str, str | float | int | None] = {
            "last_attempt": now, "last_success": now, "failures": 0, "failing_since": None,
            "last_error": None, "last_error_reason": None, "seeded": 1,
        }
        for name, value in (("etag", etag), ("last_modified", last_modified), ("body_hash", body_hash),
                            ("title", title), ("url", url), ("moved_from", moved_from)):
            if value:
                values[name] = value
        if new_items:
            values["last_new"] = now
        self._write(feed_id, values, next_due)

    def record_failure(self, feed_id: str, *, now: float, reason: str, message: str, next_due: float,
                       counted: bool = True) -> FeedState:
        """Store the error and, when `counted`, extend the failure run. Returns the updated state."""
        key = self.keys.feed_state(feed_id)
        values: dict[str, str | float | int | None] = {
            "last_attempt": now, "last_error": message[:500], "last_error_reason": reason}
        if counted:
            pipe = self.redis.pipeline()
            pipe.hincrby(key, "failures", 1)
            pipe.hsetnx(key, "failing_since", now)
            pipe.execute()
        self._write(feed_id, values, next_due)
        return self.get(feed_id)

    def disable(self, feed_id: str, reason: str, *, now: float | None = None) -> bool:
        """Disable the feed; True only for the call that disabled it (so it is announced once)."""
        now = time.time() if now is None else now
        key = self.keys.feed_state(feed_id)
        if not self.redis.hsetnx(key, "disabled_at", now):
            return False
        pipe = self.redis.pipeline()
        pipe.hset(key, mapping={"disabled": 1, "disabled_reason": reason[:500], "next_due": "inf"})
        pipe.zadd(self.keys.feeds_due(), {feed_id: float("inf")})  # stays known, never due
        pipe.execute()
        return True

    def enable(self, feed_id: str, *, now: float | None = None) -> None:
        """Re-enable a disabled feed and make it due now (an admin fixed it, or re-added it)."""
        now = time.time() if now is None else now
        self._write(feed_id, {"disabled": None, "disabled_reason": None, "disabled_at": None,
                              "failures": 0, "failing_since": None}, next_due=now)

    def set_due(self, feed_id: str, when: float) -> None:
        self._write(feed_id, {}, next_due=when)

    def due(self, now: float | None = None) -> list[str]:
        """Feed ids whose next due time has come."""
        now = time.time() if now is None else now
        return [str(fid) for fid in self.redis.zrangebyscore(self.keys.feeds_due(), "-inf", now)]

    def forget(self, feed_id: str) -> None:
        """Drop all state of a removed feed."""
        pipe = self.redis.pipeline()
        pipe.delete(self.keys.feed_state(feed_id))
        pipe.zrem(self.keys.feeds_due(), feed_id)
        pipe.execute()
