"""Delivery: events to the channels that asked, once each, threaded by story; status changes; feed
notices; dead letters and their replay. Digests live in workers/digests.py.

    route(ctx, event, cluster, new_cluster) -> int      channels that will get the event
    route_status_change(ctx, change) -> int
    announce_feed_disabled(ctx, feed_id, reason) -> int
    deliver_job(member)                                  RQ job: one outbox entry (workers/outbox.py)
    sweep()                                              cron: re-drive entries whose worker died

The first matching event of a story (cluster) in a channel is a top-level post; later ones are thread
replies under it, and the post's "also reported by" line is updated. Whatever cannot be delivered
lands in the dead-letter store with its reason (`reewatch deadletters list|replay`).
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from core import metrics
from core.blocks import Message, event_message, feed_disabled_message, status_change_message, thread_reply
from core.clusters import ClusterStore
from core.deadletters import DeadLetter, DeadLetterStore
from core.errors import ConfigError, SlackDeliveryError
from core.events import EventStore
from core.feeds import RouteConfig, load_feeds
from core.models import Cluster, Event, Level, Severity
from core.subscriptions import SubscriptionStore
from workers import context
from workers.context import WorkerContext
from workers.enqueue import enqueue_once, queue
from workers.outbox import Busy, Outbox, Poster, Work, checkpoint
from workers.slack_out import DESTINATION_ERRORS, SlackOut, SlackUnavailable

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF = (10.0, 30.0, 90.0, 270.0, 600.0)  # seconds before re-driving a failed delivery


class _Missing(Exception):
    """What the delivery refers to is gone (event expired)."""


def _sweep_job() -> int:
    return sweep()


def _digest_job() -> int:
    from workers.digests import digest_tick

    return digest_tick()


#: Registered by workers.runner.make_scheduler.
CRON_JOBS: list[dict[str, object]] = [
    {"func": _sweep_job, "queue": "deliver", "interval": 15, "result_ttl": 30, "job_timeout": 120},
    {"func": _digest_job, "queue": "deliver", "interval": 60, "result_ttl": 30, "job_timeout": 300},
]

_routes_cache: dict[tuple[str, float], tuple[RouteConfig, ...]] = {}


def subscriptions(ctx: WorkerContext) -> SubscriptionStore:
    """The subscription store with feeds.yaml routes (re-read when the file changes)."""
    path = Path(ctx.settings.feeds_file)
    try:
        stamp = (str(path), path.stat().st_mtime)
    except OSError:
        return SubscriptionStore(ctx.redis, ctx.keys)
    if stamp not in _routes_cache:
        try:
            routes = tuple(load_feeds(path).routes)
        except ConfigError as exc:
            log.warning("feeds.yaml routes ignored: %s", exc)
            routes = ()
        _routes_cache.clear()
        _routes_cache[stamp] = routes
    return SubscriptionStore(ctx.redis, ctx.keys, routes=_routes_cache[stamp])


def _events(ctx: WorkerContext) -> EventStore:
    return EventStore(ctx.redis, ctx.keys, ctx.settings.retention_days * 86400)


def enqueue(ctx: WorkerContext, work: Work, *, attempt: str = "r0") -> None:
    """Outbox first, then the job: if the enqueue is lost, `sweep` still finds the entry."""
    Outbox(ctx).add(work)
    member = work.member()
    digest = hashlib.sha1(member.encode("utf-8")).hexdigest()[:16]
    enqueue_once(queue(ctx.keys, "deliver", ctx.rq_redis), deliver_job, member,
                 job_id=ctx.keys.job_id("dlv", digest, attempt), result_ttl=300, failure_ttl=7 * 86400,
                 job_timeout=int(ctx.settings.delivery_lease) + 120)


# --- routing -------------------------------------------------------------------------------------
def route(ctx: WorkerContext, event: Event, cluster: Cluster, new_cluster: bool) -> int:
    """Queue `event` for every channel whose subscriptions match it (digests gather it). Returns channels."""
    matched = subscriptions(ctx).matching(event)
    for channel, sub in matched.items():
        if sub.digest:
            pipe = ctx.redis.pipeline()
            pipe.zadd(ctx.keys.digest(channel), {event.id: event.when}, nx=True)
            pipe.sadd(ctx.keys.digest_channels(), channel)
            pipe.execute()
        else:
            enqueue(ctx, Work("event", channel, event.id))
    log.info("event routed", extra={"event_id": event.id, "cluster_id": cluster.id, "channels": len(matched),
                                    "new_cluster": new_cluster})
    return len(matched)


def change_severity(old: Level | str, new: Level | str) -> Severity:
    """How a status change ranks against a subscription's minimum severity."""
    old_l, new_l = Level(str(getattr(old, "value", old))), Level(str(getattr(new, "value", new)))
    if new_l.rank <= old_l.rank:
        return Severity.EASING
    return {Level.WATCH: Severity.ELEVATED, Level.ELEVATED: Severity.HIGH,
            Level.CRITICAL: Severity.CRITICAL}.get(new_l, Severity.INFO)


