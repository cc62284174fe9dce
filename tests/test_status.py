"""Element status on the real Redis: levels from stored events and measures, overrides, history."""

from __future__ import annotations

import datetime as dt

import redis as redis_lib

from core.events import EventStore
from core.keys import Keys
from core.levels import from_events, from_measures
from core.models import Event, Level
from core.status import StatusChange, StatusStore

DAY = 86400.0
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC).timestamp()
TODAY = dt.date(2026, 11, 26)


def event(eid: str, severity: str, *, age: float, cluster: str = "", elements: tuple[str, ...] = ("La",)) -> Event:
    return Event(id=eid, feed_id="f", title=f"story {eid}", link="https://x.test", fetched_at=NOW - age,
                 published=NOW - age, elements=list(elements), severity=severity, cluster_id=cluster or eid)


def test_levels_from_events_table() -> None:
    cases = [
        ([], Level.NORMAL),
        ([event("1", "critical", age=3600)], Level.CRITICAL),
        ([event("1", "critical", age=5 * DAY)], Level.ELEVATED),
        ([event("1", "high", age=DAY)], Level.ELEVATED),
        ([event("1", "high", age=10 * DAY)], Level.WATCH),
        ([event("1", "elevated", age=DAY)], Level.WATCH),
        ([event("1", "info", age=DAY)], Level.NORMAL),
        ([event("1", "critical", age=20 * DAY)], Level.NORMAL),
        # an easing story newer than the critical one lowers the level one step
        ([event("1", "critical", age=2 * DAY), event("2", "easing", age=DAY)], Level.ELEVATED),
        # ten outlets of one story count once, by the cluster's worst and earliest report
        ([event(f"r{i}", "high", age=DAY, cluster="c1") for i in range(10)], Level.ELEVATED),
    ]
    for events, expected in cases:
        assert from_events(events, NOW).level is expected, events


def test_measures_floor_today() -> None:
    assert from_measures("Dy", TODAY).level is Level.WATCH  # No.18 licensing in force
    ho = from_measures("Ho", TODAY)
    assert ho.level is Level.WATCH and "no extension is confirmed" in ho.reason  # No.70 ran out on 10 Nov
    ga = from_measures("Ga", TODAY)
    assert ga.level is Level.WATCH
    assert from_measures("La", TODAY).level is Level.NORMAL
    assert from_measures("Ho", dt.date(2026, 6, 1)).level is Level.NORMAL  # suspended, months to go


def test_recompute_returns_changes_and_records_history(redis: redis_lib.Redis, keys: Keys) -> None:
    events = EventStore(redis, keys, 30 * DAY)
    status = StatusStore(redis, keys)
    assert status.recompute(["La"], now=NOW) == []  # normal stays normal: nothing to post
    events.add(event("1", "critical", age=3600), now=NOW)
    changes = status.recompute(["La", "La"], now=NOW)
    assert [(c.symbol, c.old, c.new) for c in changes] == [("La", Level.NORMAL, Level.CRITICAL)]
    assert "critical story" in changes[0].reason
    assert status.recompute(["La"], now=NOW + 60) == []  # unchanged: no duplicate change
    later = status.recompute(["La"], now=NOW + 5 * DAY)
    assert [(c.old, c.new) for c in later] == [(Level.CRITICAL, Level.ELEVATED)]
    assert [(h.old, h.new) for h in status.history("La")] == [(Level.CRITICAL, Level.ELEVATED),
                                                              (Level.NORMAL, Level.CRITICAL)]
    got = status.get("La", now=NOW + 5 * DAY)
    assert got.level is Level.ELEVATED and got.since == NOW + 5 * DAY and got.override is None
    board = status.board(["La", "Ho"], now=NOW)
    assert [b.symbol for b in board] == ["La", "Ho"] and board[1].level is Level.WATCH  # derived, not stored


