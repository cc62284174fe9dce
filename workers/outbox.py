"""Exactly-once posting: the outbox of pending deliveries and the claim/record protocol around a post.

Every delivery is first written to the outbox (a sorted set: entry -> when to re-drive it if it is
still there), then a job is enqueued. The job, holding a short lease lock on (channel, thread key):

    1. reads the delivery record `Keys.delivery(channel, key)`; an item already `done:` is a duplicate;
    2. if an earlier attempt left a `pending` token, looks for that token in the channel (message
       metadata via conversations.history / .replies): found -> record it, not found -> post again;
    3. writes `pending` (token, time, item), posts with the token in the message metadata, records
       `done:<item> = ts` and clears `pending`;
    4. removes the entry from the outbox.

A worker killed anywhere leaves either no message (post again) or a message carrying the pending
token (recorded on reconcile), and the entry stays in the outbox, so `sweep` re-drives it once its
lease has passed. RQ running a job twice meets the lock, then the `done:` mark.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.blocks import Message
from core.errors import SlackDeliveryError
from core.keys import Keys
from workers.context import WorkerContext
from workers.slack_out import SlackOut

log = logging.getLogger(__name__)

METADATA_TYPE = "reewatch_delivery"
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end"


@dataclass(frozen=True, slots=True)
class Work:
    """One delivery: `kind` event|digest|status|feed_disabled, to `channel`, of `ref` (an id).

    `message` carries a pre-rendered Message (status, feed notices) that has no stored source.
    """

    kind: str
    channel: str
    ref: str
    message: dict[str, Any] | None = field(default=None)

    def member(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, member: str) -> Work:
        return cls(**json.loads(member))


class Outbox:
    """Pending deliveries in Redis."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.redis, self.keys, self.lease = ctx.redis, ctx.keys, ctx.settings.delivery_lease

    def add(self, work: Work) -> bool:
        """Record `work` as pending (due for re-drive after one lease); False if it already was."""
        return bool(self.redis.zadd(self.keys.outbox(), {work.member(): time.time() + self.lease}, nx=True))

    def done(self, work: Work) -> None:
        pipe = self.redis.pipeline()
        pipe.zrem(self.keys.outbox(), work.member())
        pipe.hdel(self.keys.outbox_attempts(), work.member())
        pipe.execute()

    def failed(self, work: Work, delay: float) -> int:
        """Count a failed attempt and re-drive after `delay`; returns attempts so far."""
        pipe = self.redis.pipeline()
        pipe.hincrby(self.keys.outbox_attempts(), work.member(), 1)
        pipe.zadd(self.keys.outbox(), {work.member(): time.time() + delay}, xx=True)
        attempts, _ = pipe.execute()
        return int(attempts)

    def attempts(self, work: Work) -> int:
        return int(self.redis.hget(self.keys.outbox_attempts(), work.member()) or 0)

    def take_due(self, now: float | None = None) -> list[Work]:
        """Entries whose re-drive time has come, pushed one lease further so one sweep takes each."""
        now = time.time() if now is None else now
        members = self.redis.zrangebyscore(self.keys.outbox(), "-inf", now)
        if members:
            self.redis.zadd(self.keys.outbox(), {str(m): now + self.lease for m in members}, xx=True)
        return [Work.parse(str(m)) for m in members]

    def pending(self) -> list[Work]:
        return [Work.parse(str(m)) for m in self.redis.zrange(self.keys.outbox(), 0, -1)]


class Busy(Exception):
    """Another worker holds this delivery's lock past the wait."""


class Lock:
    """A lease lock (SET NX PX): a killed holder releases it by expiry."""

    def __init__(self, ctx: WorkerContext, key: str) -> None:
        self.redis, self.key, self.lease = ctx.redis, key, ctx.settings.delivery_lease
        self.token = uuid.uuid4().hex

    def __enter__(self) -> Lock:
        deadline = time.monotonic() + self.lease + 5
        while not self.redis.set(self.key, self.token, nx=True, px=int(self.lease * 1000)):
            if time.monotonic() > deadline:
                raise Busy(self.key)
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.redis.eval(_RELEASE, 1, self.key, self.token)


