"""RQ entry points: thin functions that take ids, reach the stores through the worker context, and
hand the work to the module that owns it. Each is idempotent: RQ may run a job twice.
"""

from __future__ import annotations

import logging
import time

from workers import context
from workers.enqueue import enqueue_once, queue

log = logging.getLogger(__name__)

#: Feeds polled by one job: RQ's per-job cost is paid per batch, not per feed.
POLL_BATCH = 25


def tick() -> int:
    """Scheduler heartbeat: enqueue a poll job for each batch of due feeds. Returns feeds enqueued.

    Feeds come from the registry (feeds.yaml plus feeds added at run time); each feed's next due time
    (interval, server freshness or failure backoff, set by the pipeline) lives in `Keys.feeds_due`.
    An enqueued feed is leased until the poll would have timed out, so a slow queue is not flooded
    with repeat polls, and a lost job is retried when the lease runs out.
    """
    from core.registry import FeedRegistry

    ctx = context.current()
    feeds = [f for f in FeedRegistry(ctx.settings, ctx.redis, ctx.keys).all() if f.enabled]
    now = time.time()
    due_key = ctx.keys.feeds_due()
    known = {f.id for f in feeds}
    pipe = ctx.redis.pipeline()
    for feed in feeds:
        pipe.zadd(due_key, {feed.id: now}, nx=True)  # a new feed is due at once
    pipe.zrangebyscore(due_key, "-inf", now)
    due = sorted(fid for fid in pipe.execute()[-1] if fid in known)
    if not due:
        return 0
    lease = now + ctx.settings.fetch_timeout * 3 + 120
    ctx.redis.zadd(due_key, dict.fromkeys(due, lease), xx=True)
    q = queue(ctx.keys, "poll", ctx.rq_redis)
    for start in range(0, len(due), POLL_BATCH):
        batch = due[start:start + POLL_BATCH]
        enqueue_once(q, poll_batch, batch, job_id=ctx.keys.job_id("poll", *batch[:3], str(len(batch))),
                     result_ttl=60, failure_ttl=86400, job_timeout=300)
    return len(due)


def poll_batch(feed_ids: list[str]) -> dict[str, str]:
    """Poll these feeds now (concurrently, one lock per feed). Returns feed id -> outcome."""
    from workers.pipeline import poll_feeds

    outcomes: dict[str, str] = poll_feeds(context.current(), feed_ids)
    return outcomes


def refresh_statuses(now: float | None = None) -> int:
    """Re-derive every element's level as time passes: stories age out, overrides expire, suspensions
    run out. Each change is posted like one caused by a story. Returns the number of changes."""
    from core.elements import catalogue
    from core.status import StatusStore
    from workers.deliver import route_status_change

    ctx = context.current()
    store = StatusStore(ctx.redis, ctx.keys, retention_seconds=ctx.settings.retention_days * 86400)
    changes = store.recompute(list(catalogue()), now=now)
    for change in changes:
        route_status_change(ctx, change)
    return len(changes)


#: Periodic jobs of this module, registered by workers.runner.make_scheduler.
CRON_JOBS: list[dict[str, object]] = [
    {"func": refresh_statuses, "queue": "ingest", "interval": 600, "result_ttl": 60, "job_timeout": 120},
]
