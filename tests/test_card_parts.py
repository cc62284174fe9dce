"""The element card's one-round-trip read (EventStore.card_parts), the parsed-event cache and the
rendering memo: same answers as the separate reads, and never stale."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib
from slack_bolt import App

from bot.deps import Deps
from core.events import EventStore
from core.keys import Keys
from core.models import Event
from core.oncall import Override
from core.oncall_store import OverrideStore
from core.settings import Settings
from core.status import StatusStore
from tests.slackreq import ack_json, dispatch, slash

pytest_plugins = ("tests.slackreq",)  # the app, app_settings and slack fixtures

DAY = 86400


def _event(i: int, now: float, symbol: str = "Dy", age: float = 3600.0) -> Event:
    return Event(id=f"cp{i}", feed_id="wire", title=f"Story {i} about {symbol}", link=f"https://news.example/{i}",
                 published=now - age, fetched_at=now, source="Wire", elements=[symbol], severity="high",
                 cluster_id=f"cl{i}")


def test_card_parts_match_the_separate_reads(redis: redis_lib.Redis, keys: Keys) -> None:
    now = time.time()
    store = EventStore(redis, keys, 30 * DAY)
    for i in range(30):
        store.add(_event(i, now, age=i * 40000.0 + 1), now=now)
    store.add(_event(99, now, symbol="Nd"), now=now)
    StatusStore(redis, keys).recompute(["Dy"], now=now)
    StatusStore(redis, keys).set_override("Dy", "critical", "drill", "U0ADMIN", now=now)
    ended = Override(user="U0OLD", start=now - 7200, end=now - 60, by="U0ADMIN", at=now - 7200)
    running = Override(user="U0NEW", start=now - 60, end=now + 3600, by="U0ADMIN", at=now - 60)
    OverrideStore(redis, keys).add(ended)
    OverrideStore(redis, keys).add(running)

    parts = store.card_parts("Dy", latest=20, days=14, now=now, upcoming=keys.oncall_override(),
                             strings=[keys.status("Dy"), keys.status_override("Dy"), keys.status("Xx")])
    assert parts.ids == [str(i) for i in redis.zrevrange(keys.events_by_element("Dy"), 0, 19)]
    assert parts.ids[0] == "cp0" and len(parts.ids) == 20
    assert parts.counts == store.daily_counts("Dy", days=14, now=now) and sum(parts.counts) > 0
    assert OverrideStore.decode(parts.upcoming) == OverrideStore(redis, keys).active(now) == [running]
    assert parts.strings == [redis.get(keys.status("Dy")), redis.get(keys.status_override("Dy")), None]
    st = StatusStore(redis, keys).from_raw("Dy", parts.strings[0], parts.strings[1], now=now)
    assert st == StatusStore(redis, keys).get("Dy", now=now) and st.level.value == "critical"


def test_card_parts_of_an_element_without_data(redis: redis_lib.Redis, keys: Keys) -> None:
    parts = EventStore(redis, keys, 30 * DAY).card_parts("Lu", latest=5, days=3)
    assert parts.ids == [] and parts.counts == [0, 0, 0] and parts.upcoming == [] and parts.strings == []


def test_cached_events_are_the_stored_ones_and_expire_with_them(redis: redis_lib.Redis, keys: Keys) -> None:
    now = time.time()
    store = EventStore(redis, keys, 30 * DAY)
    events = [_event(i, now) for i in range(3)]
    for ev in events:
        store.add(ev, now=now)
    assert store.get_many_cached(["cp2", "nope", "cp0"], now=now) == [events[2], events[0]]
    redis.delete(keys.event("cp0"))  # a second read is served from the cache: no Redis read needed
    assert store.get_many_cached(["cp0"], now=now) == [events[0]]
    later = events[0].when + 30 * DAY + 1  # past the event's retention it is gone, as its key would be
    assert store.get_many_cached(["cp0", "cp1"], now=later) == [events[1]]


def test_status_card_is_never_stale(app: App, app_settings: Settings) -> None:
    deps = Deps(app_settings)
    now = time.time()
    deps.events.add(_event(1, now), now=now)
    deps.status.recompute(["Dy"], now=now)
    first = ack_json(dispatch(app, slash("status Dy")))
    assert "Story 1 about Dy" in str(first["blocks"])
    deps.status.set_override("Dy", "critical", "drill in progress", "U0ADMIN")
    deps.events.add(_event(2, now), now=now)
    second = ack_json(dispatch(app, slash("status Dy")))  # same minute: the memo must not hide either change
    assert "Status: critical" in str(second["blocks"]) and "drill in progress" in second["text"]
    assert "Story 2 about Dy" in str(second["blocks"])
    again = ack_json(dispatch(app, slash("status Dy")))
    assert again == second


class _Clock:
    """Stands in for the `time` module of bot.commands.status: the card's `now` is whatever the test sets."""

    strftime, gmtime = staticmethod(time.strftime), staticmethod(time.gmtime)

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


def test_card_memo_ends_when_an_override_expires_or_on_call_changes(
        app: App, app_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same read, same minute, but the answer changed: the memo must not outlive an override's expiry or the
    start of an on-call override (both within the minute)."""
    import bot.commands.status as status_module
    from tests.oncall_kit import PRIMARY, policy_yaml

    app_settings.feeds_file.write_text(policy_yaml("- {after: 0, notify: primary}"), encoding="utf-8")
    deps = Deps(app_settings)
    start = (time.time() // 60) * 60 + 1  # the first second of this minute: every step below stays in it
    clock = _Clock(start)
    monkeypatch.setattr(status_module, "time", clock)
    deps.events.add(_event(1, start), now=start)
    deps.status.recompute(["Dy"], now=start)
    deps.status.set_override("Dy", "critical", "drill until +10s", "U0ADMIN", expires_at=start + 10, now=start)
    OverrideStore(deps.redis, deps.keys).add(Override(user="U0COVER", start=start + 20, end=start + 3600,
                                                      by="U0ADMIN", at=start))

    def card() -> str:
        return str(ack_json(dispatch(app, slash("status Dy")))["blocks"])

    first = card()
    assert "drill until +10s" in first and f"<@{PRIMARY}>" in first and "U0COVER" not in first
    assert card() == first  # the memo answers a repeated read
    clock.now = start + 11  # the status override has expired
    expired = card()
    assert "drill until +10s" not in expired and f"<@{PRIMARY}>" in expired
    clock.now = start + 21  # the on-call override has begun
    assert "<@U0COVER>" in card()


def test_card_read_survives_a_lost_script_and_a_dropped_connection(app_settings: Settings) -> None:
    """The card's EVALSHA on the thread's own connection falls back to redis-py's regular path (which
    reloads the script and reconnects) and then goes direct again."""
    deps = Deps(app_settings)
    now = time.time()
    deps.events.add(_event(1, now), now=now)
    store = deps.card_events

    def read() -> list[str]:
        return list(store.card_parts("Dy", latest=5, days=3, now=now).ids)

    assert read() == ["cp1"]
    deps.redis.script_flush()  # e.g. Redis restarted without persistence
    assert read() == ["cp1"]
    deps.redis.client_kill_filter(_id=str(deps.thread_redis.client_id()))
    assert read() == ["cp1"]
    assert read() == ["cp1"] and deps.thread_redis.connection is not None
