"""Digests: a channel's matching events since the last digest, in one message at the set time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from core.blockkit import validate_message
from core.settings import Settings
from core.subscriptions import SubscriptionStore
from tests.fakes.slack_api import SlackStandIn
from tests.test_deliver import make_event, route
from workers import context
from workers.context import WorkerContext
from workers.digests import digest_tick


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(channel_rate=200.0, channel_burst=50) as standin:
        yield standin


@pytest.fixture
def settings(settings: Settings, slack: SlackStandIn) -> Settings:
    return settings.model_copy(update={"slack_api_url": slack.api_url, "delivery_lease": 2.0})


@pytest.fixture
def ctx(settings: Settings) -> WorkerContext:
    return context.install(settings)


def at(day: int, hhmm: str) -> float:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(2026, 3, day, hour, minute, 30, tzinfo=UTC).timestamp()


def test_digest_gathers_events_once_per_day(ctx: WorkerContext, slack: SlackStandIn,
                                           burst_worker: Callable[[], bool]) -> None:
    store = SubscriptionStore(ctx.redis, ctx.keys)
    store.add("C2", "element", ["Dy", "Tb"], digest="09:00")
    store.add("C3", "all", digest="17:45")
    title = "Japan stockpiles dysprosium as China tightens heavy rare earth licences"
    first, cluster = make_event(ctx, title, source="Nikkei", elements=["Dy"])
    second, same = make_event(ctx, title, source="Reuters", elements=["Dy"])
    third, other = make_event(ctx, "Terbium oxide price hits record in Shanghai trading", elements=["Tb"],
                              cluster=False)
    for event, c in ((first, cluster), (second, same), (third, other)):
        route(ctx, event, c)
    burst_worker()
    assert slack.channels() == [], "digest subscriptions post nothing as it happens"

    assert digest_tick(at(1, "08:59"), ctx) == 0  # not yet
    assert digest_tick(at(1, "09:00"), ctx) == 1  # C2's digest; C3's time has not come
    assert digest_tick(at(1, "09:01"), ctx) == 0  # once a day
    burst_worker()
    [digest] = slack.messages("C2")
    assert validate_message(digest.text, digest.blocks) == []
    lines = [b["text"]["text"] for b in digest.blocks if b.get("block_id", "").startswith("d")
             and b["block_id"] != "digest_head"]
    assert len(lines) == 2, "two stories: the same headline twice is one story"
    assert "Terbium oxide price" in "".join(lines) and "2 stories" in digest.text
    assert ctx.redis.zcard(ctx.keys.digest("C2")) == 0

    assert digest_tick(at(2, "09:00"), ctx) == 1  # next day, nothing new: queued but not posted
    burst_worker()
    assert len(slack.messages("C2")) == 1

    late, c4 = make_event(ctx, "Dysprosium metal shipments resume", elements=["Dy"], cluster=False)
    route(ctx, late, c4)
    assert digest_tick(at(3, "09:05"), ctx) == 1
    burst_worker()
    assert len(slack.messages("C2")) == 2 and "1 story" in slack.messages("C2")[1].text


def test_new_digest_time_long_past_waits_for_tomorrow(ctx: WorkerContext, slack: SlackStandIn,
                                                     burst_worker: Callable[[], bool]) -> None:
    SubscriptionStore(ctx.redis, ctx.keys).add("C5", "all", digest="06:00")
    event, cluster = make_event(ctx, "Greenland rare earth project wins permit", elements=["Nd"], cluster=False)
    route(ctx, event, cluster)
    assert digest_tick(at(1, "15:00"), ctx) == 0
    assert digest_tick(at(2, "06:00"), ctx) == 1
    burst_worker()
    assert len(slack.messages("C5")) == 1


def test_digest_times_follow_the_configured_zone(settings: Settings, slack: SlackStandIn,
                                                burst_worker: Callable[[], bool]) -> None:
    ctx = context.install(settings.model_copy(update={"timezone": "Europe/Berlin"}))
    SubscriptionStore(ctx.redis, ctx.keys).add("C6", "all", digest="09:00")
    event, cluster = make_event(ctx, "Vietnam rare earth refinery starts trial runs", elements=["Nd"], cluster=False)
    route(ctx, event, cluster)
    # 1 March 2026 is winter time in Berlin (UTC+1): 09:00 there is 08:00 UTC.
    assert digest_tick(at(1, "07:59"), ctx) == 0
    assert digest_tick(at(1, "08:00"), ctx) == 1
    burst_worker()
    assert len(slack.messages("C6")) == 1
    # 30 March is summer time (UTC+2): the next slot that fires is 07:00 UTC.
    late, c2 = make_event(ctx, "Lynas ships first heavy rare earth oxide from Malaysia", elements=["Dy"],
                          cluster=False)
    route(ctx, late, c2)
    summer = datetime(2026, 3, 30, 7, 0, 30, tzinfo=UTC).timestamp()
    assert digest_tick(summer - 3600, ctx) == 0
    assert digest_tick(summer, ctx) == 1
    burst_worker()
    assert len(slack.messages("C6")) == 2
