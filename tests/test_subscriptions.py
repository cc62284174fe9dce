"""SubscriptionStore on the real Redis: ids people type, filters, static routes, broken channels."""

from __future__ import annotations

import pytest
import redis as redis_lib

from core.errors import UsageError
from core.feeds import RouteConfig
from core.keys import Keys
from core.models import Event
from core.subscriptions import SubscriptionStore


def ev(**fields: object) -> Event:
    base: dict[str, object] = {"id": "e1", "feed_id": "mofcom", "title": "China restricts gallium exports",
                               "link": "https://x", "elements": ["Ga"], "severity": "high"}
    return Event(**(base | fields))  # type: ignore[arg-type]


def test_add_list_remove(redis: redis_lib.Redis, keys: Keys) -> None:
    store = SubscriptionStore(redis, keys)
    a = store.add("C1", "element", ["镝", "terbium"], min_severity="HIGH", digest="9:05", created_by="U1")
    assert (a.id, a.values, a.min_severity, a.digest) == ("1", ["Dy", "Tb"], "high", "09:05")
    assert store.add("C1", "element", ["Tb", "Dy"], min_severity="high", digest="09:05").id == "1"
    b = store.add("C1", "keyword", ["export licence"])
    assert [s.id for s in store.for_channel("C1")] == ["1", "2"]
    assert a.describe() == "1: elements Dy, Tb · min high · digest 09:05 UTC"
    assert store.remove("C2", b.id) is False and store.remove("C1", b.id) is True
    assert [s.id for s in store.for_channel("C1")] == ["1"]


@pytest.mark.parametrize(("kind", "values", "extra", "message"), [
    ("element", ["unobtainium"], {}, "unknown element"),
    ("feed", [], {}, "needs at least one value"),
    ("all", [], {"min_severity": "awful"}, "unknown severity"),
    ("all", [], {"digest": "25:00"}, "bad digest time"),
    ("everything", [], {}, "unknown subscription kind"),
])
def test_bad_filters_are_usage_errors(redis: redis_lib.Redis, keys: Keys, kind: str, values: list[str],
                                      extra: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        SubscriptionStore(redis, keys).add("C1", kind, values, **extra)


def test_matching_one_per_channel_immediate_wins(redis: redis_lib.Redis, keys: Keys) -> None:
    store = SubscriptionStore(redis, keys, routes=[
        RouteConfig(channel="C9", feeds=["mofcom"], keywords=["gallium"], min_severity="critical"),
        RouteConfig(channel="C8", elements=["Ga"]),
    ])
    store.add("C1", "all", digest="08:00")
    store.add("C1", "keyword", ["GALLIUM"])
    store.add("C2", "element", ["Dy"])
    store.add("C3", "all", min_severity="critical")
    store.add("C4", "keyword", ["gall"])  # a word, not a prefix
    matched = store.matching(ev())
    assert sorted(matched) == ["C1", "C8"]
    assert matched["C1"].kind == "keyword" and matched["C8"].id == "route2" and matched["C8"].static
    assert sorted(store.matching(ev(severity="critical"))) == ["C1", "C3", "C8", "C9"]
    assert [s.id for s in store.for_channel("C9")] == ["route1.feed", "route1.keyword"]
    with pytest.raises(UsageError, match=r"feeds\.yaml"):
        store.remove("C9", "route1.feed")
    zh = ev(title="商务部：对镓实施出口管制", elements=[])
    store.add("C5", "keyword", ["出口管制"])
    assert "C5" in store.matching(zh)


def test_broken_channels_are_flagged_until_resubscribed(redis: redis_lib.Redis, keys: Keys) -> None:
    store = SubscriptionStore(redis, keys)
    store.add("C1", "all")
    store.mark_broken("C1", "channel_not_found")
    assert store.for_channel("C1")[0].broken == "channel_not_found"
    assert "C1" in store.matching(ev()), "posting is still tried: the failure lands in dead letters"
    store.add("C1", "feed", ["mofcom"])
    assert store.broken() == {}
