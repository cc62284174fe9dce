"""Incidents: one per story cluster, triggered -> acknowledged -> resolved, with who and when.

Every transition is one Lua script, so concurrent actors (a button click, `/ree ack`, an escalation
step on another worker) see one order: a step that claimed its page before an ack is recorded before
it in the audit, and a step that comes after an ack finds the incident acknowledged and pages nobody.

    store = IncidentStore(redis, keys)
    incident, new = store.open(event, cluster_id, channel="#ree-oncall")
    store.claim_page(incident.id, step=0, round_=0, target="primary", who="U1")  -> "claimed"
    store.acknowledge(incident.id, "U1")                                         -> Transition
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

import redis as redis_lib

from core import metrics
from core.keys import Keys
from core.models import Event
from core.oncall import Override

log = logging.getLogger(__name__)


class State(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@dataclass(slots=True)
class Incident:
    """One incident as stored (a Redis hash)."""

    id: str
    cluster_id: str
    state: State
    created_at: float
    title: str
    link: str = ""
    source: str = ""
    severity: str = "high"
    elements: list[str] = field(default_factory=list)
    channel: str = ""  # the escalation channel as configured ("#ree-oncall" or an id)
    channel_id: str = ""  # the channel id Slack answered with, once the page is posted
    ts: str = ""  # the page message
    acked_by: str = ""
    acked_at: float = 0.0
    resolved_by: str = ""
    resolved_at: float = 0.0
    held_until: float = 0.0  # quiet hours: no page before this
    reports: int = 1  # items in the story (first report included)
    pages: int = 0
    last_target: str = ""  # mention text of the last page, e.g. "<@U012>"

    @property
    def is_open(self) -> bool:
        return self.state is not State.RESOLVED

    @property
    def label(self) -> str:
        return f"#{self.id}"

    @classmethod
    def from_hash(cls, data: dict[str, str]) -> Incident:
        return cls(
            id=data["id"], cluster_id=data.get("cluster_id", ""), state=State(data.get("state", "triggered")),
            created_at=float(data.get("created_at") or 0), title=data.get("title", ""),
            link=data.get("link", ""), source=data.get("source", ""), severity=data.get("severity", "high"),
            elements=[e for e in data.get("elements", "").split(",") if e], channel=data.get("channel", ""),
            channel_id=data.get("channel_id", ""), ts=data.get("ts", ""), acked_by=data.get("acked_by", ""),
            acked_at=float(data.get("acked_at") or 0), resolved_by=data.get("resolved_by", ""),
            resolved_at=float(data.get("resolved_at") or 0), held_until=float(data.get("held_until") or 0),
            reports=int(data.get("reports") or 1), pages=int(data.get("pages") or 0),
            last_target=data.get("last_target", ""),
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of an incident's history."""

    at: float
    kind: str  # opened, page, page_failed, ack, resolve, hold, release, report
    by: str = ""  # Slack user id of the actor, empty for reewatch itself
    text: str = ""  # a short human description (mentions only as ids, never feed text unescaped)
    step: int | None = None
    round: int | None = None

    def to_json(self) -> str:
        data = {k: v for k, v in (("at", self.at), ("kind", self.kind), ("by", self.by), ("text", self.text),
                                  ("step", self.step), ("round", self.round)) if v not in (None, "")}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> AuditEntry:
        d = json.loads(raw)
        return cls(float(d["at"]), str(d["kind"]), d.get("by", ""), d.get("text", ""), d.get("step"), d.get("round"))


Outcome = Literal["changed", "already", "missing"]


@dataclass(frozen=True, slots=True)
class Transition:
    """What an acknowledge or resolve did: `changed`, `already` (in that state or past it), `missing`."""

    outcome: Outcome
    incident: Incident | None

    @property
    def changed(self) -> bool:
        return self.outcome == "changed"


PageClaim = Literal["claimed", "duplicate", "stopped", "held", "missing"]

# KEYS: by_cluster, incident, open, audit, reports; ARGV: id, now, audit json, event id, field/value pairs.
_OPEN = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('RPUSH', KEYS[4], ARGV[3])
redis.call('SADD', KEYS[5], ARGV[4])
return false
"""

# KEYS: incident, open, audit; ARGV: target state, who, now, audit json.
_TRANSITION = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state == 'resolved' or state == ARGV[1] then return 'already' end
if ARGV[1] == 'acknowledged' then
  redis.call('HSET', KEYS[1], 'state', 'acknowledged', 'acked_by', ARGV[2], 'acked_at', ARGV[3])
else
  redis.call('HSET', KEYS[1], 'state', 'resolved', 'resolved_by', ARGV[2], 'resolved_at', ARGV[3])
  redis.call('ZREM', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
end
redis.call('RPUSH', KEYS[3], ARGV[4])
return 'changed:' .. state
"""