def test_override_with_expiry_author_and_audit(redis: redis_lib.Redis, keys: Keys) -> None:
    status = StatusStore(redis, keys)
    change = status.set_override("Nd", "critical", "magnet plant fire", "U123", expires_at=NOW + DAY, now=NOW)
    assert change is not None and change.new is Level.CRITICAL and change.author == "U123"
    got = status.get("Nd", now=NOW + 60)
    assert got.level is Level.CRITICAL and got.computed_level is Level.NORMAL
    assert got.override is not None and got.override.reason == "magnet plant fire"
    # same level again: audited, but no change to post
    again = status.set_override("Nd", Level.CRITICAL, "still burning", "U456", expires_at=NOW + DAY, now=NOW + 120)
    assert again is None
    expired = status.recompute(["Nd"], now=NOW + 2 * DAY)
    assert [(c.old, c.new) for c in expired] == [(Level.CRITICAL, Level.NORMAL)]
    assert "override expired" in expired[0].reason
    history = status.history("Nd")
    assert [h.author for h in history] == [None, "U456", "U123"]
    cleared = status.set_override("Nd", None, "done", "U123", now=NOW + 3 * DAY)
    assert cleared is None and status.history("Nd")[0].reason.startswith("override cleared by U123")


def test_easing_story_never_raises_a_level(redis: redis_lib.Redis, keys: Keys) -> None:
    events = EventStore(redis, keys, 30 * DAY)
    status = StatusStore(redis, keys)
    # Ga was never recomputed; its measures put it at watch. An easing story about it is not a rise to post.
    events.add(event("e1", "easing", age=60, elements=("Ga", "Ge")), now=NOW)
    assert status.recompute(["Ga", "Ge"], now=NOW, cause="easing") == []
    assert status.get("Ga", now=NOW).level is Level.WATCH and status.history("Ga") == []
    # La recorded at normal; a critical story stored without a recompute, then an easing story triggers one
    assert status.recompute(["La"], now=NOW) == []
    events.add(event("c1", "critical", age=3 * 3600), now=NOW)
    events.add(event("e2", "easing", age=3600, elements=("La",)), now=NOW)
    assert status.recompute(["La"], now=NOW, cause="easing") == []
    assert status.get("La", now=NOW).level is Level.NORMAL
    # the next non-easing story reveals the level the stories call for (one step down: eased since)
    raised = status.recompute(["La"], now=NOW, cause="info")
    assert [(c.old, c.new) for c in raised] == [(Level.NORMAL, Level.ELEVATED)]
    assert "eased by a newer story" in raised[0].reason


def test_easing_story_may_lower_a_level(redis: redis_lib.Redis, keys: Keys) -> None:
    events = EventStore(redis, keys, 30 * DAY)
    status = StatusStore(redis, keys)
    events.add(event("c1", "critical", age=2 * DAY), now=NOW)
    assert [c.new for c in status.recompute(["La"], now=NOW, cause="critical")] == [Level.CRITICAL]
    events.add(event("e1", "easing", age=60), now=NOW)
    lowered = status.recompute(["La"], now=NOW, cause="easing")
    assert [(c.old, c.new) for c in lowered] == [(Level.CRITICAL, Level.ELEVATED)]


def test_first_recompute_starts_from_the_measures_floor(redis: redis_lib.Redis, keys: Keys) -> None:
    events = EventStore(redis, keys, 30 * DAY)
    status = StatusStore(redis, keys)
    events.add(event("c1", "critical", age=60, elements=("Dy", "Tb", "La")), now=NOW)
    changes = {c.symbol: (c.old, c.new) for c in status.recompute(["Dy", "La", "Tb", "Nd"], now=NOW)}
    # Dy and Tb were at watch (No.18 licensing) before the story, as the board showed; Nd stays put
    assert changes == {"Dy": (Level.WATCH, Level.CRITICAL), "La": (Level.NORMAL, Level.CRITICAL),
                       "Tb": (Level.WATCH, Level.CRITICAL)}
    assert status.get("Nd", now=NOW).level is Level.NORMAL and status.get("Nd", now=NOW).updated_at == NOW


def test_concurrent_recomputes_record_one_change(redis: redis_lib.Redis, keys: Keys, redis_server_url: str) -> None:
    import threading

    from core.redisconn import connect

    events = EventStore(redis, keys, 30 * DAY)
    for i in range(30):
        events.add(event(f"c{i}", "critical", age=60 + i, elements=("La", "Ce")), now=NOW)
    found: list[StatusChange] = []

    def work() -> None:
        found.extend(StatusStore(connect(redis_server_url), keys).recompute(["La", "Ce"], now=NOW))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted((c.symbol, c.new) for c in found) == [("Ce", Level.CRITICAL), ("La", Level.CRITICAL)]
    assert len(StatusStore(redis, keys).history("La")) == 1
