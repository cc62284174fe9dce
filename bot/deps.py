"""What listeners and subcommand handlers need, built once per process by the app factory."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis as redis_lib

from core.keys import Keys
from core.redisconn import connect
from core.settings import Settings


@dataclass
class Deps:
    settings: Settings

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.redis_prefix)

    @cached_property
    def redis(self) -> redis_lib.Redis:
        if not self.settings.redis_url:
            raise RuntimeError("REDIS_URL is not set")
        return connect(self.settings.redis_url)

    @cached_property
    def rq_redis(self) -> redis_lib.Redis:
        if not self.settings.redis_url:
            raise RuntimeError("REDIS_URL is not set")
        return connect(self.settings.redis_url, decode=False)
