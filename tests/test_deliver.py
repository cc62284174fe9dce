"""Delivery end to end: real Redis, real RQ burst workers, the Slack stand-in over HTTP."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis as redis_lib

from core.blockkit import validate_message
from core.clusters import ClusterStore
from core.deadletters import DeadLetterStore
from core.events import EventStore
from core.keys import Keys
from core.models import Cluster, Event
from core.settings import Settings
from core.subscriptions import SubscriptionStore
from tests.fakes.slack_api import Message, SlackStandIn
from workers import context, deliver
from workers.context import WorkerContext
from workers.outbox import Outbox

INJECTIONS = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<#C1|x>", "<https://evil|click>",
              "&lt;!channel&gt;", "&#60;!here&#62;", "&lt;@U123&gt;"]


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(channel_rate=200.0, channel_burst=50) as standin:
        yield standin


@pytest.fixture
def settings(settings: Settings, slack: SlackStandIn) -> Settings:
    return settings.model_copy(update={"slack_api_url": slack.api_url, "delivery_lease": 2.0,
                                       "slack_channel_rate": 100.0, "slack_channel_burst": 20})


@pytest.fixture
def ctx(settings: Settings) -> WorkerContext:
    return context.install(settings)


def make_event(ctx: WorkerContext, title: str, *, source: str = "Wire", text: str = "", severity: str = "high",
               elements: list[str] | None = None, feed_id: str = "wire", link: str = "https://example.com/a",
               cluster: bool = True) -> tuple[Event, Cluster]:
    """Store an event the way ingestion does (real cluster store and event store)."""
    event = Event(id=uuid.uuid4().hex[:12], feed_id=feed_id, title=title, link=link, text=text,
                  published=time.time(), fetched_at=time.time(), tier="wire", source=source,
                  elements=elements if elements is not None else ["Dy"], severity=severity,
                  summary=text[:300])
    if cluster:
        found, _ = ClusterStore(ctx.redis, ctx.keys).assign(event)
    else:
        event.cluster_id = event.id
        found = Cluster(event.id, 0.0, event.id, event.id, [event.id], [source])
    EventStore(ctx.redis, ctx.keys, 30 * 86400).add(event)
    return event, found


def route(ctx: WorkerContext, event: Event, cluster: Cluster) -> int:
    return deliver.route(ctx, event, cluster, cluster.first_event_id == event.id)


def assert_valid(messages: list[Message]) -> None:
    for m in messages:
        assert validate_message(m.text, m.blocks) == []
        assert m.unfurl_links is False and m.unfurl_media is False


def slack_tokens(message: Message) -> list[str]:
    """Every <...> construct Slack would interpret in the message's text and mrkdwn."""
    texts = [message.text] + [t for t in _strings(message.blocks)]
    return [tok for t in texts for tok in re.findall(r"<([^<>]*)>", t)]


def _strings(obj: Any) -> Iterator[str]:
    if isinstance(obj, dict):
        if isinstance(obj.get("text"), str):
            yield obj["text"]
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _strings(v)


def test_event_is_posted_once_to_each_matching_channel(ctx: WorkerContext, slack: SlackStandIn,
                                                       burst_worker: Callable[[], bool]) -> None:
    store = SubscriptionStore(ctx.redis, ctx.keys)
    store.add("C1", "all")
    store.add("C1", "element", ["dysprosium"])  # a second match in the same channel
    store.add("C2", "keyword", ["magnet plant"])
    store.add("C3", "feed", ["other-feed"])
    event, cluster = make_event(ctx, "China suspends dysprosium exports to magnet plant makers",
                                text="Beijing suspended dysprosium exports on Monday.")
    assert route(ctx, event, cluster) == 2
    assert route(ctx, event, cluster) == 2  # ingest retried by RQ
    burst_worker()
    assert len(slack.messages("C1")) == 1 and len(slack.messages("C2")) == 1 and slack.messages("C3") == []
    assert_valid(slack.messages("C1") + slack.messages("C2"))
    post = slack.messages("C1")[0]
    assert "dysprosium" in post.text and post.metadata and post.metadata["event_type"] == "reewatch_delivery"
    assert Outbox(ctx).pending() == []
    deliver.route(ctx, event, cluster, True)  # a third time, long after: still no second post
    burst_worker()
    assert len(slack.messages("C1")) == 1


