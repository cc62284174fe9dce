"""The periodic status refresh: levels fall as stories age, and the change reaches subscribed channels."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from core.events import EventStore
from core.models import Event, Level
from core.settings import Settings
from core.status import StatusStore
from core.subscriptions import SubscriptionStore
from tests.fakes.slack_api import SlackStandIn
from workers import context, tasks
from workers.context import WorkerContext
from workers.runner import make_scheduler

DAY = 86400.0


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


def test_levels_fall_as_stories_age_and_the_change_is_posted(
        ctx: WorkerContext, slack: SlackStandIn, burst_worker: Callable[[], bool]) -> None:
    now = time.time()
    ban = Event(id="ban1", feed_id="wire", title="China bans lanthanum exports", link="https://x.test/1",
                published=now - 3600, fetched_at=now - 3600, elements=["La"], severity="critical",
                cluster_id="ban1")
    EventStore(ctx.redis, ctx.keys, 30 * DAY).add(ban)
    statuses = StatusStore(ctx.redis, ctx.keys)
    [rise] = statuses.recompute(["La"], now=now)
    assert rise.new is Level.CRITICAL
    SubscriptionStore(ctx.redis, ctx.keys).add("C1", "element", ["La"])

    assert tasks.refresh_statuses(now=now + 60) == 0, "nothing has aged yet"
    assert tasks.refresh_statuses(now=now + 5 * DAY) == 1  # past 3 days a critical story reads elevated
    assert statuses.get("La", now=now + 5 * DAY).level is Level.ELEVATED
    assert tasks.refresh_statuses(now=now + 5 * DAY) == 0, "a second refresh changes nothing"
    burst_worker()
    [post] = slack.messages("C1")
    assert "critical" in post.text and "elevated" in post.text
    assert [h.new for h in statuses.history("La")][:2] == [Level.ELEVATED, Level.CRITICAL]


def test_the_scheduler_runs_the_refresh(settings: Settings) -> None:
    names = [job.func_name for job in make_scheduler(settings).get_jobs()]
    assert "workers.tasks.refresh_statuses" in names
