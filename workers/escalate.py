"""Escalation: open an incident for a severe story and page on-call until someone answers.

    consider(ctx, event, cluster, new_cluster) -> incident id | None      (ingest calls it per event)

Timers are RQ scheduled jobs on the `escalate` queue, one per (incident, step, round), with ids from
`Keys.job_id`, all scheduled when the incident opens (or when its quiet-hours hold is released), so
a worker killed between steps loses none: the jobs wait in Redis. None doubles: each step job claims
its (incident, step, round) in the same Lua step that checks the incident is still triggered
(IncidentStore.claim_page), so a step that runs twice, or after an ack, pages nobody.

RQ's own scheduler runs inside a worker and holds a lock for 61 s after that worker dies, and a new
worker only retries the lock every 10 minutes; `sweep`, run by `reewatch scheduler` every few seconds,
moves overdue escalation jobs to the queue so a step is late by seconds, not minutes.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import redis as redis_lib
from rq import Retry
from rq.job import Job

from core.feeds import OncallConfig
from core.incidents import Incident, IncidentStore, State
from core.keys import Keys
from core.models import Cluster, Event, Severity
from core.oncall import quiet_until
from workers import context
from workers.context import WorkerContext
from workers.enqueue import enqueue_once, queue
from workers.oncall_policy import current, feeds, plan, policy, release_job_id, severity_of, step_job_id, triggers
from workers.paging import after_transition, announce, page_step, post_report
from workers.slack_out import SlackOut

log = logging.getLogger(__name__)

SWEEP_GRACE = 2.0  # seconds a due step may wait for RQ's own scheduler before `sweep` moves it
STEP_RETRY = Retry(max=3, interval=[2, 10, 30])


def consider(ctx: WorkerContext, event: Event, cluster: Cluster, new_cluster: bool, *,
             now: float | None = None) -> str | None:
    """Open (or add to) the incident for `cluster` when `event` meets the on-call trigger; schedule its
    pages. A later report of the same story adds a thread line and never pages again. Returns the
    incident id, or None when the event does not concern on-call."""
    ff = feeds(ctx)
    cfg = ff.oncall
    if cfg is None:
        return None
    now = time.time() if now is None else now
    store = IncidentStore(ctx.redis, ctx.keys)
    existing = store.by_cluster(cluster.id)
    if existing is None:
        if not triggers(ff, cfg, event, cluster):
            return None
        critical = severity_of(event, cluster) is Severity.CRITICAL
        held = None if critical else quiet_until(cfg.quiet_hours, datetime.fromtimestamp(now, UTC))
        incident, new = store.open(event, cluster.id, channel=cfg.channel, now=now,
                                   held_until=held.timestamp() if held else 0.0)
        if new:
            log.info("incident opened", extra={"incident_id": incident.id, "cluster_id": cluster.id,
                                               "held": bool(held)})
            if held:
                store.hold(incident.id, held.timestamp(), now=now)
                _enqueue_at(ctx, release, incident.id, when=held.timestamp(), job_id=release_job_id(ctx, incident.id))
            else:
                schedule(ctx, incident.id, cfg, start=now)
            return incident.id
        existing = incident
    _add_report(ctx, store, existing, event, cluster, now)
    return existing.id


def _add_report(ctx: WorkerContext, store: IncidentStore, incident: Incident, event: Event, cluster: Cluster,
                now: float) -> None:
    if not store.add_report(incident.id, event, now=now):
        return
    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    q.enqueue(post_report, incident.id, event.source or event.feed_id, event.title, event.link,
              job_id=ctx.keys.job_id("inc", incident.id, "report", event.id), retry=STEP_RETRY,
              result_ttl=600, failure_ttl=7 * 86400)
    held = incident.held_until > now and incident.state is State.TRIGGERED
    if held and severity_of(event, cluster) is Severity.CRITICAL:
        release_now(ctx, incident.id, reason="a critical report arrived")


def schedule(ctx: WorkerContext, incident_id: str, cfg: OncallConfig, *, start: float) -> int:
    """Enqueue every step job of the plan, timed from `start`, in one round trip. Idempotent: the ids are
    deterministic, so scheduling again replaces the jobs instead of adding more."""
    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    options = {"retry": STEP_RETRY, "result_ttl": 3600, "failure_ttl": 7 * 86400}
    steps = plan(cfg)
    with ctx.rq_redis.pipeline() as pipe:
        for step, round_, offset in steps:
            job_id = step_job_id(ctx, incident_id, step, round_)
            if offset <= 0:
                q.enqueue(page_step, incident_id, step, round_, job_id=job_id, pipeline=pipe, **options)
            else:
                q.enqueue_at(datetime.fromtimestamp(start + offset, UTC), page_step, incident_id, step, round_,
                             job_id=job_id, pipeline=pipe, **options)
        pipe.execute()
    return len(steps)


def _enqueue_at(ctx: WorkerContext, func: object, *args: object, when: float, job_id: str) -> None:
    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    q.enqueue_at(datetime.fromtimestamp(when, UTC), func, *args, job_id=job_id, retry=STEP_RETRY,
                 result_ttl=3600, failure_ttl=7 * 86400)


def release(incident_id: str) -> bool:
    """Job: quiet hours are over for this incident; start its escalation. False when already released."""
    return release_now(context.current(), incident_id)


def release_now(ctx: WorkerContext, incident_id: str, *, reason: str = "quiet hours ended") -> bool:
    cfg = policy(ctx)
    store = IncidentStore(ctx.redis, ctx.keys)
    incident = store.get(incident_id)
    if cfg is None or incident is None or incident.state is not State.TRIGGERED:
        return False
    if not store.release(incident_id, reason=reason):
        return False
    log.info("incident released from hold", extra={"incident_id": incident_id, "reason": reason})
    schedule(ctx, incident_id, cfg, start=time.time())
    return True


def sweep() -> int:
    """Move escalation jobs that are overdue by more than SWEEP_GRACE from RQ's scheduled registry to the
    queue (RQ's scheduler may be locked by a dead worker). Returns how many moved."""
    ctx = context.current()
    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    registry = q.scheduled_job_registry
    moved = 0
    for job_id in registry.get_jobs_to_schedule(int(time.time() - SWEEP_GRACE)):
        job = Job.fetch(job_id, connection=ctx.rq_redis) if ctx.rq_redis.exists(Job.key_for(job_id)) else None
        if job is None or registry.remove(job) == 0:  # gone, or RQ's scheduler moved it just now
            continue
        q.enqueue_job(job)
        moved += 1
    if moved:
        log.warning("moved %d overdue escalation jobs", moved)
    return moved


def sync_usergroup() -> str | None:
    """Keep the on-call Slack user group (`oncall.usergroup`) equal to the current primary."""
    ctx = context.current()
    cfg = policy(ctx)
    if cfg is None or cfg.usergroup is None:
        return None
    who = current(ctx, cfg)
    if ctx.redis.get(ctx.keys.oncall_usergroup()) == who.primary:
        return who.primary
    SlackOut(ctx).usergroup_update(cfg.usergroup, [who.primary])
    ctx.redis.set(ctx.keys.oncall_usergroup(), who.primary)
    log.info("on-call user group now %s", who.primary, extra={"usergroup": cfg.usergroup})
    return who.primary


#: Periodic jobs for `reewatch scheduler` (workers/runner.py registers them).
CRON_JOBS: list[dict[str, object]] = [
    {"func": sweep, "queue": "escalate", "interval": 3, "result_ttl": 30, "job_timeout": 60},
    {"func": sync_usergroup, "queue": "escalate", "interval": 60, "result_ttl": 60, "job_timeout": 60},
]


def enqueue_after_transition(rq_redis: redis_lib.Redis, keys: Keys, incident_id: str, kind: str) -> None:
    """For the bot side (button, `/ree ack`): queue `after_transition`; the bot makes no Slack call for it."""
    q = queue(keys, "escalate", rq_redis)
    enqueue_once(q, after_transition, incident_id, kind, job_id=keys.job_id("inc", incident_id, kind),
                 retry=STEP_RETRY, result_ttl=600, failure_ttl=7 * 86400)


def enqueue_announce(rq_redis: redis_lib.Redis, keys: Keys, incident_id: str, *, kind: str, by: str, text: str,
                     at: float) -> None:
    """For the bot side: note an on-call change in an open incident's thread."""
    q = queue(keys, "escalate", rq_redis)
    q.enqueue(announce, incident_id, kind, by, text, at, retry=STEP_RETRY, result_ttl=600, failure_ttl=86400)