def route_status_change(ctx: WorkerContext, change: Any) -> int:
    """Tell the channels following `change.symbol` (element or `all` subscriptions), at once."""
    severity = change_severity(change.old, change.new)
    channels: set[str] = set()
    for sub in subscriptions(ctx).all():
        follows = sub.kind == "all" or (sub.kind == "element" and change.symbol in sub.values)
        if follows and (not sub.min_severity or severity.at_least(Severity(sub.min_severity))):
            channels.add(sub.channel)
    from core import elements

    element = elements.get(change.symbol)
    message = status_change_message(change, element.name_en if element else "")
    for channel in sorted(channels):
        ref = f"{change.symbol}-{int(float(change.at) * 1000)}"
        enqueue(ctx, Work("status", channel, ref, asdict(message)))
    return len(channels)


def announce_feed_disabled(ctx: WorkerContext, feed_id: str, reason: str) -> int:
    """Announce once, in each channel subscribed to `feed_id`, that it was disabled. Returns channels."""
    if not ctx.redis.set(ctx.keys.feed_disabled_announced(feed_id), reason[:500], nx=True, ex=7 * 86400):
        return 0
    channels = {s.channel for s in subscriptions(ctx).all() if s.kind == "feed" and feed_id in s.values}
    name = ""
    try:
        from core.registry import FeedRegistry

        feed = FeedRegistry(ctx.settings, ctx.redis, ctx.keys).get(feed_id)
        name = feed.name if feed else ""
    except (ImportError, ConfigError):
        pass
    message = feed_disabled_message(feed_id, reason, name)
    day = time.strftime("%Y%m%d", time.gmtime())
    for channel in sorted(channels):
        enqueue(ctx, Work("feed_disabled", channel, f"{feed_id}-{day}", asdict(message)))
    return len(channels)


# --- delivering ----------------------------------------------------------------------------------
def deliver_job(member: str) -> str:
    """RQ entry point: deliver one outbox entry. Idempotent."""
    return run_work(context.current(), Work.parse(member))


def run_work(ctx: WorkerContext, work: Work, out: SlackOut | None = None) -> str:
    """Deliver `work` now; returns posted|threaded|duplicate|empty|retry|dead_letter."""
    out = out or SlackOut(ctx, attempts=3)
    box = Outbox(ctx)
    extra = {"channel": work.channel, "kind": work.kind, "ref": work.ref}
    try:
        checkpoint("before_claim")
        if work.kind == "event":
            outcome = _deliver_event(ctx, out, work)
        elif work.kind == "digest":
            from workers.digests import deliver_digest

            outcome = deliver_digest(ctx, out, work)
        else:
            outcome = _deliver_message(ctx, out, work)
    except SlackDeliveryError as exc:
        if exc.error in DESTINATION_ERRORS:
            subscriptions(ctx).mark_broken(work.channel, exc.error)
        return _dead(ctx, work, exc.error, box.attempts(work) + 1)
    except _Missing as exc:
        return _dead(ctx, work, str(exc), box.attempts(work) + 1)
    except (SlackUnavailable, Busy) as exc:
        attempts = box.failed(work, BACKOFF[min(box.attempts(work), len(BACKOFF) - 1)])
        reason = getattr(exc, "reason", None) or f"busy: {exc}"
        if attempts >= MAX_ATTEMPTS:
            return _dead(ctx, work, f"{reason} (after {attempts} attempts)", attempts)
        log.warning("delivery will be retried: %s", reason, extra=extra | {"attempts": attempts})
        return "retry"
    checkpoint("before_done")
    box.done(work)
    if outcome == "duplicate":
        metrics.inc(ctx.redis, ctx.keys, "reewatch_posts_total", {"outcome": "duplicate"})
    elif outcome != "empty":
        subscriptions(ctx).clear_broken(work.channel)
    log.info("delivered: %s", outcome, extra=extra)
    return outcome


