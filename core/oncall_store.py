"""On-call overrides in Redis (`/ree oncall override @user 4h`), with an audit of who set what."""

from __future__ import annotations

import json
import time

import redis as redis_lib

from core.keys import Keys
from core.oncall import Override

KEEP_EXPIRED = 7 * 86400  # ended overrides stay this long (for `/ree oncall` history), then go


class OverrideStore:
    """Overrides as a sorted set scored by their end time; expired ones are pruned as they are read."""

    def __init__(self, redis: redis_lib.Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    def add(self, override: Override) -> None:
        """Record the override and an audit line for it."""
        member = json.dumps(override.to_dict(), separators=(",", ":"), sort_keys=True)
        entry = json.dumps({"at": override.at, "kind": "override", "by": override.by, "user": override.user,
                            "start": override.start, "end": override.end}, separators=(",", ":"))
        pipe = self.redis.pipeline()
        pipe.zadd(self.keys.oncall_override(), {member: override.end})
        pipe.rpush(self.keys.oncall_audit(), entry)
        pipe.ltrim(self.keys.oncall_audit(), -1000, -1)
        pipe.execute()

    def active(self, now: float | None = None) -> list[Override]:
        """Overrides that have not ended by `now` (current and future ones)."""
        now = time.time() if now is None else now
        key = self.keys.oncall_override()
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(key, "-inf", now - KEEP_EXPIRED)
        pipe.zrangebyscore(key, f"({now}", "+inf")
        members: list[str] = pipe.execute()[1]
        return self.decode(members)

    @staticmethod
    def decode(members: list[str]) -> list[Override]:
        """Overrides from the zset's members (read elsewhere, e.g. in the element card's one round trip)."""
        return [Override.from_dict(json.loads(m)) for m in members]

    def audit(self, limit: int = 20) -> list[dict[str, object]]:
        raw: list[str] = self.redis.lrange(self.keys.oncall_audit(), -limit, -1)  # type: ignore[assignment]
        return [json.loads(r) for r in raw]
