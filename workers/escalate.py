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
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import redis as redis_lib
from rq import Retry
from rq.job import Job

from core import metrics
from core.errors import SlackDeliveryError
from core.feeds import FeedsFile, OncallConfig, load_feeds
from core.incident_blocks import direct_page, page, page_reply, report_reply, thread_line
from core.incidents import AuditEntry, Incident, IncidentStore, State
from core.keys import Keys
from core.models import Cluster, Event, Severity
from core.oncall import OnCall, on_call, quiet_until, target
from core.oncall_store import OverrideStore
from workers import context
from workers.context import WorkerContext
from workers.enqueue import enqueue_once, queue
from workers.slack_out import SlackOut, SlackUnavailable

log = logging.getLogger(__name__)

DEFAULT_REPEAT_GAP = 300.0  # between rounds when neither repeat_after nor the last step's wait says
SWEEP_GRACE = 2.0  # seconds a due step may wait for RQ's own scheduler before `sweep` moves it
STEP_RETRY = Retry(max=3, interval=[2, 10, 30])


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


# --- policy -----------------------------------------------------------------------------------
def feeds(ctx: WorkerContext) -> FeedsFile:
    return load_feeds(ctx.settings.feeds_file)


def policy(ctx: WorkerContext) -> OncallConfig | None:
    return feeds(ctx).oncall


def current(ctx: WorkerContext, cfg: OncallConfig, now: float | None = None) -> OnCall:
    when = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return on_call(cfg.rotation, when, OverrideStore(ctx.redis, ctx.keys).active(when.timestamp()))


def triggers(ff: FeedsFile, cfg: OncallConfig, event: Event, cluster: Cluster) -> bool:
    """Does this event call for a page under `oncall.trigger`?"""
    rule = cfg.trigger
    if not severity_of(event, cluster).at_least(rule.min_severity):
        return False
    if rule.watchlist_only and not set(event.elements) & set(ff.watchlist):
        return False
    return not (rule.official_only and event.tier != "official")


def severity_of(event: Event, cluster: Cluster) -> Severity:
    sev = event.sev
    try:
        cluster_sev = Severity(cluster.severity)
    except ValueError:
        return sev
    return cluster_sev if cluster_sev.rank > sev.rank else sev


def plan(cfg: OncallConfig) -> list[tuple[int, int, float]]:
    """(step, round, seconds after the start) for every page the policy can send."""
    steps = cfg.steps
    gap = cfg.repeat_after if cfg.repeat_after is not None else (steps[-1].after or DEFAULT_REPEAT_GAP)
    out, offset = [], 0.0
    for round_ in range(cfg.repeat + 1):
        for index, step in enumerate(steps):
            offset += (steps[0].after if round_ == 0 else gap) if index == 0 else step.after
            out.append((index, round_, offset))
    return out


# --- the seam with ingestion ----------------------------------------------------------------------
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
                _enqueue_at(ctx, release, incident.id, when=held.timestamp(), job_id=_release_id(ctx, incident.id))
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
    """Enqueue every step job of the plan, timed from `start`. Idempotent: ids are deterministic."""
    count = 0
    for step, round_, offset in plan(cfg):
        job_id = step_job_id(ctx, incident_id, step, round_)
        if offset <= 0:
            q = queue(ctx.keys, "escalate", ctx.rq_redis)
            q.enqueue(page_step, incident_id, step, round_, job_id=job_id, retry=STEP_RETRY,
                      result_ttl=3600, failure_ttl=7 * 86400)
        else:
            _enqueue_at(ctx, page_step, incident_id, step, round_, when=start + offset, job_id=job_id)
        count += 1
    return count


def _enqueue_at(ctx: WorkerContext, func: object, *args: object, when: float, job_id: str) -> None:
    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    q.enqueue_at(datetime.fromtimestamp(when, UTC), func, *args, job_id=job_id, retry=STEP_RETRY,
                 result_ttl=3600, failure_ttl=7 * 86400)


def step_job_id(ctx: WorkerContext, incident_id: str, step: int, round_: int) -> str:
    return ctx.keys.job_id("inc", incident_id, "step", str(step), str(round_))


def _release_id(ctx: WorkerContext, incident_id: str) -> str:
    return ctx.keys.job_id("inc", incident_id, "release")


# --- jobs -----------------------------------------------------------------------------------------
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


def page_step(incident_id: str, step: int, round_: int) -> str:
    """Job: send one escalation step unless the incident was acknowledged, resolved, or this step
    already paged. Returns what happened (claimed, stopped, duplicate, held, missing, no_policy)."""
    ctx = context.current()
    cfg = policy(ctx)
    if cfg is None or step >= len(cfg.steps):
        return "no_policy"
    store = IncidentStore(ctx.redis, ctx.keys)
    with incident_lock(ctx, incident_id):
        who = current(ctx, cfg)
        tgt = target(cfg.steps[step].notify, who)
        rounds = cfg.repeat + 1
        note = f"step {step + 1} of {len(cfg.steps)}" + (f", round {round_ + 1} of {rounds}" if rounds > 1 else "")
        outcome = store.claim_page(incident_id, step=step, round_=round_, mention=tgt.mention,
                                   text=f"paged {tgt.mention} ({tgt.kind}, {note})")
        if outcome != "claimed":
            log.info("step not sent: %s", outcome, extra={"incident_id": incident_id, "step": step, "round": round_})
            return outcome
        incident = store.get(incident_id)
        assert incident is not None
        out = SlackOut(ctx)
        try:
            if not incident.ts:
                msg = page(incident, paging=tgt.mention, step_note=note)
                ts = out.post(incident.channel, msg.text, msg.blocks)
                store.set_message(incident_id, incident.channel_id or incident.channel, ts)
            else:
                reply = page_reply(tgt.mention, step=step, steps=len(cfg.steps), round_=round_, rounds=rounds)
                out.post(incident.channel, reply.text, reply.blocks, thread_ts=incident.ts)
        except (SlackDeliveryError, SlackUnavailable) as exc:
            store.unclaim_page(incident_id, step=step, round_=round_, error=str(exc))
            raise
        metrics.inc(ctx.redis, ctx.keys, "reewatch_pages_total", {"target": tgt.kind})
        log.info("paged %s", tgt.kind, extra={"incident_id": incident_id, "step": step, "round": round_})
        if incident.ts:
            _update_message(out, store, incident_id, paging=tgt.mention, note=note)
        if tgt.user:
            _direct(out, store, incident_id, tgt.user)
    return outcome


