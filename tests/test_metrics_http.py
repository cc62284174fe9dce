"""workers.metrics_http: queue gauges from real RQ queues, and the worker's /metrics endpoint over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta

import httpx
import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.keys import Keys
from core.redisconn import connect
from core.settings import Settings
from workers.enqueue import QUEUE_NAMES, queue
from workers.metrics_http import MetricsServer, queue_samples, scrape, start_metrics_server

Sample = tuple[str, tuple[tuple[str, str], ...]]


def samples(text: str) -> dict[Sample, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


@pytest.fixture
def rq_redis(settings: Settings) -> redis_lib.Redis:
    assert settings.redis_url
    return connect(settings.redis_url, decode=False)


@pytest.fixture
def server(settings: Settings) -> Iterator[MetricsServer]:
    started = start_metrics_server(settings, port=0, host="127.0.0.1")
    assert started is not None
    yield started
    started.stop()


def test_queue_depth_age_and_failures_come_from_rq(keys: Keys, rq_redis: redis_lib.Redis) -> None:
    poll = queue(keys, "poll", rq_redis)
    first = poll.enqueue("builtins.len", [1, 2])
    poll.enqueue("builtins.len", [3])
    queue(keys, "deliver", rq_redis).enqueue("builtins.len", [4])
    assert first.enqueued_at is not None
    later = first.enqueued_at.replace(tzinfo=UTC) + timedelta(seconds=90)

    got = queue_samples(keys, rq_redis, now=later)

    depth = {labels["queue"]: value for labels, value in got["reewatch_queue_depth"]}
    age = {labels["queue"]: value for labels, value in got["reewatch_queue_oldest_age_seconds"]}
    assert depth == {"escalate": 0, "deliver": 1, "ingest": 0, "poll": 2}
    assert age["poll"] == pytest.approx(90, abs=0.01)  # the oldest job is the head, not the newest
    assert age["escalate"] == 0 and age["ingest"] == 0
    assert {labels["queue"] for labels, _ in got["reewatch_queue_failed"]} == set(QUEUE_NAMES)


def test_failed_jobs_are_counted(keys: Keys, rq_redis: redis_lib.Redis, burst_worker: Callable[[], bool]) -> None:
    queue(keys, "ingest", rq_redis).enqueue("math.sqrt", -1)  # ValueError in a real worker
    burst_worker()
    failed = {labels["queue"]: value for labels, value in queue_samples(keys, rq_redis)["reewatch_queue_failed"]}
    assert failed["ingest"] == 1
    assert failed["poll"] == 0


@pytest.mark.parametrize("kind", ["list", "zset", "hash"])
def test_dead_letters_are_counted_whatever_their_type(redis: redis_lib.Redis, rq_redis: redis_lib.Redis,
                                                      keys: Keys, kind: str) -> None:
    key = keys.dead_letters()
    for i in range(3):
        if kind == "list":
            redis.rpush(key, f"letter-{i}")
        elif kind == "zset":
            redis.zadd(key, {f"letter-{i}": i})
        else:
            redis.hset(key, f"letter-{i}", "{}")
    assert samples(scrape(redis, rq_redis, keys))[("reewatch_dead_letters", ())] == 3


def test_the_endpoint_serves_the_whole_deployment(server: MetricsServer, redis: redis_lib.Redis,
                                                  rq_redis: redis_lib.Redis, keys: Keys) -> None:
    # written by "another process": a different client on the same Redis
    metrics.inc(redis, keys, "reewatch_posts_total", {"outcome": "posted"}, by=5)
    queue(keys, "escalate", rq_redis).enqueue("builtins.len", [1])

    reply = httpx.get(f"http://127.0.0.1:{server.port}/metrics")

    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    got = samples(reply.text)
    assert got[("reewatch_posts_total", (("outcome", "posted"),))] == 5
    assert got[("reewatch_queue_depth", (("queue", "escalate"),))] == 1
    assert got[("reewatch_dead_letters", ())] == 0


def test_health_readiness_and_unknown_paths(server: MetricsServer) -> None:
    base = f"http://127.0.0.1:{server.port}"
    assert httpx.get(f"{base}/healthz").json() == {"ok": True}
    assert httpx.get(f"{base}/readyz").json()["redis"] == "ok"
    assert httpx.get(f"{base}/nope").status_code == 404


def test_a_taken_port_is_a_warning_not_a_crash(settings: Settings, server: MetricsServer,
                                               caplog: pytest.LogCaptureFixture) -> None:
    assert start_metrics_server(settings, port=server.port, host="127.0.0.1") is None
    assert any("already in use" in r.message for r in caplog.records)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_reewatch_worker_serves_metrics_when_the_port_is_set(settings: Settings, redis: redis_lib.Redis,
                                                             keys: Keys) -> None:
    port = _free_port()
    metrics.inc(redis, keys, "reewatch_polls_total", {"outcome": "ok"})
    env = {**os.environ, "REDIS_URL": str(settings.redis_url), "REEWATCH_REDIS_PREFIX": keys.prefix,
           "REEWATCH_FEEDS_FILE": str(settings.feeds_file), "REEWATCH_METRICS_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        page = _wait_for_page(f"http://127.0.0.1:{port}/metrics", proc)
        assert samples(page)[("reewatch_polls_total", (("outcome", "ok"),))] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_for_page(url: str, proc: subprocess.Popen[bytes]) -> str:
    """Wait until the process listens (it has to import and connect first); fail if it exits."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"worker exited {proc.returncode}: {err}")
        try:
            reply = httpx.get(url, timeout=2)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if reply.status_code == 200:
            return reply.text
    raise AssertionError("the worker never served /metrics")


def test_workers_and_the_scheduler_heartbeat_are_reported(settings: Settings, keys: Keys,
                                                          rq_redis: redis_lib.Redis) -> None:
    from rq import cron_scheduler_registry

    from workers.healthcheck import SCHEDULER_STALE_AFTER
    from workers.metrics_http import process_samples
    from workers.runner import make_scheduler, make_worker

    def got(now: float | None = None) -> dict[str, float]:
        return {name: values[0][1] for name, values in process_samples(keys, rq_redis, now=now).items()}

    before = got()
    assert before["reewatch_workers"] == 0
    assert before["reewatch_schedulers"] == 0
    assert before["reewatch_scheduler_heartbeat_age_seconds"] == float("inf")

    worker, cron = make_worker(settings), make_scheduler(settings)
    worker.register_birth()
    cron.register_birth()  # what CronScheduler.start() does first, without its endless loop
    cron.heartbeat()
    try:
        beat = rq_redis.zscore(cron_scheduler_registry.get_registry_key(), cron.name)
        assert beat is not None
        alive = got(now=beat + 5)
        assert alive["reewatch_workers"] == 1
        assert alive["reewatch_schedulers"] == 1
        assert alive["reewatch_scheduler_heartbeat_age_seconds"] == pytest.approx(5)
        stale = got(now=beat + SCHEDULER_STALE_AFTER + 1)
        assert stale["reewatch_schedulers"] == 0  # a scheduler that stopped beating is not counted
    finally:
        worker.register_death()
        cron.register_death()
