"""Shared by benchmarks: a Redis to measure against (REDIS_URL, else an embedded Valkey)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from core.keys import Keys
from core.redisconn import connect, delete_deployment, embedded_valkey
from core.settings import Settings


@contextmanager
def bench_settings(**overrides: object) -> Iterator[Settings]:
    """Settings on a real Redis with a throw-away prefix, cleaned afterwards."""
    url = os.environ.get("REDIS_URL")
    with (_nothing(url) if url else embedded_valkey()) as live_url:
        prefix = f"rwbench{uuid.uuid4().hex[:8]}:"
        settings = Settings(_env_file=None, redis_url=live_url, redis_prefix=prefix,  # type: ignore[call-arg]
                            allow_private_networks=True, **overrides)
        try:
            yield settings
        finally:
            delete_deployment(connect(live_url), Keys(prefix))


@contextmanager
def _nothing(url: str) -> Iterator[str]:
    yield url
