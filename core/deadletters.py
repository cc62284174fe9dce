"""Dead letters: deliveries that ran out of retries or met a final Slack error, kept with the reason
until an admin replays them (`reewatch deadletters list|replay`). Nothing is dropped silently.

Stored as one Redis hash `Keys.dead_letters()`: short id -> JSON. The id is derived from the work
itself, so the same delivery failing twice is one entry (with the latest reason).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass

import redis as redis_lib

from core.keys import Keys


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    work: str  # the outbox entry (JSON), replayable as is
    reason: str
    attempts: int
    at: float
    channel: str = ""
    summary: str = ""  # what it was, for people: "event ev123 (cluster c9)"


def letter_id(work: str) -> str:
    return hashlib.sha1(work.encode("utf-8")).hexdigest()[:8]


class DeadLetterStore:
    def __init__(self, redis: redis_lib.Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys

    def add(self, work: str, reason: str, *, attempts: int, channel: str = "", summary: str = "") -> DeadLetter:
        letter = DeadLetter(letter_id(work), work, reason, attempts, time.time(), channel, summary)
        self.redis.hset(self.keys.dead_letters(), letter.id, json.dumps(asdict(letter), ensure_ascii=False))
        return letter

    def list(self) -> list[DeadLetter]:
        """Every dead letter, oldest first."""
        raw = self.redis.hvals(self.keys.dead_letters())
        return sorted((DeadLetter(**json.loads(r)) for r in raw), key=lambda d: d.at)

    def get(self, letter_id: str) -> DeadLetter | None:
        raw = self.redis.hget(self.keys.dead_letters(), letter_id)
        return DeadLetter(**json.loads(raw)) if raw else None

    def remove(self, letter_id: str) -> bool:
        return bool(self.redis.hdel(self.keys.dead_letters(), letter_id))

    def count(self) -> int:
        return int(self.redis.hlen(self.keys.dead_letters()))
