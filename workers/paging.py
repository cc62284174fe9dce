"""The escalation jobs that write to Slack: a step's page, a later report's thread line, the page updated
after an ack or resolve, and on-call notices. All run on the `escalate` queue; one incident's writes are
serialized by a short Redis lock so the page is always posted before any reply in its thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from core import metrics
from core.errors import SlackDeliveryError
from core.incident_blocks import direct_page, page, page_reply, report_reply, thread_line
from core.incidents import AuditEntry, IncidentStore
from core.oncall import target
from workers import context
from workers.context import WorkerContext
from workers.oncall_policy import cancel_steps, current, policy
from workers.slack_out import SlackOut, SlackUnavailable

log = logging.getLogger(__name__)


def page_step(incident_id: str, step: int, round_: int) -> str:
    """Job: send one escalation step unless the incident was acknowledged, resolved, or this step
    already paged. Returns what happened (claimed, channel_failed, stopped, duplicate, held, missing,
    no_policy)."""
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
                # The id Slack answers with, not the configured name: chat.update accepts only ids.
                channel_id, ts = out.post_for_update(incident.channel, msg.text, msg.blocks)
                store.set_message(incident_id, channel_id, ts)
            else:
                reply = page_reply(tgt.mention, step=step, steps=len(cfg.steps), round_=round_, rounds=rounds)
                out.post(incident.channel_id or incident.channel, reply.text, reply.blocks, thread_ts=incident.ts)
        except SlackUnavailable as exc:  # Slack is down or busy: free the claim, RQ retries the step
            store.unclaim_page(incident_id, step=step, round_=round_, error=str(exc))
            raise
        except SlackDeliveryError as exc:
            # A broken channel (not found, bot not in it, archived) will not heal on a retry; the page
            # goes straight to a person instead, so a misconfigured channel never silences on-call.
            person = tgt.user or who.primary
            log.error("escalation channel failed: %s; paging %s by DM", exc.error, person,
                      extra={"incident_id": incident_id, "channel": incident.channel})
            store.add_audit(incident_id, AuditEntry(time.time(), "page_failed", step=step, round=round_,
                                                    text=f"{incident.channel} refused the page ({exc.error}); "
                                                         f"sent to <@{person}> by DM"))
            _direct(out, store, incident_id, person, problem=exc.error)
            metrics.inc(ctx.redis, ctx.keys, "reewatch_pages_total", {"target": "dm_fallback"})
            return "channel_failed"
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
        out.post(incident.channel_id or incident.channel, msg.text, msg.blocks, thread_ts=incident.ts)
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
            out.post(incident.channel_id or incident.channel, line.text, line.blocks, thread_ts=incident.ts)
    return True


def announce(incident_id: str, kind: str, by: str, text: str, at: float) -> bool:
    """Job: an on-call change (an override) noted in an open incident's thread."""
    ctx = context.current()
    incident = IncidentStore(ctx.redis, ctx.keys).get(incident_id)
    if incident is None or not incident.ts or not incident.is_open:
        return False
    msg = thread_line(AuditEntry(at, kind, by=by, text=text))
    SlackOut(ctx).post(incident.channel_id or incident.channel, msg.text, msg.blocks, thread_ts=incident.ts)
    return True


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


def _direct(out: SlackOut, store: IncidentStore, incident_id: str, user: str, *, problem: str = "") -> None:
    incident = store.get(incident_id)
    if incident is None:
        return
    msg = direct_page(incident, incident.channel_id or incident.channel, problem=problem)
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