def post_report(incident_id: str, source: str, title: str, url: str) -> bool:
    """Job: another outlet told the same story; a thread line and the count on the page, no page."""
    ctx = context.current()
    store = IncidentStore(ctx.redis, ctx.keys)
    with incident_lock(ctx, incident_id):
        incident = store.get(incident_id)
        if incident is None or not incident.ts:
            return False  # not posted yet (held): the page will show the count
        out = SlackOut(ctx)
        msg = report_reply(source, title, url)
        out.post(incident.channel, msg.text, msg.blocks, thread_ts=incident.ts)
        _update_message(out, store, incident_id, paging=incident.last_target)
    return True


def after_transition(incident_id: str, kind: str) -> bool:
    """Job (enqueued by the ack/resolve button and commands): update the page in place, say who did it in
    the thread, and drop the step jobs that can no longer page."""
    ctx = context.current()
    store = IncidentStore(ctx.redis, ctx.keys)
    cancel_steps(ctx, incident_id)
    with incident_lock(ctx, incident_id):
        incident = store.get(incident_id)
        if incident is None or not incident.ts:
            return False
        entry = next((e for e in reversed(store.audit(incident_id)) if e.kind == kind), None)
        out = SlackOut(ctx)
        _update_message(out, store, incident_id, paging=incident.last_target)
        if entry is not None:
            line = thread_line(entry)
            out.post(incident.channel, line.text, line.blocks, thread_ts=incident.ts)
    return True


def announce(incident_id: str, kind: str, by: str, text: str, at: float) -> bool:
    """Job: an on-call change (an override) noted in an open incident's thread."""
    ctx = context.current()
    incident = IncidentStore(ctx.redis, ctx.keys).get(incident_id)
    if incident is None or not incident.ts or not incident.is_open:
        return False
    msg = thread_line(AuditEntry(at, kind, by=by, text=text))
    SlackOut(ctx).post(incident.channel, msg.text, msg.blocks, thread_ts=incident.ts)
    return True


def cancel_steps(ctx: WorkerContext, incident_id: str) -> int:
    """Delete the incident's step and release jobs still waiting; they would page nobody anyway."""
    cfg = policy(ctx)
    ids = [_release_id(ctx, incident_id)]
    if cfg is not None:
        ids += [step_job_id(ctx, incident_id, s, r) for s, r, _ in plan(cfg)]
    gone = 0
    for job_id in ids:
        if not ctx.rq_redis.exists(Job.key_for(job_id)):
            continue
        job = Job.fetch(job_id, connection=ctx.rq_redis)
        if job.get_status(refresh=False) in ("scheduled", "queued", "deferred"):
            job.delete()
            gone += 1
    return gone


def _update_message(out: SlackOut, store: IncidentStore, incident_id: str, *, paging: str, note: str = "") -> None:
    incident = store.get(incident_id)
    if incident is None or not incident.ts:
        return
    msg = page(incident, paging=paging, step_note=note)
    try:
        out.update(incident.channel_id or incident.channel, incident.ts, msg.text, msg.blocks)
    except (SlackDeliveryError, SlackUnavailable) as exc:
        # The thread already carries the news; a stale header is not worth failing the job for.
        log.warning("incident message not updated: %s", exc, extra={"incident_id": incident_id})


def _direct(out: SlackOut, store: IncidentStore, incident_id: str, user: str) -> None:
    incident = store.get(incident_id)
    if incident is None:
        return
    msg = direct_page(incident, incident.channel_id or incident.channel)
    try:
        out.post(out.open_dm(user), msg.text, msg.blocks)
    except (SlackDeliveryError, SlackUnavailable) as exc:  # the channel page went out; the DM is extra
        log.warning("page DM not sent: %s", exc, extra={"incident_id": incident_id, "user": user})


@contextmanager
def incident_lock(ctx: WorkerContext, incident_id: str) -> Iterator[None]:
    """Serialize Slack writes for one incident, so the page is posted before any thread reply."""
    lock = ctx.redis.lock(ctx.keys.incident_lock(incident_id), timeout=120, blocking_timeout=120)
    if not lock.acquire():
        raise TimeoutError(f"incident {incident_id} is busy")
    try:
        yield
    finally:
        try:
            lock.release()
        except Exception:  # expired while we worked: nothing to release
            log.debug("incident lock expired", extra={"incident_id": incident_id})


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
