"""ingest_items through the real downstream modules: what is stored, clustered and counted."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.clusters import ClusterStore
from core.events import EventStore
from core.feeds import FeedConfig
from core.models import Item
from core.settings import Settings
from tests.fakes.feed_server import FeedServer, Reply, rss
from workers.context import WorkerContext
from workers.ingest import ingest_items
from workers.pipeline import poll_feeds

DAY = 86400.0


@pytest.fixture
def ctx(settings: Settings) -> WorkerContext:
    return WorkerContext(settings)


def _item(feed_id: str, n: int, title: str, text: str = "", tier: str = "wire") -> Item:
    now = time.time()
    return Item(id=f"{feed_id}:{n}", feed_id=feed_id, title=title, link=f"https://{feed_id}.example/{n}",
                text=text, published=now - 60, fetched_at=now, tier=tier, source=feed_id)


def test_an_item_becomes_a_tagged_scored_summarized_stored_event(ctx: WorkerContext) -> None:
    feed = FeedConfig(id="wire", url="https://wire.example/feed", tier="wire")
    item = _item("wire", 1, "China suspends exports of dysprosium and terbium",
                 "Beijing said on Monday it would suspend exports of dysprosium and terbium with immediate effect.")
    [event] = ingest_items(ctx, feed, [item])
    assert "Dy" in event.elements and "Tb" in event.elements
    assert event.sev.at_least(event.sev.HIGH) and event.summary and event.cluster_id
    stored = EventStore(ctx.redis, ctx.keys, 30 * DAY)
    assert stored.get(event.id) == event
    assert [e.id for e in stored.recent(element="Dy")] == [event.id]
    assert stored.daily_counts("Dy", days=1) == [1]
    assert ClusterStore(ctx.redis, ctx.keys).get(event.cluster_id) is not None


def test_the_same_story_from_another_outlet_joins_its_cluster(ctx: WorkerContext) -> None:
    wire = FeedConfig(id="wire", url="https://wire.example/feed", tier="wire")
    trade = FeedConfig(id="trade", url="https://trade.example/feed", tier="trade")
    [first] = ingest_items(ctx, wire, [_item("wire", 1, "China suspends exports of dysprosium and terbium",
                                             "Beijing suspended dysprosium and terbium exports on Monday.")])
    [second] = ingest_items(ctx, trade, [_item("trade", 7, "China halts dysprosium, terbium exports",
                                               "Beijing suspended exports of dysprosium and terbium on Monday.",
                                               tier="trade")])
    assert second.cluster_id == first.cluster_id
    items = ctx.redis.hgetall(ctx.keys.metrics("reewatch_items_total"))
    assert items['result="new"'] == "1" and items['result="clustered"'] == "1"


def test_poll_to_store_with_counts(feed_server: FeedServer, feeds_file: Path, ctx: WorkerContext) -> None:
    def entries(*ns: int) -> bytes:
        return rss([{"title": f"Neodymium magnet plant {n} expands output", "guid": f"n{n}",
                     "link": f"https://trade.example/{n}"} for n in ns])

    url = feed_server.route("/t.xml", Reply(body=entries(1, 2)))
    feeds_file.write_text(f"feeds:\n  - id: trade\n    url: {url}\n    tier: trade\n", encoding="utf-8")
    poll_feeds(ctx, ["trade"])
    feed_server.route("/t.xml", Reply(body=entries(1, 2, 3)))
    poll_feeds(ctx, ["trade"])
    [event] = EventStore(ctx.redis, ctx.keys, 30 * DAY).recent(feed_id="trade")
    assert event.title == "Neodymium magnet plant 3 expands output" and event.tier == "trade"
    assert "Nd" in event.elements
    counts = ctx.redis.hgetall(ctx.keys.metrics("reewatch_items_total"))
    assert counts['result="seeded"'] == "2" and counts['result="duplicate"'] == "2"
    assert int(counts.get('result="new"', 0)) + int(counts.get('result="clustered"', 0)) == 1


def test_a_failing_stage_releases_the_item_for_the_next_poll(feed_server: FeedServer, feeds_file: Path,
                                                             ctx: WorkerContext,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from workers import pipeline

    url = feed_server.route("/f.xml", Reply(body=rss([{"title": "seed item title", "guid": "s"}])))
    feeds_file.write_text(f"feeds:\n  - id: f\n    url: {url}\n", encoding="utf-8")
    poll_feeds(ctx, ["f"])
    feed_server.route("/f.xml", Reply(body=rss([{"title": "seed item title", "guid": "s"},
                                                {"title": "Gallium export licence delays", "guid": "g"}])))
    real = pipeline.ingest_items

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("downstream outage")

    monkeypatch.setattr(pipeline, "ingest_items", broken)
    assert poll_feeds(ctx, ["f"]) == {"f": "error"}
    monkeypatch.setattr(pipeline, "ingest_items", real)
    assert poll_feeds(ctx, ["f"]) == {"f": "ok"}  # re-read (no stale hash or validators), item offered again
    assert [e.title for e in EventStore(ctx.redis, ctx.keys, 30 * DAY).recent()] == ["Gallium export licence delays"]
