"""Command latencies are written in batches: one pipeline per flush gives what one write each would."""

from __future__ import annotations

import redis as redis_lib

from core import metrics
from core.keys import Keys

NAME = "reewatch_command_latency_seconds"


def test_observe_many_equals_one_observe_each(redis: redis_lib.Redis, keys: Keys) -> None:
    samples = [(0.0004, {"command": "status"}), (0.003, {"command": "status"}), (9.0, {"command": "status"}),
               (0.02, {"command": "help"}), (0.0004, {"command": "status"})]
    one_by_one, batched = Keys(keys.prefix + "one:"), Keys(keys.prefix + "batch:")
    for seconds, labels in samples:
        metrics.observe(redis, one_by_one, NAME, seconds, labels)
    metrics.observe_many(redis, batched, NAME, samples)
    metrics.observe_many(redis, batched, NAME, [])  # an empty flush writes nothing
    text = metrics.render(redis, batched)
    assert text == metrics.render(redis, one_by_one)
    assert f'{NAME}_count{{command="status"}} 4' in text and f'{NAME}_count{{command="help"}} 1' in text
