"""Building the RQ worker and RQ's cron scheduler for this deployment's prefixed queues."""

from __future__ import annotations

import logging
import os
import socket

from rq import Worker
from rq.cron import CronScheduler

from core.feeds import load_feeds
from core.settings import Settings
from workers import context
from workers.enqueue import all_queues, queue
from workers.tasks import tick

log = logging.getLogger(__name__)


def make_worker(settings: Settings) -> Worker:
    """An RQ worker on every project queue, most urgent first, with the worker context installed."""
    ctx = context.install(settings)
    name = f"{settings.redis_prefix}{socket.gethostname()}.{os.getpid()}".replace(":", "-")
    return Worker(all_queues(ctx.keys, ctx.rq_redis), connection=ctx.rq_redis, name=name)


def tick_interval(settings: Settings) -> int:
    """How often the scheduler looks for due feeds: often enough for the shortest poll interval."""
    feeds = [f for f in load_feeds(settings.feeds_file).feeds if f.enabled]
    shortest = min((f.interval for f in feeds), default=60.0)
    return max(1, min(30, int(shortest)))


def make_scheduler(settings: Settings) -> CronScheduler:
    """RQ's cron scheduler with the project's periodic jobs registered."""
    ctx = context.install(settings)
    name = f"{settings.redis_prefix}cron.{socket.gethostname()}.{os.getpid()}".replace(":", "-")
    cron = CronScheduler(connection=ctx.rq_redis, name=name, logging_level=settings.log_level.upper())
    cron.register(tick, queue_name=queue(ctx.keys, "poll", ctx.rq_redis).name,
                  interval=tick_interval(settings), result_ttl=30, job_timeout=60)
    for extra in _extra_cron_jobs():
        queue_name = queue(ctx.keys, str(extra.pop("queue")), ctx.rq_redis).name
        cron.register(**extra, queue_name=queue_name)  # type: ignore[arg-type]
    return cron


def _extra_cron_jobs() -> list[dict[str, object]]:
    """Periodic jobs that other modules declare (digests, status expiry) as `CRON_JOBS` lists."""
    jobs: list[dict[str, object]] = []
    for module_name in ("workers.deliver", "workers.escalate"):
        try:
            module = __import__(module_name, fromlist=["CRON_JOBS"])
        except ImportError:
            continue
        jobs += [dict(job) for job in getattr(module, "CRON_JOBS", [])]
    return jobs