def _dead(ctx: WorkerContext, work: Work, reason: str, attempts: int) -> str:
    DeadLetterStore(ctx.redis, ctx.keys).add(work.member(), reason, attempts=attempts, channel=work.channel,
                                             summary=f"{work.kind} {work.ref}")
    Outbox(ctx).done(work)
    metrics.inc(ctx.redis, ctx.keys, "reewatch_posts_total", {"outcome": "dead_letter"})
    log.error("delivery dead-lettered: %s", reason, extra={"channel": work.channel, "ref": work.ref})
    return "dead_letter"


def _deliver_event(ctx: WorkerContext, out: SlackOut, work: Work) -> str:
    events = _events(ctx)
    event = events.get(work.ref)
    if event is None:
        raise _Missing(f"event {work.ref} is no longer stored")
    cluster = ClusterStore(ctx.redis, ctx.keys).get(event.cluster_id) if event.cluster_id else None
    outlets = list(cluster.outlets) if cluster else [event.source or event.feed_id]
    poster = Poster(ctx, out, work.channel, event.cluster_id or event.id)
    with poster.lock():
        poster.settle()
        parent_ts = poster.parent_ts()
        if parent_ts is None:
            posted = poster.post_once(event.id, _event_post(event, outlets))
            return "duplicate" if posted.duplicate else "posted"
        posted = poster.post_once(event.id, thread_reply(event), thread_ts=parent_ts)
        if posted.ts == parent_ts:
            return "duplicate"  # this event is the story's first post here
        checkpoint("after_reply")
        # Refresh "also reported by" even on a duplicate run: a killed worker may have missed it.
        parent = events.get(poster.record().get("parent_item", "")) or event
        message = _event_post(parent, outlets)
        out.update(work.channel, parent_ts, message.text, message.blocks)
        return "duplicate" if posted.duplicate else "threaded"


def _event_post(event: Event, outlets: list[str]) -> Message:
    return event_message(event, outlets)


def _deliver_message(ctx: WorkerContext, out: SlackOut, work: Work) -> str:
    if not work.message:
        raise _Missing(f"{work.kind} {work.ref} carries no message")
    poster = Poster(ctx, out, work.channel, f"{work.kind}-{work.ref}")
    with poster.lock():
        poster.settle()
        posted = poster.post_once(work.ref, Message(**work.message))
    return "duplicate" if posted.duplicate else "posted"


# --- recovery ------------------------------------------------------------------------------------
def sweep(ctx: WorkerContext | None = None) -> int:
    """Re-enqueue outbox entries whose lease ran out (their worker died, or a retry is due)."""
    ctx = ctx or context.current()
    due = Outbox(ctx).take_due()
    for work in due:
        enqueue(ctx, work, attempt=f"r{time.time_ns()}")
    if due:
        log.info("re-driving %d deliveries", len(due))
    return len(due)


def replay(ctx: WorkerContext, ids: list[str] | None = None, *, inline: bool = False) -> list[tuple[DeadLetter, str]]:
    """Put dead letters (all when `ids` is None) back in the outbox; `inline` delivers them now."""
    store = DeadLetterStore(ctx.redis, ctx.keys)
    letters = store.list() if ids is None else [d for d in (store.get(i) for i in ids) if d is not None]
    results: list[tuple[DeadLetter, str]] = []
    for letter in letters:
        work = Work.parse(letter.work)
        store.remove(letter.id)
        ctx.redis.hdel(ctx.keys.outbox_attempts(), work.member())
        if inline:
            Outbox(ctx).add(work)
            results.append((letter, run_work(ctx, work)))
        else:
            enqueue(ctx, work, attempt=f"replay{time.time_ns()}")
            results.append((letter, "queued"))
    return results

