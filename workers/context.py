"""The worker process's composition root: settings and Redis clients, built once per process.

RQ jobs take ids, not objects; they reach settings and stores through `current()`. A worker started
by `reewatch worker` (or a test's burst worker) installs the context before it forks work horses.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis as redis_lib

from core.keys import Keys
from core.redisconn import connect
from core.settings import Settings, load_settings


@dataclass
class WorkerContext:
    settings: Settings

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.redis_prefix)

    @cached_property
    def redis(self) -> redis_lib.Redis:
        """Text client for the project's stores."""
        return connect(self._url())

    @cached_property
    def rq_redis(self) -> redis_lib.Redis:
        """Bytes client, as RQ requires."""
        return connect(self._url(), decode=False)

    def _url(self) -> str:
        if not self.settings.redis_url:
            raise RuntimeError("REDIS_URL is not set in this worker process")
        return self.settings.redis_url


_current: WorkerContext | None = None


def install(settings: Settings) -> WorkerContext:
    global _current
    _current = WorkerContext(settings)
    return _current


def current() -> WorkerContext:
    """The installed context; a job run outside a worker builds one from the environment."""
    global _current
    if _current is None:
        _current = WorkerContext(load_settings())
    return _current
