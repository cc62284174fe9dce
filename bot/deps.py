"""What listeners and subcommand handlers need, built once per process by the app factory.

Stores are created on first use so the bot starts (and `help` answers) even when a part of the
project is not installed; every store shares one Redis client (a thread-safe connection pool).
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis as redis_lib

from core.feeds import FeedsFile, load_feeds
from core.keys import Keys
from core.redisconn import connect
from core.settings import Settings

if TYPE_CHECKING:
    from bot.telemetry import CommandTimer

log = logging.getLogger(__name__)


@dataclass
class Deps:
    settings: Settings
    _feeds: tuple[float, FeedsFile] | None = field(default=None, repr=False)
    _local: threading.local = field(default_factory=threading.local, repr=False)

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.redis_prefix)

    @cached_property
    def redis(self) -> redis_lib.Redis:
        if not self.settings.redis_url:
            raise RuntimeError("REDIS_URL is not set")
        return connect(self.settings.redis_url)

    @property
    def thread_redis(self) -> redis_lib.Redis:
        """This thread's own client on the shared pool, holding one connection for the thread's life: a
        command skips the pool's checkout (its lock, a liveness poll of the socket, bookkeeping), which
        is a third of a round trip's Python time. For the request threads' hot reads (the element card);
        a dead thread's client returns its connection to the pool when collected."""
        client: redis_lib.Redis | None = getattr(self._local, "redis", None)
        if client is None:
            client = redis_lib.Redis(connection_pool=self.redis.connection_pool, single_connection_client=True)
            self._local.redis = client
        return client

    @property
    def card_events(self) -> Any:
        """An EventStore on this thread's own client (thread_redis), for the element card."""
        store = getattr(self._local, "events", None)
        if store is None:
            from core.events import EventStore

            store = EventStore(self.thread_redis, self.keys, self.settings.retention_days * 86400)
            self._local.events = store
        return store

    @cached_property
    def rq_redis(self) -> redis_lib.Redis:
        if not self.settings.redis_url:
            raise RuntimeError("REDIS_URL is not set")
        return connect(self.settings.redis_url, decode=False)

    @cached_property
    def background(self) -> ThreadPoolExecutor:
        """Threads for work that must not delay an ack (lazy listeners, feed validation, response_url
        posts); the app's listener executor too."""
        return ThreadPoolExecutor(max_workers=8, thread_name_prefix="reewatch-bg")

    @cached_property
    def timer(self) -> CommandTimer:
        from bot.telemetry import CommandTimer

        return CommandTimer(self.redis, self.keys)

    def observe_command(self, name: str, seconds: float) -> None:
        """Record a command's latency; unknown names count as `unknown` to bound label cardinality."""
        from bot.commands import REGISTRY

        entry = REGISTRY.get(name)
        self.timer.observe(entry.name if entry else "unknown", seconds)

    def feeds_file(self) -> FeedsFile:
        """feeds.yaml, parsed once and again only when the file changes (a stat per call, no YAML)."""
        path = self.settings.feeds_file
        try:
            mtime = os.stat(path).st_mtime
        except FileNotFoundError:
            return FeedsFile()
        if self._feeds is None or self._feeds[0] != mtime:
            self._feeds = (mtime, load_feeds(path))
        return self._feeds[1]

    # --- stores (other parts of the project; see docs/ARCHITECTURE.md) ---------------------------
    @cached_property
    def events(self) -> Any:
        from core.events import EventStore

        return EventStore(self.redis, self.keys, self.settings.retention_days * 86400)

    @cached_property
    def status(self) -> Any:
        from core.status import StatusStore

        return StatusStore(self.redis, self.keys)

    @property
    def subscriptions(self) -> Any:
        """Built per use: the static routes of feeds.yaml count too, and the file may have changed."""
        from core.subscriptions import SubscriptionStore

        return SubscriptionStore(self.redis, self.keys, self.feeds_file().routes)

    @cached_property
    def feed_registry(self) -> Any:
        from core.registry import FeedRegistry

        return FeedRegistry(self.settings, self.redis, self.keys)

    @cached_property
    def feed_state(self) -> Any:
        from core.feedstate import FeedStateStore

        return FeedStateStore(self.redis, self.keys)
