"""/metrics after real work: a feed polled by a real RQ worker from the loopback feed server, a post
(with one 429) through SlackOut to the Slack stand-in, then the page scraped over HTTP from the worker
endpoint and through the bot's WSGI app, and parsed with prometheus_client's parser.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_lib
from prometheus_client.parser import text_string_to_metric_families

from core.keys import Keys
from core.settings import Settings
from tests.fakes.feed_server import FeedServer, Reply
from tests.fakes.slack_api import SlackStandIn
from workers.context import WorkerContext
from workers.enqueue import queue
from workers.metrics_http import MetricsServer, start_metrics_server
from workers.slack_out import SlackOut
from workers.tasks import poll_batch

FEED_ID = "wire-test"


def rss(*items: tuple[str, str]) -> bytes:
    """An RSS body with items published an hour apart, the last one an hour ago (inside retention)."""
    now = time.time()
    entries = "".join(
        f"<item><title>{title}</title><link>https://example.com/{guid}</link><guid>{guid}</guid>"
        f"<description>{title}.</description><pubDate>{formatdate(now - 3600 * (len(items) - i), usegmt=True)}"
        f"</pubDate></item>"
        for i, (guid, title) in enumerate(items))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
            f"<link>https://example.com/</link><description>test</description>{entries}</channel></rss>").encode()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def total(page: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str) -> float:
    return sum(value for (sample, _), value in page.items() if sample == name)


@pytest.fixture
def feed(feed_server: FeedServer, feeds_file: Path) -> FeedServer:
    url = feed_server.route("/wire.xml", Reply(body=rss(("a1", "Lynas ships first heavy rare earth oxide"),
                                                         ("a2", "Neodymium prices steady"))))
    feeds_file.write_text(f"feeds:\n  - id: {FEED_ID}\n    url: {url}\n    tier: wire\n    interval: 5m\n",
                          encoding="utf-8")
    return feed_server


@pytest.fixture
def endpoint(settings: Settings) -> Iterator[MetricsServer]:
    server = start_metrics_server(settings, port=0, host="127.0.0.1")
    assert server is not None
    yield server
    server.stop()


def scrape(endpoint: MetricsServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = httpx.get(f"http://127.0.0.1:{endpoint.port}/metrics", timeout=10)
    assert reply.status_code == 200
    return samples(reply.text)


def bot_metrics(settings: Settings) -> str:
    """GET /metrics through the bot's real WSGI application (the one gunicorn serves)."""
    from bot.server import make_wsgi

    status: list[str] = []
    environ: dict[str, Any] = {"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO(b""),
                               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "3000", "wsgi.url_scheme": "http"}
    body = b"".join(make_wsgi(settings)(environ, lambda s, headers, *exc: status.append(s)))
    assert status == ["200 OK"]
    return body.decode()


def test_metrics_after_a_real_poll_and_a_real_post(settings: Settings, keys: Keys, redis: redis_lib.Redis,
                                                   rq_redis: redis_lib.Redis, feed: FeedServer,
                                                   endpoint: MetricsServer,
                                                   burst_worker: Callable[[], bool]) -> None:
    poll = queue(keys, "poll", rq_redis)
    poll.enqueue(poll_batch, [FEED_ID])
    before = scrape(endpoint)
    assert before[("reewatch_queue_depth", (("queue", "poll"),))] == 1

    burst_worker()  # first poll: the two items seed the feed silently
    feed.route("/wire.xml", Reply(body=rss(("a1", "Lynas ships first heavy rare earth oxide"),
                                           ("a2", "Neodymium prices steady"),
                                           ("a3", "China suspends exports of dysprosium and terbium"))))
    poll.enqueue(poll_batch, [FEED_ID])
    burst_worker()  # second poll: one new item becomes an event

    with SlackStandIn(channel_rate=1000.0, channel_burst=1000) as slack:
        ctx = WorkerContext(settings.model_copy(update={"slack_api_url": slack.api_url}))
        slack.fail_next("chat.postMessage", "ratelimited")  # answered 429 with Retry-After, then retried
        ts = SlackOut(ctx, sleep=lambda seconds: None).post("C0SUPPLY", "China suspends exports of dysprosium")
        assert slack.message("C0SUPPLY", ts) is not None

    page = scrape(endpoint)
    assert page[("reewatch_polls_total", (("outcome", "ok"),))] == 2
    assert page[("reewatch_items_total", (("result", "seeded"),))] == 2
    assert page[("reewatch_items_total", (("result", "duplicate"),))] == 2
    assert total(page, "reewatch_events_total") == 1
    assert page[("reewatch_posts_total", (("outcome", "posted"),))] == 1
    assert page[("reewatch_slack_ratelimited_total", ())] == 1
    assert page[("reewatch_queue_depth", (("queue", "poll"),))] == 0
    assert page[("reewatch_queue_failed", (("queue", "poll"),))] == 0
    assert page[("reewatch_dead_letters", ())] == 0

    # the bot's /metrics is the same deployment-wide page
    bot_page = samples(bot_metrics(settings))
    for key in (("reewatch_polls_total", (("outcome", "ok"),)), ("reewatch_posts_total", (("outcome", "posted"),)),
                ("reewatch_slack_ratelimited_total", ())):
        assert bot_page[key] == page[key]


@pytest.fixture
def rq_redis(settings: Settings) -> redis_lib.Redis:
    from core.redisconn import connect

    assert settings.redis_url
    return connect(settings.redis_url, decode=False)
