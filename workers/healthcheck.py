"""Container health checks for the roles that serve no HTTP: `python -m workers.healthcheck worker|scheduler`.

Healthy means this host's worker (or scheduler) sent RQ a heartbeat lately, which proves its loop
runs, not merely that the process exists. Exit 0 healthy, 1 not (one line on stderr says why).
Names follow workers.runner: workers `{prefix}{host}.{pid}`, schedulers `{prefix}cron.{host}.{pid}`,
with ':' spelled '-'.
"""

from __future__ import annotations

import socket
import sys
import time
from datetime import UTC

import redis as redis_lib
from rq import Worker, cron_scheduler_registry

from core.keys import Keys
from core.redisconn import connect
from core.settings import load_settings
from workers.enqueue import QUEUE_NAMES, queue

#: RQ workers beat at least every worker_ttl (420 s by default) minus a margin, also while a job runs.
WORKER_STALE_AFTER = 480.0
#: RQ's cron scheduler beats after every sleep, and sleeps at most a minute.
SCHEDULER_STALE_AFTER = 180.0


def worker_alive(keys: Keys, rq_redis: redis_lib.Redis, host: str, now: float | None = None) -> bool:
    """True when a worker of this deployment on `host` has a fresh heartbeat."""
    now = time.time() if now is None else now
    mine = f"{keys.prefix}{host}.".replace(":", "-")
    for worker in Worker.all(connection=rq_redis, queue=queue(keys, QUEUE_NAMES[-1], rq_redis)):
        beat = worker.last_heartbeat
        if not worker.name.startswith(mine) or beat is None:
            continue
        beat = beat if beat.tzinfo else beat.replace(tzinfo=UTC)  # RQ stores naive UTC
        if now - beat.timestamp() <= WORKER_STALE_AFTER:
            return True
    return False


def scheduler_beats(keys: Keys, rq_redis: redis_lib.Redis, host: str = "") -> list[float]:
    """Last heartbeat (epoch seconds) of each scheduler of this deployment, on `host` when given."""
    mine = f"{keys.prefix}cron.{host + '.' if host else ''}".replace(":", "-")
    registry: list[tuple[bytes | str, float]] = rq_redis.zrange(  # type: ignore[assignment]
        cron_scheduler_registry.get_registry_key(), 0, -1, withscores=True)
    return [float(score) for name, score in registry
            if (name.decode() if isinstance(name, bytes) else name).startswith(mine)]


def scheduler_alive(keys: Keys, rq_redis: redis_lib.Redis, host: str, now: float | None = None) -> bool:
    """True when a scheduler of this deployment on `host` has a fresh heartbeat."""
    now = time.time() if now is None else now
    return any(now - beat <= SCHEDULER_STALE_AFTER for beat in scheduler_beats(keys, rq_redis, host))


def main(argv: list[str]) -> int:
    checks = {"worker": worker_alive, "scheduler": scheduler_alive}
    if len(argv) != 1 or argv[0] not in checks:
        print("usage: python -m workers.healthcheck worker|scheduler", file=sys.stderr)
        return 2
    settings = load_settings()
    if not settings.redis_url:
        print("unhealthy: REDIS_URL is not set", file=sys.stderr)
        return 1
    host = socket.gethostname()
    try:
        alive = checks[argv[0]](Keys(settings.redis_prefix), connect(settings.redis_url, decode=False), host)
    except redis_lib.RedisError as exc:
        print(f"unhealthy: Redis unreachable ({exc})", file=sys.stderr)
        return 1
    if not alive:
        print(f"unhealthy: no recent {argv[0]} heartbeat from {host}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
