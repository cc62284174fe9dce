"""Stored events with indexes by time, by feed and by element, all with the same retention.

    EventStore(redis, keys, retention_seconds): add, get, get_many, recent, daily_counts

An event is one JSON string (`Keys.event`) that expires after the retention; each index is a sorted
set scored by the event's time (`Event.when`), pruned of entries older than the retention on write,
so readers may meet an index entry whose event has expired and simply skip it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import redis as redis_lib

from core.keys import Keys
from core.models import Event

_SCAN_PAGE = 200
#: recent() with a keyword reads at most this many indexed events looking for matches.
_SCAN_LIMIT = 5000
DAY = 86400


class EventStore:
    def __init__(self, redis: redis_lib.Redis, keys: Keys, retention_seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.retention = retention_seconds

    def _indexes(self, event: Event) -> list[str]:
        return [self.keys.events_by_time(), self.keys.events_by_feed(event.feed_id),
                *(self.keys.events_by_element(symbol) for symbol in event.elements)]

    def add(self, event: Event, *, now: float | None = None) -> bool:
        """Store (or overwrite) an event and index it; True when it was not stored before."""
        now = time.time() if now is None else now
        ttl = max(1, int(event.when + self.retention - now))
        cutoff = now - self.retention
        old = self.get(event.id)
        pipe = self.redis.pipeline()
        pipe.set(self.keys.event(event.id), event.to_json(), ex=ttl)
        if old is not None:  # re-tagged: drop element indexes it no longer belongs to
            for symbol in set(old.elements) - set(event.elements):
                pipe.zrem(self.keys.events_by_element(symbol), event.id)
        for index in self._indexes(event):
            pipe.zadd(index, {event.id: event.when})
            pipe.zremrangebyscore(index, "-inf", f"({cutoff}")
            pipe.expire(index, int(self.retention) + DAY)
        pipe.execute()
        return old is None

    def get(self, event_id: str) -> Event | None:
        raw = self.redis.get(self.keys.event(event_id))
        return Event.from_json(raw) if raw else None

    def get_many(self, event_ids: Iterable[str]) -> list[Event]:
        """Events in the given order; ids that expired are skipped."""
        ids = list(event_ids)
        if not ids:
            return []
        raws = self.redis.mget([self.keys.event(i) for i in ids])
        return [Event.from_json(raw) for raw in raws if raw]

    def recent(self, element: str | None = None, feed_id: str | None = None, keyword: str | None = None,
               since: float | None = None, limit: int = 50) -> list[Event]:
        """Newest first, optionally for one element, one feed, a keyword (in title, text or summary), since a time."""
        if element:
            index = self.keys.events_by_element(element)
        elif feed_id:
            index = self.keys.events_by_feed(feed_id)
        else:
            index = self.keys.events_by_time()
        low = "-inf" if since is None else since
        needle = keyword.casefold() if keyword else None
        found: list[Event] = []
        offset = 0
        while len(found) < limit and offset < _SCAN_LIMIT:
            ids = [str(i) for i in self.redis.zrevrangebyscore(index, "+inf", low, start=offset, num=_SCAN_PAGE)]
            if not ids:
                break
            offset += len(ids)
            for event in self.get_many(ids):
                if feed_id and event.feed_id != feed_id:
                    continue
                if needle and needle not in f"{event.title}\n{event.text}\n{event.summary}".casefold():
                    continue
                found.append(event)
                if len(found) >= limit:
                    break
        return found

    def daily_counts(self, symbol: str, days: int = 14, *, now: float | None = None) -> list[int]:
        """Events about `symbol` per UTC day, oldest first; the last entry is today so far."""
        now = time.time() if now is None else now
        today = now - now % DAY
        pipe = self.redis.pipeline(transaction=False)
        index = self.keys.events_by_element(symbol)
        for back in range(days - 1, -1, -1):
            start = today - back * DAY
            pipe.zcount(index, start, f"({start + DAY}")
        return [int(n) for n in pipe.execute()]

    def count(self) -> int:
        return int(self.redis.zcard(self.keys.events_by_time()))
