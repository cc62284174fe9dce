"""Building the RQ worker and RQ's cron scheduler for this deployment's prefixed queues."""

from __future__ import annotations

import logging
import os
import socket

import redis as redis_lib
from rq import Worker
from rq.cron import CronScheduler

from core.keys import Keys
from core.registry import FeedRegistry
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


#: The slowest the scheduler looks for due feeds: a feed added at run time with a short interval
#: waits at most this long, and a tick (one cheap job) every few seconds costs nothing noticeable.
MAX_TICK_SECONDS = 5


def tick_interval(settings: Settings, redis: redis_lib.Redis, keys: Keys) -> int:
    """How often the scheduler looks for due feeds: often enough for the shortest poll interval of
    feeds.yaml and of feeds added at run time."""
    feeds = [f for f in FeedRegistry(settings, redis, keys).all() if f.enabled]
    shortest = min((f.interval for f in feeds), default=float(MAX_TICK_SECONDS))
    return max(1, min(MAX_TICK_SECONDS, int(shortest)))


def make_scheduler(settings: Settings) -> CronScheduler:
    """RQ's cron scheduler with the project's periodic jobs registered."""
    ctx = context.install(settings)
    name = f"{settings.redis_prefix}cron.{socket.gethostname()}.{os.getpid()}".replace(":", "-")
    cron = CronScheduler(connection=ctx.rq_redis, name=name, logging_level=settings.log_level.upper())
    # Named with the prefix: RQ keeps each cron job's history under rq:cron_job:<name>:jobs, which
    # would otherwise be shared by every deployment on the same Redis.
    cron.register(tick, queue_name=queue(ctx.keys, "poll", ctx.rq_redis).name, name=_cron_name(settings, tick),
                  interval=tick_interval(settings, ctx.redis, ctx.keys), result_ttl=30, job_timeout=60)
    for extra in _extra_cron_jobs():
        queue_name = queue(ctx.keys, str(extra.pop("queue")), ctx.rq_redis).name
        func = extra["func"]
        cron.register(**extra, queue_name=queue_name, name=_cron_name(settings, func))  # type: ignore[arg-type]
    return cron


def _cron_name(settings: Settings, func: object) -> str:
    return f"{settings.redis_prefix}{getattr(func, '__module__', '')}.{getattr(func, '__name__', 'job')}"


def _extra_cron_jobs() -> list[dict[str, object]]:
    """Periodic jobs that modules declare as `CRON_JOBS` lists (status refresh, delivery sweeps and
    digests, escalation sweeps and user-group sync)."""
    from workers import deliver, escalate, tasks

    return [dict(job) for module in (tasks, deliver, escalate) for job in module.CRON_JOBS]