def test_later_reports_of_a_story_are_threaded_and_update_also_reported(
        ctx: WorkerContext, slack: SlackStandIn, burst_worker: Callable[[], bool]) -> None:
    SubscriptionStore(ctx.redis, ctx.keys).add("C1", "all")
    title = "China's commerce ministry suspends exports of dysprosium and terbium to US defence firms"
    first, c1 = make_event(ctx, title, source="Reuters")
    route(ctx, first, c1)
    burst_worker()
    for source in ("Mining.com", "Argus"):
        later, cluster = make_event(ctx, title, source=source)
        assert cluster.id == c1.id, "the cluster store should group the same headline"
        route(ctx, later, cluster)
        burst_worker()
    top = slack.messages("C1")
    assert len(top) == 1
    replies = slack.thread("C1", top[0].ts)
    assert [r.text.split(":")[0] for r in replies] == ["Also reported by Mining.com", "Also reported by Argus"]
    also = [b for b in top[0].blocks if b.get("block_id") == "also"]
    assert also and also[0]["elements"][0]["text"] == "Also reported by Mining.com, Argus"
    assert top[0].edits == 2
    assert_valid(top + replies)


def test_min_severity_and_digest_subscriptions_hold_back(ctx: WorkerContext, slack: SlackStandIn,
                                                        burst_worker: Callable[[], bool]) -> None:
    store = SubscriptionStore(ctx.redis, ctx.keys)
    store.add("C1", "all", min_severity="critical")
    store.add("C2", "all", digest="09:00")
    store.add("C3", "all")
    event, cluster = make_event(ctx, "Prices of NdPr ease slightly", severity="easing", elements=["Nd", "Pr"])
    assert route(ctx, event, cluster) == 2
    burst_worker()
    assert slack.messages("C1") == [] and slack.messages("C2") == [] and len(slack.messages("C3")) == 1
    assert ctx.redis.zrange(ctx.keys.digest("C2"), 0, -1) == [event.id]


def test_feed_text_cannot_mention_or_link(ctx: WorkerContext, slack: SlackStandIn,
                                          burst_worker: Callable[[], bool]) -> None:
    SubscriptionStore(ctx.redis, ctx.keys).add("C1", "all")
    title = "Alert " + " ".join(INJECTIONS)
    first, c1 = make_event(ctx, title, source="Evil <!here> wire", text="Body " + " ".join(INJECTIONS),
                           link="javascript:alert(1)")
    route(ctx, first, c1)
    burst_worker()
    second, c2 = make_event(ctx, title, source="<@U999> outlet", text="again " + " ".join(INJECTIONS))
    route(ctx, second, c2)
    burst_worker()
    posted = slack.messages("C1", replies=True)
    assert len(posted) == 2
    for message in posted:
        dumped = json.dumps(message.blocks) + message.text
        for raw in INJECTIONS:
            if raw.startswith("<"):
                assert raw not in dumped
            else:  # an entity spelling stays an entity spelling: its `&` is escaped
                assert raw.replace("&", "&amp;") in dumped
        # The only constructs Slack will interpret are our own date tokens.
        assert all(tok.startswith("!date^") for tok in slack_tokens(message)), slack_tokens(message)
    assert "&lt;!channel&gt;" in posted[0].text  # shown to people, as text
    assert not any(b["type"] == "actions" for b in posted[0].blocks), "a javascript: link gets no button"


def test_huge_titles_and_texts_stay_within_limits(ctx: WorkerContext, slack: SlackStandIn,
                                                  burst_worker: Callable[[], bool]) -> None:
    SubscriptionStore(ctx.redis, ctx.keys).add("C1", "all")
    event, cluster = make_event(ctx, "Dysprosium & terbium <quota> " * 3000, text="& <b> " * 50_000,
                                source="S" * 5000, elements=["Dy", "Tb", "Nd", "Pr", "Sm", "Gd", "Ho", "Er", "Y",
                                                             "Lu", "Tm", "Yb", "Eu", "La", "Ce"], cluster=False)
    event.summary = "& <x> " * 10_000
    EventStore(ctx.redis, ctx.keys, 30 * 86400).add(event)
    route(ctx, event, cluster)
    burst_worker()
    [post] = slack.messages("C1")
    assert_valid([post])
    assert len(post.text) < 1000


