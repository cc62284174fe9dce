"""A burst of 100 events to one channel, delivered by two worker processes sharing one pacing allowance."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from core.deadletters import DeadLetterStore
from core.settings import Settings
from core.subscriptions import SubscriptionStore
from tests.conftest import TEST_BOT_TOKEN
from tests.fakes.slack_api import SlackStandIn
from tests.test_deliver import make_event, route
from workers import context
from workers.outbox import Outbox

pytestmark = pytest.mark.slow
RATE = 10.0


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    # Slack's own allowance: RATE per second with a burst of 4; the client keeps a burst of 3.
    with SlackStandIn(channel_rate=RATE, channel_burst=4) as standin:
        yield standin


def test_hundred_events_one_channel_two_workers(settings: Settings, slack: SlackStandIn) -> None:
    settings = settings.model_copy(update={"slack_api_url": slack.api_url, "slack_channel_rate": RATE,
                                           "slack_channel_burst": 3})
    ctx = context.install(settings)
    SubscriptionStore(ctx.redis, ctx.keys).add("C1", "all")
    ids = []
    for n in range(100):
        event, cluster = make_event(ctx, f"Event {n}: rare earth update", cluster=False)
        route(ctx, event, cluster)
        ids.append(event.id)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REEWATCH_", "REDIS_"))}
    env |= {"REDIS_URL": str(settings.redis_url), "REEWATCH_REDIS_PREFIX": settings.redis_prefix,
            "SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": TEST_BOT_TOKEN, "SLACK_SIGNING_SECRET": "x",
            "REEWATCH_FEEDS_FILE": str(settings.feeds_file), "REEWATCH_SLACK_CHANNEL_RATE": str(RATE),
            "REEWATCH_SLACK_CHANNEL_BURST": "3", "REEWATCH_LOG_LEVEL": "WARNING"}
    workers = [subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--burst"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]

    posted = slack.messages("C1")
    items = sorted(m.metadata["event_payload"]["item"] for m in posted if m.metadata)
    assert items == sorted(ids), "every event exactly once"
    assert DeadLetterStore(ctx.redis, ctx.keys).list() == [] and Outbox(ctx).pending() == []
    limited = slack.rate_limited()
    # Any 429 Slack gave was waited out and retried: 100 successful posts, nothing lost.
    assert len([c for c in slack.calls_to("chat.postMessage") if c.ok]) == 100
    # Shared pacing keeps the two processes inside the allowance; a stray 429 from loopback jitter is
    # tolerated, a flood (what unpaced workers produce: ~90 of 100) is not.
    assert len(limited) <= 5, f"{len(limited)} answers of 429"