# KEYS: incident, claim, audit; ARGV: now, audit json, mention, claim ttl.
# The state check and the "sent" record are one step: an ack either lands before (no page) or after.
_CLAIM = """
local state = redis.call('HGET', KEYS[1], 'state')
if not state then return 'missing' end
if state ~= 'triggered' then return 'stopped' end
local held = tonumber(redis.call('HGET', KEYS[1], 'held_until') or '0')
if held and held > tonumber(ARGV[1]) then return 'held' end
if not redis.call('SET', KEYS[2], 'sent', 'NX', 'EX', ARGV[4]) then return 'duplicate' end
redis.call('HINCRBY', KEYS[1], 'pages', 1)
redis.call('HSET', KEYS[1], 'last_target', ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[2])
return 'claimed'
"""

CLAIM_TTL = 30 * 86400  # a claim outlives any escalation plan


class IncidentStore:
    """Incidents in Redis: hash per incident, cluster -> id index, open set, audit list."""

    def __init__(self, redis: redis_lib.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._open = redis.register_script(_OPEN)
        self._transition = redis.register_script(_TRANSITION)
        self._claim = redis.register_script(_CLAIM)

    # --- reading -------------------------------------------------------------------------------
    def get(self, incident_id: str) -> Incident | None:
        data: dict[str, str] = self.redis.hgetall(self.keys.incident(incident_id))  # type: ignore[assignment]
        return Incident.from_hash(data) if data else None

    def by_cluster(self, cluster_id: str) -> Incident | None:
        incident_id = self.redis.get(self.keys.incident_by_cluster(cluster_id))
        return self.get(str(incident_id)) if incident_id else None

    def open_incidents(self) -> list[Incident]:
        """Triggered and acknowledged incidents, oldest first."""
        ids = self.redis.zrange(self.keys.incidents_open(), 0, -1)
        pipe = self.redis.pipeline()
        for incident_id in ids:
            pipe.hgetall(self.keys.incident(str(incident_id)))
        return [Incident.from_hash(d) for d in pipe.execute() if d]

    def audit(self, incident_id: str) -> list[AuditEntry]:
        raw_entries: list[str] = self.redis.lrange(self.keys.incident_audit(incident_id), 0, -1)  # type: ignore[assignment]
        return [AuditEntry.from_json(raw) for raw in raw_entries]

    # --- writing -------------------------------------------------------------------------------
    def open(self, event: Event, cluster_id: str, *, channel: str, now: float | None = None,
             held_until: float = 0.0) -> tuple[Incident, bool]:
        """The cluster's incident, opened from `event` if it has none yet. Returns (incident, is_new)."""
        now = time.time() if now is None else now
        existing = self.by_cluster(cluster_id)
        if existing is not None:
            return existing, False
        incident_id = str(self.redis.incr(self.keys.incident_seq()))
        fields = {
            "id": incident_id, "cluster_id": cluster_id, "state": State.TRIGGERED.value, "created_at": repr(now),
            "title": event.title, "link": event.link, "source": event.source or event.feed_id,
            "severity": event.severity, "elements": ",".join(event.elements), "channel": channel,
            "held_until": repr(held_until), "reports": "1", "pages": "0",
        }
        entry = AuditEntry(now, "opened", text=f"{event.severity} report from {event.source or event.feed_id}")
        args: list[str] = [incident_id, repr(now), entry.to_json(), event.id]
        for key, value in fields.items():
            args += [key, value]
        raced = self._open(keys=[self.keys.incident_by_cluster(cluster_id), self.keys.incident(incident_id),
                                 self.keys.incidents_open(), self.keys.incident_audit(incident_id),
                                 self.keys.incident_reports(incident_id)], args=args)
        if raced:  # another worker opened it between our read and the script: theirs stands
            incident = self.get(str(raced))
            assert incident is not None
            return incident, False
        incident = self.get(incident_id)
        assert incident is not None
        metrics.inc(self.redis, self.keys, "reewatch_incidents", {"state": State.TRIGGERED.value})
        return incident, True

    def acknowledge(self, incident_id: str, user: str, *, now: float | None = None) -> Transition:
        return self._move(incident_id, State.ACKNOWLEDGED, user, now)

    def resolve(self, incident_id: str, user: str, *, now: float | None = None) -> Transition:
        return self._move(incident_id, State.RESOLVED, user, now)

    def _move(self, incident_id: str, target: State, user: str, now: float | None) -> Transition:
        now = time.time() if now is None else now
        kind = "ack" if target is State.ACKNOWLEDGED else "resolve"
        entry = AuditEntry(now, kind, by=user, text=f"{target.value} by <@{user}>" if user else target.value)
        outcome, _, previous = str(self._transition(
            keys=[self.keys.incident(incident_id), self.keys.incidents_open(), self.keys.incident_audit(incident_id)],
            args=[target.value, user, repr(now), entry.to_json()])).partition(":")
        result = Transition(outcome, self.get(incident_id))  # type: ignore[arg-type]
        if result.changed:
            log.info("incident %s", target.value, extra={"incident_id": incident_id, "user": user})
            # Gauges move with each transition (no scan of open incidents); `resolved` only grows.
            metrics.inc(self.redis, self.keys, "reewatch_incidents", {"state": previous}, by=-1)
            metrics.inc(self.redis, self.keys, "reewatch_incidents", {"state": target.value})
        return result

    def claim_page(self, incident_id: str, *, step: int, round_: int, mention: str, text: str,
                   now: float | None = None) -> PageClaim:
        """Atomically: if the incident is still triggered, not held, and this (step, round) has not paged,
        record the page (audit, count) and return "claimed"; the caller then sends it."""
        now = time.time() if now is None else now
        entry = AuditEntry(now, "page", text=text, step=step, round=round_)
        outcome: str = self._claim(
            keys=[self.keys.incident(incident_id), self.keys.incident_page(incident_id, step, round_),
                  self.keys.incident_audit(incident_id)],
            args=[repr(now), entry.to_json(), mention, CLAIM_TTL])
        return outcome  # type: ignore[return-value]

    def unclaim_page(self, incident_id: str, *, step: int, round_: int, error: str) -> None:
        """A claimed page could not be sent: free the claim so a retry can send it, and say so."""
        self.redis.delete(self.keys.incident_page(incident_id, step, round_))
        self.add_audit(incident_id, AuditEntry(time.time(), "page_failed", text=f"page failed: {error}",
                                               step=step, round=round_))

    def page_claimed(self, incident_id: str, step: int, round_: int) -> bool:
        return bool(self.redis.exists(self.keys.incident_page(incident_id, step, round_)))

    def set_message(self, incident_id: str, channel_id: str, ts: str) -> None:
        self.redis.hset(self.keys.incident(incident_id), mapping={"channel_id": channel_id, "ts": ts})

    def hold(self, incident_id: str, until: float, *, now: float | None = None) -> None:
        now = time.time() if now is None else now
        self.redis.hset(self.keys.incident(incident_id), "held_until", repr(until))
        self.add_audit(incident_id, AuditEntry(now, "hold", text="held for quiet hours"))

    def release(self, incident_id: str, *, now: float | None = None, reason: str = "quiet hours ended") -> bool:
        """Lift a hold; False when there was none (already released)."""
        now = time.time() if now is None else now
        key = self.keys.incident(incident_id)
        pipe = self.redis.pipeline()
        pipe.hget(key, "held_until")
        pipe.hset(key, "held_until", "0")
        held = float(pipe.execute()[0] or 0)
        if not held:
            return False
        self.add_audit(incident_id, AuditEntry(now, "release", text=reason))
        return True

    def add_report(self, incident_id: str, event: Event, *, now: float | None = None) -> int:
        """Another item of the same story: count it and note it in the audit. Returns the report count,
        or 0 when this event was already counted."""
        now = time.time() if now is None else now
        if not self.redis.sadd(self.keys.incident_reports(incident_id), event.id):
            return 0  # this event was counted already (a retried ingest job)
        pipe = self.redis.pipeline()
        pipe.hincrby(self.keys.incident(incident_id), "reports", 1)
        pipe.rpush(self.keys.incident_audit(incident_id),
                   AuditEntry(now, "report", text=f"also reported by {event.source or event.feed_id}").to_json())
        return int(pipe.execute()[0])

    def add_audit(self, incident_id: str, entry: AuditEntry) -> None:
        self.redis.rpush(self.keys.incident_audit(incident_id), entry.to_json())


def load_overrides(redis: redis_lib.Redis, keys: Keys, now: float | None = None) -> list[Override]:
    """On-call overrides that have not ended (for views that show who is on call; see core.oncall_store)."""
    from core.oncall_store import OverrideStore

    return OverrideStore(redis, keys).active(now)
