"""The poll pipeline end to end: loopback feed server, real Redis, real downstream modules."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis as redis_lib

from core.events import EventStore
from core.feedstate import FeedStateStore
from core.keys import Keys
from core.settings import Settings
from tests.fakes.feed_server import FeedServer, Reply, Seen, rss
from workers.context import WorkerContext
from workers.pipeline import poll_feeds

DAY = 86400.0


def _items(*numbers: int) -> list[dict[str, str]]:
    return [{"title": f"Rare earth story number {n}", "guid": f"g{n}", "link": f"https://news.example.com/{n}",
             "description": f"<p>Body of story {n}.</p>",
             "pubDate": f"Wed, 25 Nov 2026 {n % 24:02d}:00:00 GMT"} for n in numbers]


def _configure(path: Path, feeds: dict[str, str], interval: str = "60s") -> None:
    lines = ["feeds:"]
    for feed_id, url in feeds.items():
        lines += [f"  - id: {feed_id}", f"    url: {url}", f"    interval: {interval}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture
def ctx(settings: Settings) -> WorkerContext:
    return WorkerContext(settings)


def _events(ctx: WorkerContext) -> EventStore:
    return EventStore(ctx.redis, ctx.keys, 30 * DAY)


def test_first_poll_seeds_silently_then_new_items_become_events(
        feed_server: FeedServer, feeds_file: Path, ctx: WorkerContext) -> None:
    url = feed_server.route("/feed.xml", Reply(body=rss(_items(1, 2, 3))))
    _configure(feeds_file, {"wire": url})
    assert poll_feeds(ctx, ["wire"]) == {"wire": "ok"}
    state = FeedStateStore(ctx.redis, ctx.keys).get("wire")
    assert state.seeded and state.last_success and state.failures == 0
    assert _events(ctx).count() == 0  # seeding announces nothing

    feed_server.route("/feed.xml", Reply(body=rss(_items(5, 4, 1, 2, 3))))
    assert poll_feeds(ctx, ["wire"]) == {"wire": "ok"}
    stored = _events(ctx).recent(feed_id="wire")
    assert sorted(e.title for e in stored) == ["Rare earth story number 4", "Rare earth story number 5"]
    assert all(e.cluster_id and e.summary for e in stored)
    assert FeedStateStore(ctx.redis, ctx.keys).get("wire").last_new is not None


def test_304_and_unchanged_body_cost_no_parse(feed_server: FeedServer, feeds_file: Path, ctx: WorkerContext) -> None:
    body = rss(_items(1))

    def with_etag(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"")
        return Reply(body=body, headers={"ETag": '"v1"'})

    _configure(feeds_file, {"etag": feed_server.route("/etag.xml", with_etag),
                            "plain": feed_server.route("/plain.xml", Reply(body=body))})
    assert poll_feeds(ctx, ["etag", "plain"]) == {"etag": "ok", "plain": "ok"}
    assert poll_feeds(ctx, ["etag", "plain"]) == {"etag": "not_modified", "plain": "unchanged"}
    assert feed_server.hits("/etag.xml")[-1].headers["if-none-match"] == '"v1"'
    polls = ctx.redis.hgetall(ctx.keys.metrics("reewatch_polls_total"))
    assert polls['outcome="not_modified"'] == "1" and polls['outcome="unchanged"'] == "1"


def test_non_feed_body_is_recorded_as_an_error(feed_server: FeedServer, feeds_file: Path, ctx: WorkerContext) -> None:
    url = feed_server.route("/page", Reply(body=b"<!doctype html><html><body>Shop</body></html>",
                                           content_type="text/html"))
    _configure(feeds_file, {"page": url})
    assert poll_feeds(ctx, ["page"]) == {"page": "error"}
    state = FeedStateStore(ctx.redis, ctx.keys).get("page")
    assert state.failures == 1 and state.last_error_reason == "not_a_feed"
    assert state.last_error and "HTML page" in state.last_error


def test_malformed_but_recoverable_feed_yields_items(feed_server: FeedServer, feeds_file: Path,
                                                     ctx: WorkerContext) -> None:
    good = rss(_items(1))
    broken = good.replace(b"</channel></rss>", b"<item><title>Dysprosium & terbium quota cut</title>"
                          b"<guid>x9</guid><link>https://e.com/x9</link></item>")  # bare '&', never closed
    url = feed_server.route("/broken.xml", Reply(body=good))
    _configure(feeds_file, {"broken": url})
    poll_feeds(ctx, ["broken"])
    feed_server.route("/broken.xml", Reply(body=broken))
    assert poll_feeds(ctx, ["broken"]) == {"broken": "ok"}
    assert [e.title for e in _events(ctx).recent()] == ["Dysprosium & terbium quota cut"]


def test_two_workers_polling_one_feed_accept_each_item_once(feed_server: FeedServer, feeds_file: Path,
                                                            settings: Settings) -> None:
    url = feed_server.route("/race.xml", Reply(body=rss(_items(1))))
    _configure(feeds_file, {"race": url})
    poll_feeds(WorkerContext(settings), ["race"])  # seed
    body = rss(_items(*range(1, 21)))
    feed_server.route("/race.xml", Reply(body=[body[:200], body[200:]], drip_delay=0.3))  # both fetch at once
    barrier, outcomes = threading.Barrier(2), []

    def worker() -> None:
        ctx = WorkerContext(settings)  # each "worker" has its own connections
        barrier.wait()
        outcomes.append(poll_feeds(ctx, ["race"])["race"])

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["ok", "skipped"]  # the feed lock: never polled by two at once
    assert len(_events(WorkerContext(settings)).recent(feed_id="race")) == 19


def test_without_the_lock_the_claim_still_accepts_each_item_once(feed_server: FeedServer, feeds_file: Path,
                                                                 settings: Settings) -> None:
    from core.feeds import FeedConfig
    from core.parse import parse_feed
    from workers import pipeline

    feed = FeedConfig(id="nolock", url="http://127.0.0.1/x")
    now = time.time()
    parsed = parse_feed(rss(_items(*range(1, 31))), feed_id="nolock", fetched_at=now)
    results: list[tuple[bool, int]] = []
    barrier = threading.Barrier(3)

    def worker() -> None:
        ctx = WorkerContext(settings)
        barrier.wait()
        results.append(pipeline._take_items(ctx, feed, parsed, now, seeding=False))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(new for _, new in results) == 30
    assert len(_events(WorkerContext(settings)).recent(feed_id="nolock", limit=100)) == 30


def test_failures_back_off_exponentially_with_a_cap(feed_server: FeedServer, feeds_file: Path,
                                                    settings: Settings) -> None:
    ctx = WorkerContext(settings.model_copy(update={"feed_backoff_max": 500.0}))
    _configure(feeds_file, {"flaky": feed_server.route("/500", Reply(500, b"oops", content_type="text/plain"))})
    store = FeedStateStore(ctx.redis, ctx.keys)
    delays = []
    for n in range(5):
        now = 1_790_000_000.0 + n * 1000
        assert poll_feeds(ctx, ["flaky"], now=now) == {"flaky": "error"}
        state = store.get("flaky")
        assert state.next_due is not None
        delays.append(state.next_due - now)
    assert delays == [120.0, 240.0, 480.0, 500.0, 500.0]  # 60s interval doubled per failure, capped
    assert store.get("flaky").failures == 5
    assert ctx.redis.zscore(ctx.keys.feeds_due(), "flaky") == store.get("flaky").next_due


def test_success_clears_the_failure_run(feed_server: FeedServer, feeds_file: Path, ctx: WorkerContext) -> None:
    _configure(feeds_file, {"f": feed_server.route("/f", Reply(503, b"down", content_type="text/plain"))})
    poll_feeds(ctx, ["f"])
    feed_server.route("/f", Reply(body=rss(_items(1))))
    poll_feeds(ctx, ["f"])
    state = FeedStateStore(ctx.redis, ctx.keys).get("f")
    assert (state.failures, state.failing_since, state.last_error) == (0, None, None)


def test_retry_after_and_cache_control_are_honoured_within_bounds(feed_server: FeedServer, feeds_file: Path,
                                                                  settings: Settings) -> None:
    ctx = WorkerContext(settings.model_copy(update={"feed_cache_max": 1800.0}))
    _configure(feeds_file, {
        "limited": feed_server.route("/429", Reply(429, b"", headers={"Retry-After": "900"})),
        "cached": feed_server.route("/cached", Reply(body=rss(_items(1)), headers={"Cache-Control": "max-age=600"})),
        "greedy": feed_server.route("/greedy", Reply(body=rss(_items(2)), headers={"Cache-Control": "max-age=99999"})),
    })
    now = 1_790_000_000.0
    poll_feeds(ctx, ["limited", "cached", "greedy"], now=now)
    store = FeedStateStore(ctx.redis, ctx.keys)
    assert store.get("limited").next_due == now + 900
    assert store.get("cached").next_due == now + 600
    assert store.get("greedy").next_due == now + 1800  # the server may slow us only so far


def test_permanent_redirect_updates_the_stored_url(feed_server: FeedServer, feeds_file: Path,
                                                   ctx: WorkerContext) -> None:
    old = feed_server.route("/old.xml", Reply(301, headers={"Location": "/new.xml"}))
    new = feed_server.route("/new.xml", Reply(body=rss(_items(1))))
    _configure(feeds_file, {"moved": old})
    poll_feeds(ctx, ["moved"])
    state = FeedStateStore(ctx.redis, ctx.keys).get("moved")
    assert state.url == new and state.effective_url(old) == new
    poll_feeds(ctx, ["moved"])
    assert len(feed_server.hits("/old.xml")) == 1 and len(feed_server.hits("/new.xml")) == 2
    _configure(feeds_file, {"moved": feed_server.url("/edited.xml")})  # the user edits feeds.yaml: that wins
    assert FeedStateStore(ctx.redis, ctx.keys).get("moved").effective_url(feed_server.url("/edited.xml")) \
        == feed_server.url("/edited.xml")


def test_410_disables_at_once_and_announces_once(feed_server: FeedServer, feeds_file: Path,
                                                 ctx: WorkerContext) -> None:
    _configure(feeds_file, {"gone": feed_server.route("/gone", Reply(410, b"", content_type="text/plain"))})
    assert poll_feeds(ctx, ["gone"]) == {"gone": "disabled"}
    state = FeedStateStore(ctx.redis, ctx.keys).get("gone")
    assert state.disabled and state.disabled_reason and "410" in state.disabled_reason
    assert ctx.redis.get(ctx.keys.feed_disabled_announced("gone")) == state.disabled_reason
    assert poll_feeds(ctx, ["gone"]) == {"gone": "disabled"}  # not fetched again
    assert len(feed_server.hits("/gone")) == 1
    assert ctx.redis.zscore(ctx.keys.feeds_due(), "gone") == float("inf")


@pytest.mark.parametrize(("status", "kept_days", "disabled_days"), [(404, 2.5, 3.0), (500, 6.5, 7.0)])
def test_long_failure_runs_disable_the_feed(feed_server: FeedServer, feeds_file: Path, ctx: WorkerContext,
                                            status: int, kept_days: float, disabled_days: float) -> None:
    _configure(feeds_file, {"dying": feed_server.route("/dying", Reply(status, b"", content_type="text/plain"))})
    t0 = 1_790_000_000.0
    for day in (0.0, 0.5, 1.0, kept_days):
        assert poll_feeds(ctx, ["dying"], now=t0 + day * DAY) == {"dying": "error"}
    assert poll_feeds(ctx, ["dying"], now=t0 + disabled_days * DAY) == {"dying": "disabled"}
    reason = FeedStateStore(ctx.redis, ctx.keys).get("dying").disabled_reason
    assert reason and f"HTTP {status}" in reason and "days" in reason


def test_everything_failing_at_once_is_not_counted(feeds_file: Path, ctx: WorkerContext) -> None:
    with FeedServer() as a, FeedServer() as b:
        urls = {"a": a.url("/feed"), "b": b.url("/feed")}
    _configure(feeds_file, urls)  # both servers are gone: connection refused on two hosts
    assert poll_feeds(ctx, ["a", "b"]) == {"a": "error", "b": "error"}
    states = FeedStateStore(ctx.redis, ctx.keys).get_many(["a", "b"])
    assert all(s.failures == 0 and s.last_error and "not counted" in s.last_error for s in states.values())
    assert poll_feeds(ctx, ["a"]) == {"a": "error"}  # alone, a dead feed does count
    assert FeedStateStore(ctx.redis, ctx.keys).get("a").failures == 1


def test_unknown_and_disabled_feeds(feed_server: FeedServer, feeds_file: Path, ctx: WorkerContext) -> None:
    feeds_file.write_text(f"feeds:\n  - id: paused\n    url: {feed_server.url('/off')}\n    enabled: false\n",
                          encoding="utf-8")
    assert poll_feeds(ctx, ["paused", "nope"]) == {"paused": "disabled", "nope": "skipped"}
    assert feed_server.hits("/off") == []


def test_ssrf_guard_applies_to_polls(feed_server: FeedServer, feeds_file: Path, settings: Settings,
                                     redis: redis_lib.Redis, keys: Keys) -> None:
    ctx = WorkerContext(settings.model_copy(update={"allow_private_networks": False}))
    _configure(feeds_file, {"inside": feed_server.route("/feed", Reply(body=rss(_items(1))))})
    assert poll_feeds(ctx, ["inside"]) == {"inside": "error"}
    state = FeedStateStore(redis, keys).get("inside")
    assert state.last_error_reason == "blocked_address" and feed_server.hits("/feed") == []


def test_validate_feed_probe(feed_server: FeedServer, settings: Settings) -> None:
    from workers.pipeline import validate_feed

    good = validate_feed(settings, feed_server.route("/ok.xml", Reply(body=rss(_items(1, 2), title="Argus"))))
    assert good.ok and good.title == "Argus" and good.items == 2
    page = validate_feed(settings, feed_server.route("/page", Reply(body=b"<html><body>x</body></html>")))
    assert not page.ok and page.error and "HTML page" in page.error
    strict = settings.model_copy(update={"allow_private_networks": False})
    blocked = validate_feed(strict, feed_server.url("/ok.xml"))
    assert not blocked.ok and blocked.error and "loopback" in blocked.error


def test_readding_a_disabled_feed_enables_it(feed_server: FeedServer, ctx: WorkerContext) -> None:
    from core.feeds import FeedConfig
    from core.registry import FeedRegistry

    registry = FeedRegistry(ctx.settings, ctx.redis, ctx.keys)
    feed = registry.add(FeedConfig(id="back", url=feed_server.url("/back")))
    FeedStateStore(ctx.redis, ctx.keys).disable("back", "HTTP 410")
    assert registry.remove("back") and registry.get("back") is None
    registry.add(feed)
    state = FeedStateStore(ctx.redis, ctx.keys).get("back")
    assert not state.disabled and state.disabled_reason is None
    with pytest.raises(Exception, match="already"):
        registry.add(feed)
