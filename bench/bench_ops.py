"""Operations figures for the scale note (docs/OPERATIONS.md): what one worker process gets through.

- metrics: one `core.metrics.inc` / `observe` against one Redis PING (the floor of any Redis call),
  and one full /metrics scrape.
- polls: FEEDS loopback feeds through `workers.pipeline.poll_feeds` in POLL_BATCH batches (first
  round seeds, second is the steady state: unchanged bodies), against a bare sequential GET of the
  same URLs with one httpx client.
- posts: `SlackOut.post` (pacing slot, retry loop, metrics) to the Slack stand-in, against a bare
  chat.postMessage with one httpx client.
Loopback has no network latency: the figures are the process's own cost, the ceiling on real hosts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import httpx

from bench.common import bench_settings
from core import metrics
from core.keys import Keys
from core.redisconn import connect
from tests.fakes.feed_server import FeedServer, Reply
from tests.fakes.slack_api import DEFAULT_TOKEN, SlackStandIn

FEEDS = 200
ITEMS = 20
POSTS = 300
CALLS = 3000
HOSTS = 50


def run() -> list[str]:
    # Bound to every loopback address, so feeds spread over HOSTS hosts (127.0.0.2...) as real feeds
    # do: the per-host limit of a poll job then bites as it would in production, not on one host.
    with TemporaryDirectory() as tmp, FeedServer(host="0.0.0.0") as feeds, SlackStandIn(rate_limit=False) as slack:
        feeds_file = Path(tmp) / "feeds.yaml"
        body = _rss(ITEMS)
        for i in range(FEEDS):
            feeds.route(f"/f{i}.xml", Reply(body=body))
        lines = ["\n".join(f"  - id: f{i:04d}\n    url: {_url(feeds, i)}\n    tier: trade\n    interval: 10m"
                           for i in range(FEEDS))]
        feeds_file.write_text("feeds:\n" + lines[0] + "\n", encoding="utf-8")
        with bench_settings(feeds_file=feeds_file, slack_api_url=slack.api_url, slack_bot_token=DEFAULT_TOKEN,
                            slack_channel_rate=100.0, slack_channel_burst=100) as settings:
            return _metrics_lines(settings.redis_url or "", Keys(settings.redis_prefix)) + \
                _poll_lines(settings, feeds) + _post_lines(settings, slack)


def _url(feeds: FeedServer, i: int) -> str:
    return f"http://127.0.0.{2 + i % HOSTS}:{feeds.port}/f{i}.xml"


def _per_call(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n


def _metrics_lines(url: str, keys: Keys) -> list[str]:
    from workers.metrics_http import scrape

    redis, rq_redis = connect(url), connect(url, decode=False)
    ping = _per_call(redis.ping, CALLS)
    inc = _per_call(lambda: metrics.inc(redis, keys, "reewatch_polls_total", {"outcome": "ok"}), CALLS)
    obs = _per_call(lambda: metrics.observe(redis, keys, "reewatch_command_latency_seconds", 0.2,
                                            {"command": "status"}), CALLS)
    page = _per_call(lambda: scrape(redis, rq_redis, keys), 200)
    return [f"metrics: inc {inc * 1e6:.0f} us = {inc / ping:.2f}x a PING ({ping * 1e6:.0f} us); observe "
            f"{obs * 1e6:.0f} us = {obs / ping:.2f}x; full /metrics scrape {page * 1e3:.2f} ms = {page / ping:.0f}x"]


def _poll_lines(settings: object, feeds: FeedServer) -> list[str]:
    from workers.context import WorkerContext
    from workers.pipeline import poll_feeds
    from workers.tasks import POLL_BATCH

    ctx = WorkerContext(settings)  # type: ignore[arg-type]
    ids = [f"f{i:04d}" for i in range(FEEDS)]
    batches = [ids[i:i + POLL_BATCH] for i in range(0, FEEDS, POLL_BATCH)]
    rounds = []
    for _ in range(2):
        started = time.perf_counter()
        outcomes: dict[str, str] = {}
        for batch in batches:
            outcomes.update(poll_feeds(ctx, batch))
        rounds.append((time.perf_counter() - started, sorted(set(outcomes.values()))))
    # No keep-alive for the baseline: the stand-in servers answer in two TCP segments, and a reused
    # connection then waits out the client's delayed ACK (~40 ms), which would flatter every ratio.
    with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as client:
        urls = [_url(feeds, i) for i in range(FEEDS)]
        started = time.perf_counter()
        for url in urls:
            client.get(url).raise_for_status()
        bare = time.perf_counter() - started
    (seed_s, seed_out), (steady_s, steady_out) = rounds
    return [
        f"polls, {FEEDS} loopback feeds on {HOSTS} hosts x {ITEMS} items, batches of {POLL_BATCH}: "
        f"first (seeding, {seed_out}) "
        f"{FEEDS / seed_s:.0f} feeds/s; steady ({steady_out}) {FEEDS / steady_s:.0f} feeds/s; bare sequential "
        f"GET {FEEDS / bare:.0f} feeds/s; steady/bare ratio {bare / steady_s:.2f}",
        f"  => one worker at the steady rate covers {FEEDS / steady_s * 600:.0f} feeds on a 10-minute interval "
        f"(CPU bound, loopback)",
    ]


def _post_lines(settings: object, slack: SlackStandIn) -> list[str]:
    from workers.context import WorkerContext
    from workers.slack_out import SlackOut

    out = SlackOut(WorkerContext(settings))  # type: ignore[arg-type]
    channels = [f"C{i:04d}" for i in range(POSTS)]  # within each channel's burst: pacing never waits
    n = iter(range(POSTS * 2))
    posted = _per_call(lambda: out.post(channels[next(n) % POSTS], "bench post"), POSTS)
    with httpx.Client(headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                      limits=httpx.Limits(max_keepalive_connections=0)) as client:
        bare = _per_call(lambda: client.post(slack.api_url + "chat.postMessage",
                                             json={"channel": "C9999", "text": "bare"}).raise_for_status(), POSTS)
    return [f"posts: SlackOut.post {1 / posted:.0f}/s, bare chat.postMessage {1 / bare:.0f}/s; ratio "
            f"{posted / bare:.2f}x per post (Slack itself allows ~1 message/s per channel)"]


def _rss(items: int) -> bytes:
    from email.utils import formatdate

    now = time.time()
    entries = "".join(f"<item><title>Item {i} on dysprosium supply</title><link>https://example.com/{i}</link>"
                      f"<guid>g{i}</guid><description>Text {i}.</description>"
                      f"<pubDate>{formatdate(now - 60 * i, usegmt=True)}</pubDate></item>" for i in range(items))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Bench</title><link>https://example.com/</link>'
            f"<description>bench</description>{entries}</channel></rss>").encode()
