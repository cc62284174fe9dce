"""Stored events with indexes by time, by feed and by element, all with the same retention.

    EventStore(redis, keys, retention_seconds): add, get, get_many, recent, daily_counts,
                                                card_parts, get_many_cached

An event is one JSON string (`Keys.event`) that expires after the retention; each index is a sorted
set scored by the event's time (`Event.when`), pruned of entries older than the retention on write,
so readers may meet an index entry whose event has expired and simply skip it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis as redis_lib
from redis.commands.core import Script

from core.keys import Keys
from core.models import Event

_SCAN_PAGE = 200
#: recent() with a keyword reads at most this many indexed events looking for matches.
_SCAN_LIMIT = 5000
DAY = 86400
#: Parsed events kept per process by get_many_cached (an event is ~2 KB parsed; 4096 is ~8 MB at most).
CACHE_SIZE = 4096

# One round trip for the element card: the newest ids of the element's index, its per-day counts, the
# members of a zset scored by end time that have not ended (on-call overrides), and some plain GETs.
_CARD_PARTS = """
local ids = redis.call('ZREVRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local days, today = tonumber(ARGV[2]), tonumber(ARGV[3])
local counts = {}
for back = days - 1, 0, -1 do
  local start = today - back * 86400
  counts[#counts + 1] = redis.call('ZCOUNT', KEYS[1], string.format('%d', start),
                                   '(' .. string.format('%d', start + 86400))
end
local upcoming = {}
if KEYS[2] ~= '' then upcoming = redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[4], '+inf') end
local strings = {}
for i = 3, #KEYS do
  local v = redis.call('GET', KEYS[i])
  strings[#strings + 1] = v and v or ''
end
return {ids, counts, upcoming, strings}
"""


@dataclass(frozen=True, slots=True)
class CardParts:
    """Raw parts of an element card read in one round trip (see EventStore.card_parts)."""

    ids: list[str]  # newest first
    counts: list[int]  # per UTC day, oldest first, today last
    upcoming: list[str]  # members of the `upcoming` zset scored after `now`
    strings: list[str | None]  # the values of `strings`, None for a missing key


class _Parsed:
    """A bounded, thread-safe LRU of parsed events by key. Stored events do not change once written (a
    re-tag rewrites elements only, which no reader of this cache uses), so a hit needs no Redis read;
    each entry keeps the time its key expires, after which it is a miss like the expired key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, tuple[Event, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, now: float) -> Event | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is None:
                return None
            if hit[1] <= now:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return hit[0]

    def get_many(self, keys: list[str], now: float) -> list[Event | None]:
        """get() for each key under one lock acquisition (a card reads 20)."""
        out: list[Event | None] = []
        with self._lock:
            for key in keys:
                hit = self._items.get(key)
                if hit is not None and hit[1] <= now:
                    del self._items[key]
                    hit = None
                if hit is not None:
                    self._items.move_to_end(key)
                out.append(None if hit is None else hit[0])
        return out

    def put(self, key: str, event: Event, expires_at: float) -> None:
        with self._lock:
            self._items[key] = (event, expires_at)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_PARSED = _Parsed(CACHE_SIZE)


class EventStore:
    def __init__(self, redis: redis_lib.Redis, keys: Keys, retention_seconds: float) -> None:
        self.redis = redis
        self.keys = keys
        self.retention = retention_seconds
        self._card_script: Script | None = None

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

    def get_many_cached(self, event_ids: Iterable[str], *, now: float | None = None) -> list[Event]:
        """As get_many, from this process's cache of parsed events; one MGET for the ids it lacks (none
        in the steady state). Do not mutate the events returned: they are shared."""
        now = time.time() if now is None else now
        ids = list(event_ids)
        found: dict[str, Event] = {}
        missing = []
        for i, hit in zip(ids, _PARSED.get_many([self.keys.event(i) for i in ids], now), strict=True):
            if hit is None:
                missing.append(i)
            else:
                found[i] = hit
        if missing:
            for i, raw in zip(missing, self.redis.mget([self.keys.event(i) for i in missing]), strict=True):
                if raw:
                    event = Event.from_json(raw)
                    _PARSED.put(self.keys.event(i), event, event.when + self.retention)
                    found[i] = event
        return [found[i] for i in ids if i in found]

    def card_parts(self, symbol: str, *, latest: int, days: int = 14, now: float | None = None,
                   strings: Sequence[str] = (), upcoming: str | None = None) -> CardParts:
        """In one round trip (a Lua script): the newest `latest` event ids about `symbol`, its daily counts
        as daily_counts() gives them, the members of the zset `upcoming` scored after `now`, and the
        values of the plain keys `strings` (the card's status and override)."""
        now = time.time() if now is None else now
        today = int(now - now % DAY)
        ids, counts, members, values = self._eval_card(
            [self.keys.events_by_element(symbol), upcoming or "", *strings], [latest, days, today, repr(now)])
        return CardParts(ids=[str(i) for i in ids], counts=[int(n) for n in counts],
                         upcoming=[str(m) for m in members], strings=[str(v) if v else None for v in values])

    def _eval_card(self, keys: list[str], args: list[int | str]) -> list[list[str]]:
        """The card script's reply. On a single-connection client (bot.deps.Deps.thread_redis) EVALSHA goes
        straight through its connection, skipping redis-py's per-command layers (about a quarter of the
        request's Python time in the element card); any failure there (a dropped connection, a server
        that lost the script) disconnects and takes redis-py's regular path, which reconnects, retries
        and loads the script."""
        if self._card_script is None:  # EVALSHA from then on (redis-py reloads it after a server restart)
            self._card_script = self.redis.register_script(_CARD_PARTS)
        conn = getattr(self.redis, "connection", None)  # only a single-connection client holds one
        if conn is not None:
            with self.redis.single_connection_lock:
                try:
                    conn.send_command("EVALSHA", self._card_script.sha, len(keys), *keys, *args)
                    return conn.read_response()  # type: ignore[no-any-return]
                except (redis_lib.ConnectionError, redis_lib.TimeoutError, redis_lib.ResponseError):
                    conn.disconnect()
        return self._card_script(keys=keys, args=args)  # type: ignore[no-any-return]

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
