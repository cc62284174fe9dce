"""Story clusters in Redis: a new item that retells a recent story joins that story's cluster.

    ClusterStore(redis, keys, *, window=3*86400).assign(event) -> (Cluster, is_new); .get(cluster_id)

Candidates come from MinHash LSH buckets and announcement-number anchors (`core.fingerprint`), each a
sorted set scored by last update, so lookups cost one pipelined round trip and never see clusters
older than the window. A candidate joins when its best member fingerprint is similar enough and no
conflict (other announcement, other elements, opposite direction, other kind of measure) forbids it.
Assignment runs under a short lock so two workers meeting the same story at once make one cluster,
and re-assigning an event (an RQ retry) returns the cluster it is already in.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import fields
from functools import lru_cache

import redis as redis_lib

from core.fingerprint import Fingerprint, buckets, conflict, fingerprint, neutral_similarity, similarity
from core.keys import Keys
from core.models import TIER_WEIGHT, Cluster, Event, Severity

log = logging.getLogger(__name__)

#: Weighted-Jaccard similarity at which a story joins a cluster, and the language-neutral one.
JOIN_AT = 0.40
JOIN_AT_NEUTRAL = 0.60
_PER_BUCKET = 16  # newest clusters read per bucket: bounds the work for hot buckets
_TOP = 6  # candidates verified per item: those sharing the most buckets
_LOCK_TTL_MS = 5000
_LOCK_WAIT = 10.0
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_MEMBER_PRINTS = 6  # fingerprints kept per cluster (first reports plus the latest)

# Server-side loops keep a lookup and a save to one round trip each, whatever the number of buckets.
_FIND = """
if redis.call('SET', ARGV[5], ARGV[6], 'NX', 'PX', tonumber(ARGV[7])) == false then return {'busy'} end
local hits, order = {}, {}
for i, key in ipairs(KEYS) do
  for _, id in ipairs(redis.call('ZREVRANGEBYSCORE', key, '+inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))) do
    if hits[id] == nil then hits[id] = 0; order[#order + 1] = id end
    hits[id] = hits[id] + 1
  end
end
table.sort(order, function(a, b) return hits[a] > hits[b] end)
local out = {}
for i = 1, math.min(#order, tonumber(ARGV[3])) do
  local row = redis.call('HMGET', ARGV[4] .. order[i], 'data', 'prints')
  out[#out + 1] = order[i]
  out[#out + 1] = row[1] or ''
  out[#out + 1] = row[2] or ''
end
return out
"""
_SAVE = """
redis.call('HSET', KEYS[1], 'data', ARGV[5], 'prints', ARGV[6])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[7]))
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[8])
for i = 3, #KEYS do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[3])
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[4]))
end
if redis.call('GET', ARGV[9]) == ARGV[10] then redis.call('DEL', ARGV[9]) end
return 1
"""


_FIELDS = tuple(f.name for f in fields(Cluster))


def _dump(cluster: Cluster) -> str:
    """Cluster.to_json without dataclasses.asdict's deep copy (a tenth of the cost; the fields are flat)."""
    return json.dumps({name: getattr(cluster, name) for name in _FIELDS}, ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=4096)
def _load(raw: str) -> Fingerprint:
    """Parsed member fingerprints, cached: a hot cluster is a candidate for many items in a row."""
    return Fingerprint.load(raw)


def _aggregate(a: str, b: str) -> str:
    """The cluster's severity: the worst report, where any signal outranks plain info."""
    sa, sb = Severity(a), Severity(b)
    if sa is Severity.INFO:
        return sb.value
    if sb is Severity.INFO:
        return sa.value
    return max(sa, sb, key=lambda s: s.rank).value


class ClusterStore:
    def __init__(self, redis: redis_lib.Redis, keys: Keys, *, window: float = 3 * 86400,
                 retention: float = 30 * 86400) -> None:
        self.redis = redis
        self.keys = keys
        self.window = window
        self.retention = max(retention, window)
        self._find_script = redis.register_script(_FIND)
        self._save_script = redis.register_script(_SAVE)
        self._release = redis.register_script(_RELEASE)
        self._last_keys: tuple[Fingerprint, list[str]] | None = None

    def get(self, cluster_id: str) -> Cluster | None:
        raw = self.redis.hget(self.keys.cluster(cluster_id), "data")
        return Cluster.from_json(raw) if raw else None

    def assign(self, event: Event, *, now: float | None = None) -> tuple[Cluster, bool]:
        """Put `event` in a cluster (setting `event.cluster_id`), store it, and say whether it is new."""
        now = time.time() if now is None else now
        fp = fingerprint(event.title, event.text, elements=event.elements, severity=event.severity)
        token = uuid.uuid4().hex
        released = False  # the save script releases the lock in its own round trip
        try:
            found = self._find(event, fp, now, token)
            if found is None:
                cluster = self._create(event, fp, now, token)
                is_new = released = True
            else:
                cluster, prints = found
                is_new = cluster.first_event_id == event.id
                released = self._join(cluster, prints, event, fp, now, token)
        finally:
            if not released:
                self._release(keys=[self.keys.cluster_lock()], args=[token])
        event.cluster_id = cluster.id
        log.debug("clustered", extra={"cluster_id": cluster.id, "event_id": event.id, "new": is_new})
        return cluster, is_new

    def _bucket_keys(self, fp: Fingerprint) -> list[str]:
        """Bucket keys of a fingerprint, computed once per assignment (MinHash is the costly part)."""
        if self._last_keys is None or self._last_keys[0] is not fp:
            self._last_keys = (fp, [self.keys.cluster_bucket(b) for b in buckets(fp)])
        return self._last_keys[1]

    # --- lookup ------------------------------------------------------------------------------
    def _find(self, event: Event, fp: Fingerprint, now: float, token: str) -> tuple[Cluster, list[str]] | None:
        """Take the assignment lock and read the best candidates in one round trip, then verify them here.

        One assignment at a time, so one story told by two workers at once never becomes two clusters.
        The script reads the candidates' records by keys it builds from the prefix: fine on a single
        server or Sentinel, not on Redis Cluster, which this project does not target."""
        low = max(event.when, now) - self.window
        bucket_keys = self._bucket_keys(fp)
        args: list[str | float] = [low, _PER_BUCKET, _TOP, self.keys.cluster(""), self.keys.cluster_lock(), token,
                                   _LOCK_TTL_MS]
        deadline = time.monotonic() + _LOCK_WAIT
        while (flat := self._find_script(keys=bucket_keys, args=args)) == ["busy"]:
            if time.monotonic() > deadline:
                raise TimeoutError("cluster assignment lock busy")  # a job failure: RQ retries the job
            time.sleep(0.002)
        best: tuple[float, str, list[str]] | None = None
        quoted = json.dumps(event.id)
        for i in range(0, len(flat), 3):
            data, prints_raw = flat[i + 1], flat[i + 2]
            if not data or not prints_raw:
                continue
            prints = json.loads(prints_raw)
            if quoted in data:  # cheap pre-check before parsing: a retry of an event already placed
                cluster = Cluster.from_json(data)
                if event.id in cluster.event_ids:
                    return cluster, prints
            # the first report and the two latest speak for the cluster
            score = self._score(fp, [_load(p) for p in prints])  # every kept member: fewer order effects
            if score is not None and (best is None or score > best[0]):
                best = (score, data, prints)
        return None if best is None else (Cluster.from_json(best[1]), best[2])

    @staticmethod
    def _score(fp: Fingerprint, members: list[Fingerprint]) -> float | None:
        """The best member similarity if it clears the bar and no member conflicts, else None."""
        if any(conflict(fp, member) is not None for member in members):
            return None
        best = 0.0
        for member in members:
            best = max(best, similarity(fp, member), neutral_similarity(fp, member) * JOIN_AT / JOIN_AT_NEUTRAL)
        return best if best >= JOIN_AT else None

    # --- writes ------------------------------------------------------------------------------
    def _create(self, event: Event, fp: Fingerprint, now: float, token: str) -> Cluster:
        cluster_id = "c" + hashlib.sha1(event.id.encode()).hexdigest()[:16]
        outlet = event.source or event.feed_id
        cluster = Cluster(
            id=cluster_id, first_seen=event.when or now, first_event_id=event.id, lead_event_id=event.id,
            event_ids=[event.id], outlets=[outlet], elements=list(event.elements), severity=event.severity,
            updated_at=now, first_source=outlet, lead_tier=event.tier,
        )
        self._save(cluster, [fp.dump()], fp, now, token)
        return cluster

    def _join(self, cluster: Cluster, prints: list[str], event: Event, fp: Fingerprint, now: float,
              token: str) -> bool:
        """Add the event and save; False when it was already a member (nothing written)."""
        if event.id in cluster.event_ids:
            return False
        cluster.event_ids.append(event.id)
        outlet = event.source or event.feed_id
        if outlet not in cluster.outlets:
            cluster.outlets.append(outlet)
        if TIER_WEIGHT.get(event.tier, 1) > TIER_WEIGHT.get(cluster.lead_tier, 1):
            cluster.lead_event_id, cluster.lead_tier = event.id, event.tier
        if event.when and event.when < cluster.first_seen:
            cluster.first_seen = event.when  # a late-arriving item that was published earlier
        cluster.elements = list(dict.fromkeys([*cluster.elements, *event.elements]))
        cluster.severity = _aggregate(cluster.severity, event.severity)
        cluster.updated_at = now
        prints = [*prints, fp.dump()]
        if len(prints) > _MEMBER_PRINTS:
            prints = prints[:2] + prints[-(_MEMBER_PRINTS - 2):]
        self._save(cluster, prints, fp, now, token)
        return True

    def _save(self, cluster: Cluster, prints: list[str], fp: Fingerprint, now: float, token: str) -> None:
        keys = [self.keys.cluster(cluster.id), self.keys.clusters_recent(),
                *self._bucket_keys(fp)]
        self._save_script(keys=keys, args=[
            cluster.id, now, now - self.window, int(self.window) + 3600, _dump(cluster),
            json.dumps(prints, ensure_ascii=False), int(self.retention), now - self.retention,
            self.keys.cluster_lock(), token])
