"""Channels named in feeds.yaml ("#supply-risk"): Slack takes a name only in chat.postMessage and answers
with the id; threads, "also reported by" edits and crash reconciliation must use that id."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from core.settings import Settings
from core.subscriptions import SubscriptionStore
from tests.fakes.slack_api import SlackStandIn
from tests.test_deliver import make_event, route
from workers import context
from workers.context import WorkerContext
from workers.slack_out import SlackOut


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(channel_rate=200.0, channel_burst=50, resolve_names=True) as standin:
        yield standin


@pytest.fixture
def settings(settings: Settings, slack: SlackStandIn) -> Settings:
    return settings.model_copy(update={"slack_api_url": slack.api_url, "delivery_lease": 2.0,
                                       "slack_channel_rate": 100.0, "slack_channel_burst": 20})


@pytest.fixture
def ctx(settings: Settings) -> WorkerContext:
    return context.install(settings)


def test_thread_and_edit_reach_a_channel_given_by_name(ctx: WorkerContext, slack: SlackStandIn,
                                                       burst_worker: Callable[[], bool]) -> None:
    SubscriptionStore(ctx.redis, ctx.keys).add("#supply-risk", "all")
    title = "China's commerce ministry suspends exports of dysprosium and terbium to US defence firms"
    first, cluster = make_event(ctx, title, source="Reuters")
    route(ctx, first, cluster)
    burst_worker()
    later, cluster2 = make_event(ctx, title, source="Argus")
    assert cluster2.id == cluster.id
    route(ctx, later, cluster2)
    burst_worker()
    channel_id = slack.channel_id("#supply-risk")
    assert channel_id.startswith("C"), channel_id
    top = slack.messages(channel_id)
    assert len(top) == 1
    assert [r.text.split(":")[0] for r in slack.thread(channel_id, top[0].ts)] == ["Also reported by Argus"]
    assert top[0].edits == 1, "chat.update must have used the channel id"
    assert not [c for c in slack.calls if c.status == 200 and c.response.get("error") == "channel_not_found"]
    out = SlackOut(ctx)
    assert out.channel_id("#supply-risk") == channel_id
    assert out.channel_id("C0123") == "C0123"
    assert [m["ts"] for m in out.history("#supply-risk", oldest=0)] == [top[0].ts]
