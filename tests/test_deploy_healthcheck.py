"""workers.healthcheck: the container checks of the worker and scheduler, against real RQ heartbeats."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC

import pytest
import redis as redis_lib
from rq import Worker
from rq.cron import CronScheduler

from core.keys import Keys
from core.redisconn import connect
from core.settings import Settings
from workers.healthcheck import WORKER_STALE_AFTER, scheduler_alive, worker_alive
from workers.runner import make_scheduler, make_worker

HOST = socket.gethostname()


@pytest.fixture
def rq_redis(settings: Settings) -> redis_lib.Redis:
    assert settings.redis_url
    return connect(settings.redis_url, decode=False)


@pytest.fixture
def live_worker(settings: Settings) -> Iterator[Worker]:
    worker = make_worker(settings)
    worker.register_birth()  # what Worker.work() does before its loop; it also writes the first heartbeat
    yield worker
    worker.register_death()


@pytest.fixture
def live_scheduler(settings: Settings) -> Iterator[CronScheduler]:
    cron = make_scheduler(settings)
    cron.register_birth()
    cron.heartbeat()
    yield cron
    cron.register_death()


def check(settings: Settings, role: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": str(settings.redis_url), "REEWATCH_REDIS_PREFIX": settings.redis_prefix}
    return subprocess.run([sys.executable, "-m", "workers.healthcheck", role], env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_worker_with_a_fresh_heartbeat_is_alive(keys: Keys, rq_redis: redis_lib.Redis, live_worker: Worker) -> None:
    live_worker.refresh()
    assert live_worker.last_heartbeat is not None
    beat = live_worker.last_heartbeat.replace(tzinfo=live_worker.last_heartbeat.tzinfo or UTC).timestamp()
    assert worker_alive(keys, rq_redis, HOST, now=beat + 1)
    assert not worker_alive(keys, rq_redis, HOST, now=beat + WORKER_STALE_AFTER + 1)
    assert not worker_alive(keys, rq_redis, "some-other-host", now=beat + 1)
    assert not worker_alive(Keys(keys.prefix + "x:"), rq_redis, HOST, now=beat + 1)  # another deployment


def test_a_scheduler_with_a_fresh_heartbeat_is_alive(keys: Keys, rq_redis: redis_lib.Redis,
                                                     live_scheduler: CronScheduler) -> None:
    assert scheduler_alive(keys, rq_redis, HOST)
    assert not scheduler_alive(keys, rq_redis, "some-other-host")
    assert not scheduler_alive(keys, rq_redis, HOST, now=2**40)  # long after the last beat


def test_the_command_fails_without_a_heartbeat_and_passes_with_one(settings: Settings) -> None:
    before = check(settings, "worker")
    assert before.returncode == 1
    assert "no recent worker heartbeat" in before.stderr
    worker = make_worker(settings)
    worker.register_birth()
    try:
        assert check(settings, "worker").returncode == 0
    finally:
        worker.register_death()
    assert check(settings, "nonsense").returncode == 2
