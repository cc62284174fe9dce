"""The only place naming RQ queues and building job ids. Queues carry REEWATCH_REDIS_PREFIX."""

from __future__ import annotations

from typing import Any

import redis
from rq import Queue
from rq.job import Job

from core.keys import Keys

#: Work kinds, most urgent first: a worker drains them in this order.
QUEUE_NAMES = ("escalate", "deliver", "ingest", "poll")


def queue(keys: Keys, name: str, connection: redis.Redis) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(keys.queue(name), connection=connection)


def all_queues(keys: Keys, connection: redis.Redis) -> list[Queue]:
    return [queue(keys, name, connection) for name in QUEUE_NAMES]


def enqueue_once(q: Queue, func: Any, *args: Any, job_id: str, **options: Any) -> Job | None:
    """Enqueue unless a job with `job_id` is already queued, scheduled or running; returns the new job."""
    existing = Job.fetch(job_id, connection=q.connection) if q.connection.exists(Job.key_for(job_id)) else None
    if existing is not None and existing.get_status(refresh=True) in ("queued", "scheduled", "started", "deferred"):
        return None
    return q.enqueue(func, *args, job_id=job_id, **options)
