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

import redis as redis_lib

from core.fingerprint import Fingerprint, buckets, conflict, fingerprint, neutral_similarity, similarity
from core.keys import Keys
from core.models import TIER_WEIGHT, Cluster, Event, Severity

log = logging.getLogger(__name__)

#: Weighted-Jaccard similarity at which a story joins a cluster, and the language-neutral one.
JOIN_AT = 0.40
JOIN_AT_NEUTRAL = 0.60
_PER_BUCKET = 40  # newest clusters read per bucket: bounds the work for hot buckets
_MEMBER_PRINTS = 6  # fingerprints kept per cluster (first reports plus the latest)


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

    def get(self, cluster_id: str) -> Cluster | None:
        raw = self.redis.hget(self.keys.cluster(cluster_id), "data")
        return Cluster.from_json(raw) if raw else None

    def assign(self, event: Event, *, now: float | None = None) -> tuple[Cluster, bool]:
        """Put `event` in a cluster (setting `event.cluster_id`), store it, and say whether it is new."""
        now = time.time() if now is None else now
        fp = fingerprint(event.title, event.text, elements=event.elements, severity=event.severity)
        with self.redis.lock(self.keys.cluster_lock(), timeout=10, blocking_timeout=10):
            found = self._find(event, fp, now)
            if found is None:
                cluster = self._create(event, fp, now)
                is_new = True
            else:
                cluster, prints = found
                is_new = cluster.first_event_id == event.id
                self._join(cluster, prints, event, fp, now)
        event.cluster_id = cluster.id
        log.debug("clustered", extra={"cluster_id": cluster.id, "event_id": event.id, "new": is_new})
        return cluster, is_new

    # --- lookup ------------------------------------------------------------------------------
    def _find(self, event: Event, fp: Fingerprint, now: float) -> tuple[Cluster, list[str]] | None:
        low = max(event.when, now) - self.window
        pipe = self.redis.pipeline(transaction=False)
        for bucket in buckets(fp):
            pipe.zrevrangebyscore(self.keys.cluster_bucket(bucket), "+inf", low, start=0, num=_PER_BUCKET)
        candidates = list(dict.fromkeys(cid for ids in pipe.execute() for cid in ids))
        if not candidates:
            return None
        pipe = self.redis.pipeline(transaction=False)
        for cid in candidates:
            pipe.hmget(self.keys.cluster(cid), "data", "prints")
        best: tuple[float, Cluster, list[str]] | None = None
        for _cid, (data, prints_raw) in zip(candidates, pipe.execute(), strict=True):
            if not data or not prints_raw:
                continue
            cluster = Cluster.from_json(data)
            if event.id in cluster.event_ids:
                return cluster, json.loads(prints_raw)
            prints = json.loads(prints_raw)
            score = self._score(fp, [Fingerprint.load(p) for p in prints])
            if score is not None and (best is None or score > best[0]):
                best = (score, cluster, prints)
        return None if best is None else (best[1], best[2])

    @staticmethod
    def _score(fp: Fingerprint, members: list[Fingerprint]) -> float | None:
        """The best member similarity if it clears the bar and no member conflicts, else None."""
        best = 0.0
        for member in members:
            if conflict(fp, member) is not None:
                return None
            best = max(best, similarity(fp, member), neutral_similarity(fp, member) * JOIN_AT / JOIN_AT_NEUTRAL)
        return best if best >= JOIN_AT else None

    # --- writes ------------------------------------------------------------------------------
    def _create(self, event: Event, fp: Fingerprint, now: float) -> Cluster:
        cluster_id = "c" + hashlib.sha1(event.id.encode()).hexdigest()[:16]
        outlet = event.source or event.feed_id
        cluster = Cluster(
            id=cluster_id, first_seen=event.when or now, first_event_id=event.id, lead_event_id=event.id,
            event_ids=[event.id], outlets=[outlet], elements=list(event.elements), severity=event.severity,
            updated_at=now, first_source=outlet, lead_tier=event.tier,
        )
        self._save(cluster, [fp.dump()], fp, now)
        return cluster

    def _join(self, cluster: Cluster, prints: list[str], event: Event, fp: Fingerprint, now: float) -> None:
        if event.id in cluster.event_ids:
            return
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
        self._save(cluster, prints, fp, now)

    def _save(self, cluster: Cluster, prints: list[str], fp: Fingerprint, now: float) -> None:
        key = self.keys.cluster(cluster.id)
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(key, mapping={"data": cluster.to_json(), "prints": json.dumps(prints, ensure_ascii=False)})
        pipe.expire(key, int(self.retention))
        for bucket in buckets(fp):
            bkey = self.keys.cluster_bucket(bucket)
            pipe.zadd(bkey, {cluster.id: now})
            pipe.zremrangebyscore(bkey, "-inf", f"({now - self.window}")
            pipe.expire(bkey, int(self.window) + 3600)
        recent = self.keys.clusters_recent()
        pipe.zadd(recent, {cluster.id: now})
        pipe.zremrangebyscore(recent, "-inf", f"({now - self.retention}")
        pipe.execute()
