"""core.metrics: the Redis-backed registry, rendered and read back with prometheus_client's parser."""

from __future__ import annotations

from typing import Any

import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families

from core import metrics
from core.keys import Keys
from core.redisconn import connect
from core.settings import Settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, keyed by (sample name, sorted labels)."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_counters_from_two_clients_add_up(redis: redis_lib.Redis, keys: Keys, settings: Settings) -> None:
    assert settings.redis_url
    other = connect(settings.redis_url, decode=False)  # another process's client: bytes, like RQ's
    metrics.inc(redis, keys, "reewatch_polls_total", {"outcome": "ok"})
    metrics.inc(other, keys, "reewatch_polls_total", {"outcome": "ok"}, by=2)
    metrics.inc(redis, keys, "reewatch_polls_total", {"outcome": "error"})
    got = samples(metrics.render(other, keys))
    assert got[("reewatch_polls_total", (("outcome", "ok"),))] == 3
    assert got[("reewatch_polls_total", (("outcome", "error"),))] == 1
    assert families(metrics.render(redis, keys))["reewatch_polls"].type == "counter"


def test_unlabelled_counter_is_always_present(redis: redis_lib.Redis, keys: Keys) -> None:
    got = samples(metrics.render(redis, keys))
    assert got[("reewatch_slack_ratelimited_total", ())] == 0
    metrics.inc(redis, keys, "reewatch_slack_ratelimited_total")
    assert samples(metrics.render(redis, keys))[("reewatch_slack_ratelimited_total", ())] == 1


def test_histogram_buckets_are_cumulative(redis: redis_lib.Redis, keys: Keys) -> None:
    name = "reewatch_command_latency_seconds"
    for seconds in (0.004, 0.2, 0.2, 2.5, 60.0):
        metrics.observe(redis, keys, name, seconds, {"command": "status"})
    metrics.observe(redis, keys, name, 0.3, {"command": "events"})
    page = metrics.render(redis, keys)
    assert families(page)[name].type == "histogram"
    got = samples(page)

    def bucket(le: str, command: str = "status") -> float:
        return got[(f"{name}_bucket", (("command", command), ("le", le)))]

    assert bucket("0.005") == 1
    assert bucket("0.1") == 1
    assert bucket("0.25") == 3
    assert bucket("2") == 3
    assert bucket("3") == 4
    assert bucket("10") == 4
    assert bucket("+Inf") == 5  # 60 s is above every bound: only +Inf holds it
    assert got[(f"{name}_count", (("command", "status"),))] == 5
    assert got[(f"{name}_sum", (("command", "status"),))] == pytest.approx(62.904)
    assert bucket("0.25", "events") == 0
    assert bucket("0.5", "events") == 1


def test_timed_observes_even_when_the_block_raises(redis: redis_lib.Redis, keys: Keys) -> None:
    name = "reewatch_command_latency_seconds"
    with pytest.raises(RuntimeError), metrics.timed(redis, keys, name, {"command": "help"}):
        raise RuntimeError("boom")
    assert samples(metrics.render(redis, keys))[(f"{name}_count", (("command", "help"),))] == 1


def test_gauges_set_and_move(redis: redis_lib.Redis, keys: Keys) -> None:
    metrics.inc(redis, keys, "reewatch_incidents", {"state": "triggered"})
    metrics.inc(redis, keys, "reewatch_incidents", {"state": "triggered"})
    metrics.inc(redis, keys, "reewatch_incidents", {"state": "triggered"}, by=-1)
    metrics.set_gauge(redis, keys, "reewatch_incidents", 4, {"state": "acknowledged"})
    got = samples(metrics.render(redis, keys))
    assert got[("reewatch_incidents", (("state", "triggered"),))] == 1
    assert got[("reewatch_incidents", (("state", "acknowledged"),))] == 4


def test_computed_gauges_come_from_the_caller(redis: redis_lib.Redis, keys: Keys) -> None:
    page = metrics.render(redis, keys, computed={
        "reewatch_queue_depth": [({"queue": "poll"}, 3), ({"queue": "deliver"}, 0)],
        "reewatch_dead_letters": [({}, 2)],
    })
    got = samples(page)
    assert got[("reewatch_queue_depth", (("queue", "poll"),))] == 3
    assert got[("reewatch_dead_letters", ())] == 2


def test_label_values_are_escaped(redis: redis_lib.Redis, keys: Keys) -> None:
    odd = 'a "quoted"\\ value\nwith newline'
    metrics.inc(redis, keys, "reewatch_posts_total", {"outcome": odd})
    assert samples(metrics.render(redis, keys))[("reewatch_posts_total", (("outcome", odd),))] == 1


def test_prefixes_keep_deployments_apart(redis: redis_lib.Redis, keys: Keys) -> None:
    other = Keys(keys.prefix + "other:")
    metrics.inc(redis, keys, "reewatch_events_total", {"severity": "high"})
    try:
        assert ("reewatch_events_total", (("severity", "high"),)) not in samples(metrics.render(redis, other))
    finally:
        metrics.reset(redis, other)


@pytest.mark.parametrize(("call", "message"), [
    (lambda r, k: metrics.inc(r, k, "reewatch_nope_total"), "unknown metric"),
    (lambda r, k: metrics.inc(r, k, "reewatch_polls_total", {"status": "ok"}), "has no label"),
    (lambda r, k: metrics.inc(r, k, "reewatch_polls_total", by=-1), "whole numbers"),
    (lambda r, k: metrics.inc(r, k, "reewatch_polls_total", by=0.5), "whole numbers"),
    (lambda r, k: metrics.inc(r, k, "reewatch_command_latency_seconds"), "observe"),
    (lambda r, k: metrics.observe(r, k, "reewatch_polls_total", 1.0), "not a histogram"),
    (lambda r, k: metrics.set_gauge(r, k, "reewatch_polls_total", 1.0), "not a gauge"),
    (lambda r, k: metrics.set_gauge(r, k, "reewatch_queue_depth", 1.0, {"queue": "poll"}), "scrape time"),
])
def test_mistakes_are_refused(redis: redis_lib.Redis, keys: Keys, call: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call(redis, keys)


def test_a_dead_redis_does_not_break_the_counted_work(keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    dead = redis_lib.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    metrics.inc(dead, keys, "reewatch_polls_total", {"outcome": "ok"})
    metrics.observe(dead, keys, "reewatch_command_latency_seconds", 0.1)
    metrics.set_gauge(dead, keys, "reewatch_incidents", 1, {"state": "triggered"})
    assert [r.message for r in caplog.records].count("metric not recorded") == 3


def test_every_catalogued_name_is_valid_prometheus() -> None:
    for name, metric in metrics.CATALOGUE.items():
        assert name.startswith("reewatch_") and name == metric.name
        assert (metric.kind == "counter") == name.endswith("_total")
        assert (metric.kind == "histogram") == bool(metric.buckets)
        assert list(metric.buckets) == sorted(metric.buckets)
