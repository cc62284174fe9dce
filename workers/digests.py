"""Digests: a channel's matching events since its last digest, in one message at the time it set.

`route` (workers/deliver.py) adds events to `Keys.digest(channel)`; `digest_tick` (cron, every minute)
queues one digest per channel and time (HH:MM in REEWATCH_TIMEZONE, UTC by default) per day;
`deliver_digest` posts it exactly once through the same claim/record protocol as every other post, then
clears the events it showed.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.blocks import digest_message
from core.models import Event
from workers import context
from workers.context import WorkerContext
from workers.outbox import Poster, Work
from workers.slack_out import SlackOut

log = logging.getLogger(__name__)

#: A digest time first seen more than this long after it passed waits for the next day (a new
#: subscription should not fire at once); a scheduler down for less than this catches up.
CATCH_UP = timedelta(hours=1)


def digest_tick(now: float | None = None, ctx: WorkerContext | None = None) -> int:
    """Queue the digests that are due. Returns how many were queued."""
    from workers.deliver import enqueue, subscriptions

    ctx = ctx or context.current()
    # Wall-clock arithmetic in the team's zone: slots and "today" follow local midnight and DST.
    moment = datetime.fromtimestamp(time.time() if now is None else now, ZoneInfo(ctx.settings.timezone))
    today = moment.date().isoformat()
    queued = 0
    for channel, times in subscriptions(ctx).digest_channels().items():
        last_key = ctx.keys.digest_last(channel)
        last = {str(k): str(v) for k, v in ctx.redis.hgetall(last_key).items()}
        for hhmm in sorted(times):
            hour, minute = (int(p) for p in hhmm.split(":"))
            slot = moment.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if moment < slot or last.get(hhmm) == today:
                continue
            # hsetnx-like claim per day: two schedulers ticking at once queue one digest.
            previous = ctx.redis.hget(last_key, hhmm)
            if str(previous or "") == today or not _claim(ctx, last_key, hhmm, today, previous):
                continue
            if previous is None and moment - slot > CATCH_UP:
                continue  # first sight of this time, long past today's slot: start tomorrow
            enqueue(ctx, Work("digest", channel, f"{today} {hhmm}"))
            queued += 1
    return queued


def _claim(ctx: WorkerContext, key: str, field: str, today: str, previous: object) -> bool:
    script = ("local v = redis.call('HGET', KEYS[1], ARGV[1]) "
              "if (v or '') ~= ARGV[3] then return 0 end "
              "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1")
    return bool(ctx.redis.eval(script, 1, key, field, today, str(previous or "")))


def deliver_digest(ctx: WorkerContext, out: SlackOut, work: Work) -> str:
    """Post the digest `work.ref` ("YYYY-MM-DD HH:MM") for `work.channel` exactly once."""
    from workers.deliver import _events

    pending_key = ctx.keys.digest(work.channel)
    poster = Poster(ctx, out, work.channel, f"digest-{work.ref}")
    with poster.lock():
        poster.settle()
        record = poster.record()
        if "items" in record:
            ids = json.loads(record["items"])
        else:  # fix the set of events now, so a re-run after a crash shows and clears the same ones
            ids = [str(i) for i in ctx.redis.zrange(pending_key, 0, -1)]
            ctx.redis.hset(poster.record_key, "items", json.dumps(ids))
        if poster.done_ts(work.ref) is not None:
            outcome = "duplicate"
        elif not ids:
            outcome = "empty"
        else:
            events = _distinct_stories(_events(ctx).get_many(ids))
            since = _since(ctx, work.channel)
            poster.post_once(work.ref, digest_message(events, since, time.time()))
            outcome = "posted"
        if ids:
            ctx.redis.zrem(pending_key, *ids)
        ctx.redis.hset(ctx.keys.digest_last(work.channel), "_sent_at", repr(time.time()))
    return outcome


def _since(ctx: WorkerContext, channel: str) -> float | None:
    raw = ctx.redis.hget(ctx.keys.digest_last(channel), "_sent_at")
    return float(raw) if raw else None


def _distinct_stories(events: list[Event]) -> list[Event]:
    """One line per story: the first event of each cluster."""
    seen: set[str] = set()
    out: list[Event] = []
    for event in events:
        key = event.cluster_id or event.id
        if key not in seen:
            seen.add(key)
            out.append(event)
    return out
