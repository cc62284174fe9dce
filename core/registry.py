"""The feed registry: feeds.yaml plus feeds added at run time (stored in Redis).

    FeedRegistry(settings, redis, keys): all(), get(id), add(FeedConfig), remove(id)

A feed removed at run time that comes from feeds.yaml is hidden (its id is kept in a set) until it is
added again; edit feeds.yaml to remove it for good. feeds.yaml is re-read when its mtime changes; a
broken edit keeps the last good version in use (and logs why).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

import redis as redis_lib
from pydantic import ValidationError

from core.errors import ConfigError, UsageError
from core.feeds import FeedConfig, FeedsFile, load_feeds
from core.feedstate import FeedStateStore
from core.identity import link_identity
from core.keys import Keys
from core.settings import Settings

log = logging.getLogger(__name__)

_cache: dict[Path, tuple[tuple[int, int], FeedsFile]] = {}


def _static_file(path: Path) -> FeedsFile:
    try:
        stat = path.stat()
    except FileNotFoundError:
        return FeedsFile()
    cached = _cache.get(path)
    mtime = (stat.st_mtime_ns, stat.st_size)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        model = load_feeds(path)
    except ConfigError as exc:
        if cached is None:
            raise
        # A bad edit must not stop polling: keep the last good file and say so on every re-read.
        log.error("feeds file is invalid; still using its last good version", extra={"error": str(exc)})
        return cached[1]
    _cache[path] = (mtime, model)
    return model


def static_feeds(path: Path) -> list[FeedConfig]:
    """The feeds of a feeds.yaml file (none when it does not exist)."""
    return list(_static_file(path).feeds)


class FeedRegistry:
    """Every configured feed, wherever it was configured."""

    def __init__(self, settings: Settings, redis: redis_lib.Redis, keys: Keys) -> None:
        self.settings = settings
        self.redis = redis
        self.keys = keys

    def static(self) -> list[FeedConfig]:
        """Feeds of feeds.yaml (a missing file is no feeds; an invalid one raises ConfigError)."""
        return static_feeds(self.settings.feeds_file)

    def runtime(self) -> list[FeedConfig]:
        out = []
        for feed_id, raw in sorted(self.redis.hgetall(self.keys.feeds_runtime()).items()):
            try:
                out.append(FeedConfig.model_validate_json(raw))
            except ValidationError as exc:
                log.error("stored feed is invalid; skipped", extra={"feed_id": feed_id, "error": str(exc)})
        return out

    def all(self) -> list[FeedConfig]:
        """feeds.yaml entries (minus those removed at run time), then run-time feeds, ids unique."""
        removed = set(self.redis.smembers(self.keys.feeds_removed()))
        feeds = [f for f in self.static() if f.id not in removed]
        ids = {f.id for f in feeds}
        feeds += [f for f in self.runtime() if f.id not in ids]
        return feeds

    def get(self, feed_id: str) -> FeedConfig | None:
        return next((f for f in self.all() if f.id == feed_id), None)

    def is_runtime(self, feed_id: str) -> bool:
        return bool(self.redis.hexists(self.keys.feeds_runtime(), feed_id))

    def add(self, feed: FeedConfig) -> FeedConfig:
        """Add a feed at run time; UsageError when its id or its URL is already polled."""
        existing = self.all()
        if any(f.id == feed.id for f in existing):
            raise UsageError(f"a feed with id {feed.id!r} already exists")
        same = next((f for f in existing if link_identity(f.url) == link_identity(feed.url)), None)
        if same is not None:
            raise UsageError(f"{feed.url} is already polled as {same.id!r}")
        pipe = self.redis.pipeline()
        pipe.hset(self.keys.feeds_runtime(), feed.id, feed.model_dump_json())
        pipe.srem(self.keys.feeds_removed(), feed.id)
        pipe.execute()
        states = FeedStateStore(self.redis, self.keys)
        if states.get(feed.id).disabled:  # re-added by an admin: give it a fresh chance
            states.enable(feed.id)
        return feed

    def update_url(self, feed_id: str, url: str) -> bool:
        """Point a run-time feed at its new address (after a permanent redirect); False for feeds.yaml feeds."""
        raw = self.redis.hget(self.keys.feeds_runtime(), feed_id)
        if raw is None:
            return False
        feed = FeedConfig.model_validate_json(raw).model_copy(update={"url": url})
        self.redis.hset(self.keys.feeds_runtime(), feed_id, feed.model_dump_json())
        return True

    def remove(self, feed_id: str) -> bool:
        """Stop polling a feed; False when no feed has that id."""
        found = False
        if self.redis.hdel(self.keys.feeds_runtime(), feed_id):
            found = True
        if any(f.id == feed_id for f in self.static()):
            self.redis.sadd(self.keys.feeds_removed(), feed_id)
            found = True
        if found:
            self.redis.zrem(self.keys.feeds_due(), feed_id)
        return found

    def suggest_id(self, url: str, title: str | None = None) -> str:
        """A free, valid feed id derived from the title or the URL's host and path."""
        parts = urlsplit(url)
        base = title or f"{(parts.hostname or 'feed').removeprefix('www.')} {parts.path}"
        slug = re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-")[:40].strip("-") or "feed"
        taken = {f.id for f in self.all()}
        candidate, n = slug, 2
        while candidate in taken:
            candidate = f"{slug[:36]}-{n}"
            n += 1
        return candidate

