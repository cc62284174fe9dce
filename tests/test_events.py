"""EventStore on a real Redis: indexes by time, feed and element; filters; daily counts; retention."""

from __future__ import annotations

import redis as redis_lib

from core.events import DAY, EventStore
from core.keys import Keys
from core.models import Event

T0 = 1_800_000_000.0 - (1_800_000_000.0 % DAY) + 12 * 3600  # noon UTC


def _event(i: int, *, feed: str = "f1", elements: list[str] | None = None, when: float = T0,
           title: str = "", severity: str = "info") -> Event:
    return Event(id=f"{feed}:e{i}", feed_id=feed, title=title or f"story {i}", link=f"https://e.com/{i}",
                 published=when, fetched_at=when, elements=elements or [], severity=severity)


def test_add_get_and_get_many(redis: redis_lib.Redis, keys: Keys) -> None:
    store = EventStore(redis, keys, 30 * DAY)
    a, b = _event(1, elements=["Dy"]), _event(2)
    assert store.add(a, now=T0) is True
    assert store.add(a, now=T0) is False  # same id again: an update
    store.add(b, now=T0)
    assert store.get(a.id) == a
    assert store.get("nope") is None
    assert [e.id for e in store.get_many([b.id, "missing", a.id])] == [b.id, a.id]


def test_recent_filters(redis: redis_lib.Redis, keys: Keys) -> None:
    store = EventStore(redis, keys, 30 * DAY)
    store.add(_event(1, elements=["Dy", "Tb"], when=T0 - 3600, title="Dysprosium curbs"), now=T0)
    store.add(_event(2, feed="f2", elements=["Nd"], when=T0 - 7200, title="Neodymium magnet plant"), now=T0)
    store.add(_event(3, elements=["Dy"], when=T0 - 5 * DAY, title="Old dysprosium news"), now=T0)
    assert [e.id for e in store.recent()] == ["f1:e1", "f2:e2", "f1:e3"]
    assert [e.id for e in store.recent(element="Dy")] == ["f1:e1", "f1:e3"]
    assert [e.id for e in store.recent(feed_id="f2")] == ["f2:e2"]
    assert [e.id for e in store.recent(element="Dy", feed_id="f2")] == []
    assert [e.id for e in store.recent(keyword="MAGNET")] == ["f2:e2"]
    assert [e.id for e in store.recent(since=T0 - DAY)] == ["f1:e1", "f2:e2"]
    assert len(store.recent(limit=1)) == 1


def test_retagging_moves_element_indexes(redis: redis_lib.Redis, keys: Keys) -> None:
    store = EventStore(redis, keys, 30 * DAY)
    event = _event(1, elements=["Dy"])
    store.add(event, now=T0)
    event.elements = ["Tb"]
    store.add(event, now=T0)
    assert store.recent(element="Dy") == [] and [e.id for e in store.recent(element="Tb")] == [event.id]


def test_daily_counts(redis: redis_lib.Redis, keys: Keys) -> None:
    store = EventStore(redis, keys, 30 * DAY)
    for i, days_ago in enumerate([0, 0, 1, 3, 13, 20]):
        store.add(_event(i, elements=["Dy"], when=T0 - days_ago * DAY), now=T0)
    counts = store.daily_counts("Dy", days=14, now=T0)
    assert len(counts) == 14
    assert counts[-1] == 2 and counts[-2] == 1 and counts[-4] == 1 and counts[0] == 1
    assert sum(counts) == 5  # the 20-day-old one is outside the window
    assert store.daily_counts("Tb", days=3, now=T0) == [0, 0, 0]


def test_retention_expires_events_and_prunes_indexes(redis: redis_lib.Redis, keys: Keys) -> None:
    store = EventStore(redis, keys, 2 * DAY)
    old = _event(1, elements=["Dy"], when=T0 - DAY)
    store.add(old, now=T0)
    assert 0 < redis.ttl(keys.event(old.id)) <= DAY
    store.add(_event(2, elements=["Dy"], when=T0 + 2 * DAY), now=T0 + 2 * DAY)  # a write prunes the indexes
    assert redis.zscore(keys.events_by_time(), old.id) is None
    assert redis.zscore(keys.events_by_element("Dy"), old.id) is None