def test_final_slack_error_dead_letters_marks_broken_and_replays(ctx: WorkerContext, slack: SlackStandIn,
                                                                 redis: redis_lib.Redis, keys: Keys,
                                                                 burst_worker: Callable[[], bool]) -> None:
    store = SubscriptionStore(ctx.redis, ctx.keys)
    sub = store.add("C9", "all")
    slack.set_channel_error("C9", "not_in_channel")
    event, cluster = make_event(ctx, "Lynas halts Malaysian plant after regulator order")
    route(ctx, event, cluster)
    burst_worker()
    [letter] = DeadLetterStore(ctx.redis, ctx.keys).list()
    assert letter.reason == "not_in_channel" and letter.channel == "C9"
    assert len(slack.calls_to("chat.postMessage")) == 1, "a final error is not retried"
    assert store.for_channel("C9")[0].broken == "not_in_channel"
    assert "BROKEN: not_in_channel" in store.for_channel("C9")[0].describe()
    assert int(redis.hget(keys.metrics("reewatch_posts_total"), 'outcome="dead_letter"') or 0) == 1

    slack.set_channel_error("C9", None)  # the bot was invited back
    results = deliver.replay(ctx, [letter.id])
    assert [r for _, r in results] == ["queued"]
    burst_worker()
    assert len(slack.messages("C9")) == 1
    assert DeadLetterStore(ctx.redis, ctx.keys).list() == []
    assert store.get(sub.id) is not None and store.for_channel("C9")[0].broken is None


def test_outage_retries_then_dead_letters_then_replays(ctx: WorkerContext, slack: SlackStandIn) -> None:
    SubscriptionStore(ctx.redis, ctx.keys).add("C1", "all")
    event, cluster = make_event(ctx, "Rare earth prices jump after Myanmar border closure")
    slack.set_outage(503)
    route(ctx, event, cluster)
    [work] = Outbox(ctx).pending()
    outcomes = [deliver.run_work(ctx, work) for _ in range(deliver.MAX_ATTEMPTS)]
    assert outcomes == ["retry"] * (deliver.MAX_ATTEMPTS - 1) + ["dead_letter"]
    [letter] = DeadLetterStore(ctx.redis, ctx.keys).list()
    assert "http_503" in letter.reason and letter.attempts == deliver.MAX_ATTEMPTS
    assert Outbox(ctx).pending() == []
    slack.set_outage(None)
    assert [r for _, r in deliver.replay(ctx, inline=True)] == ["posted"]
    assert len(slack.messages("C1")) == 1


def test_status_change_reaches_element_subscribers(ctx: WorkerContext, slack: SlackStandIn,
                                                   burst_worker: Callable[[], bool]) -> None:
    from core.models import Level
    from core.status import StatusChange

    store = SubscriptionStore(ctx.redis, ctx.keys)
    store.add("C1", "element", ["Dy"])
    store.add("C2", "element", ["Nd"])
    store.add("C3", "all", min_severity="critical")
    store.add("C4", "all")
    change = StatusChange("Dy", Level.WATCH, Level.ELEVATED, "3 high reports in 24h <!channel>", 1_760_000_000.0)
    assert deliver.route_status_change(ctx, change) == 2
    burst_worker()
    [msg] = slack.messages("C1")
    assert "watch → *elevated*" in msg.blocks[0]["text"]["text"] and "Dysprosium" in msg.blocks[0]["text"]["text"]
    assert "&lt;!channel&gt;" in msg.blocks[0]["text"]["text"]
    assert slack.messages("C2") == [] and slack.messages("C3") == [] and len(slack.messages("C4")) == 1
    assert_valid([msg])


def test_feed_disabled_is_announced_once(ctx: WorkerContext, slack: SlackStandIn,
                                         burst_worker: Callable[[], bool]) -> None:
    store = SubscriptionStore(ctx.redis, ctx.keys)
    store.add("C1", "feed", ["mining"])
    store.add("C2", "all")
    assert deliver.announce_feed_disabled(ctx, "mining", "HTTP 410 Gone for 3 days") == 1
    assert deliver.announce_feed_disabled(ctx, "mining", "HTTP 410 Gone for 3 days") == 0
    burst_worker()
    [msg] = slack.messages("C1")
    assert "mining" in msg.text and "410" in msg.blocks[0]["text"]["text"]
    assert slack.messages("C2") == []