def checkpoint(name: str) -> None:
    """Fault-injection seam for crash tests: REEWATCH_FAULT_PAUSE_AT=name:/path makes the job touch
    /path and hang here, so a test can SIGKILL the worker at exactly this point. Unset in production."""
    spec = os.environ.get("REEWATCH_FAULT_PAUSE_AT", "")
    if not spec or spec.split(":", 1)[0] != name:
        return
    marker = spec.split(":", 1)[1] if ":" in spec else ""
    if marker:
        Path(marker).write_text(str(os.getpid()), encoding="utf-8")
    while True:
        time.sleep(3600)


@dataclass
class Posted:
    ts: str
    reconciled: bool = False
    duplicate: bool = False


class Poster:
    """Runs the claim/record protocol for one delivery record (channel, key)."""

    def __init__(self, ctx: WorkerContext, out: SlackOut, channel: str, key: str) -> None:
        self.ctx, self.out, self.channel, self.key = ctx, out, channel, key
        self.keys: Keys = ctx.keys
        self.record_key = ctx.keys.delivery(channel, key)

    def lock(self) -> Lock:
        return Lock(self.ctx, self.keys.delivery_lock(self.channel, self.key))

    def record(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.ctx.redis.hgetall(self.record_key).items()}

    def parent_ts(self) -> str | None:
        return self.record().get("ts") or None

    def settle(self) -> None:
        """Resolve an attempt a killed worker left pending (call with the lock held, before posting)."""
        rec = self.record()
        if rec.get("pending_token"):
            self._reconcile(rec)

    def done_ts(self, item: str) -> str | None:
        return self.record().get(f"done:{item}") or None

    def post_once(self, item: str, message: Message, *, thread_ts: str | None = None) -> Posted:
        """Post `item` exactly once under this record (call with the lock held, after `settle`)."""
        done = self.done_ts(item)
        if done is not None:
            return Posted(done, duplicate=True)
        self.out.wait_for_slot(self.channel)
        token = uuid.uuid4().hex[:16]
        pending = {"pending_token": token, "pending_at": repr(time.time()), "pending_item": item,
                   "pending_thread": thread_ts or ""}
        self.ctx.redis.hset(self.record_key, mapping=pending)  # type: ignore[arg-type]
        checkpoint("after_claim")
        metadata = {"event_type": METADATA_TYPE,
                    "event_payload": {"key": f"{self.channel}/{self.key}", "item": item, "token": token}}
        ts = self.out.post(self.channel, message.text, message.blocks, thread_ts=thread_ts, metadata=metadata,
                           paced=False)
        checkpoint("after_post")
        self._done(item, ts, top_level=thread_ts is None)
        checkpoint("after_record")
        return Posted(ts)

    def _done(self, item: str, ts: str, *, top_level: bool) -> None:
        pipe = self.ctx.redis.pipeline()
        mapping = {f"done:{item}": ts}
        if top_level:
            mapping |= {"ts": ts, "parent_item": item}
        pipe.hset(self.record_key, mapping=mapping)  # type: ignore[arg-type]
        pipe.hdel(self.record_key, "pending_token", "pending_at", "pending_item", "pending_thread")
        pipe.expire(self.record_key, 30 * 86400)
        pipe.execute()

    def _reconcile(self, rec: dict[str, str]) -> str | None:
        """Find the message an interrupted attempt may have posted; record it, or clear the claim."""
        token, item = rec["pending_token"], rec.get("pending_item", "")
        thread = rec.get("pending_thread") or None
        try:
            if thread:
                messages = self.out.replies(self.channel, thread)
            else:
                messages = self.out.history(self.channel, oldest=float(rec.get("pending_at") or 0) - 120)
        except SlackDeliveryError as exc:  # e.g. missing_scope for history: post again, a duplicate beats a loss
            log.warning("cannot reconcile delivery, posting again: %s", exc, extra={"channel": self.channel})
            messages = []
        for msg in messages:
            payload = (msg.get("metadata") or {}).get("event_payload") or {}
            if payload.get("token") == token:
                log.info("reconciled an interrupted post", extra={"channel": self.channel, "key": self.key})
                self._done(item, str(msg["ts"]), top_level=thread is None)
                return str(msg["ts"])
        self.ctx.redis.hdel(self.record_key, "pending_token", "pending_at", "pending_item", "pending_thread")
        return None
