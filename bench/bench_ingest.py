"""Ingestion speed and memory, each against a baseline measured in the same run:

- items/second through fetch -> parse -> dedupe -> ingest -> store (a real loopback server, real
  Redis, the real downstream modules), and through fetch -> parse -> dedupe alone (a seeding poll),
  against raw `feedparser.parse` on the same bytes;
- the cost of polling an unchanged feed (304, and 200 with the same body) against parsing it;
- Redis bytes per seen item (MEMORY USAGE of a feed's seen set) against a plain set of the GUIDs.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

from bench.common import bench_settings
from core.identity import Entry, SeenStore, identify
from tests.fakes.feed_server import FeedServer, Reply, Seen, rss
from workers import context
from workers.pipeline import poll_feeds

ITEMS = 200
ROUNDS = 3
ELEMENTS = ["dysprosium", "terbium", "neodymium", "gallium", "germanium", "yttrium", "antimony", "graphite"]
VERBS = ["suspends exports of", "raises output of", "cuts quotas for", "delays licences for", "restarts plant for"]


def _items(round_no: int, n: int = ITEMS) -> list[dict[str, str]]:
    out = []
    for i in range(n):
        element, verb = ELEMENTS[i % len(ELEMENTS)], VERBS[(i // len(ELEMENTS)) % len(VERBS)]
        out.append({
            "title": f"Producer {round_no}-{i} {verb} {element} amid supply review",
            "guid": f"https://news.example.com/{round_no}/{i}",
            "link": f"https://news.example.com/{round_no}/{i}?utm_source=rss",
            "description": f"<p>Company {round_no}-{i} said on Monday it {verb} {element}. "
                           + "<b>Traders</b> expect prices to move as buyers reassess inventories. " * 4 + "</p>",
            "pubDate": f"Wed, 25 Nov 2026 {i % 24:02d}:{i % 60:02d}:00 GMT",
        })
    return out


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _feedparser_rate(body: bytes, n_items: int) -> float:
    seconds = _best(lambda: feedparser.parse(io.BytesIO(body)))
    return n_items / seconds


def run() -> list[str]:
    lines: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as server:
        feeds_file = Path(tmp) / "feeds.yaml"
        with bench_settings(feeds_file=feeds_file) as settings:
            ctx = context.install(settings)
            bodies = [rss(_items(r)) for r in range(ROUNDS + 2)]
            baseline = statistics.median(_feedparser_rate(b, ITEMS) for b in bodies[:ROUNDS])
            lines.append(f"baseline feedparser.parse: {baseline:,.0f} items/s "
                         f"({ITEMS} items, {len(bodies[0]):,} bytes)")

            # fetch -> parse -> dedupe (seeding polls: every item claimed, nothing ingested)
            feed_ids = [f"seed{r}" for r in range(ROUNDS)]
            urls = {fid: server.route(f"/{fid}", Reply(body=bodies[r])) for r, fid in enumerate(feed_ids)}
            urls |= {name: server.url(f"/{name}") for name in ("live", "same", "etag")}
            feeds_file.write_text("feeds:\n" + "".join(f"  - id: {fid}\n    url: {url}\n" for fid, url in urls.items()),
                                  encoding="utf-8")
            start = time.perf_counter()
            for fid in feed_ids:
                assert poll_feeds(ctx, [fid]) == {fid: "ok"}
            seed_rate = ROUNDS * ITEMS / (time.perf_counter() - start)
            lines.append(f"fetch+parse+dedupe: {seed_rate:,.0f} items/s = {seed_rate / baseline:.2f}x feedparser")

            # fetch -> ... -> store: every round brings ITEMS new items through the whole ingest chain
            server.route("/live", Reply(body=bodies[0]))
            poll_feeds(ctx, ["live"])  # seed
            elapsed = 0.0
            for r in range(1, ROUNDS + 1):
                server.route("/live", Reply(body=bodies[r]))
                start = time.perf_counter()
                assert poll_feeds(ctx, ["live"]) == {"live": "ok"}
                elapsed += time.perf_counter() - start
            full_rate = ROUNDS * ITEMS / elapsed
            lines.append(f"fetch-to-store (tag, score, summarize, cluster, store, route): {full_rate:,.0f} items/s "
                         f"= {full_rate / baseline:.2f}x feedparser")

            # unchanged feeds: same body (hash skip) and 304 (validator skip), against parsing that body
            body = bodies[0]
            server.route("/same", Reply(body=body))

            def etag_reply(seen: Seen) -> Reply:
                return Reply(304, b"") if seen.headers.get("if-none-match") == '"b1"' else \
                    Reply(body=body, headers={"ETag": '"b1"'})

            server.route("/etag", etag_reply)
            poll_feeds(ctx, ["same", "etag"])
            parse_cost = _best(lambda: feedparser.parse(io.BytesIO(body)), repeat=5)
            same_cost = _best(lambda: poll_feeds(ctx, ["same"]), repeat=5)
            etag_cost = _best(lambda: poll_feeds(ctx, ["etag"]), repeat=5)
            lines.append(f"poll of an unchanged feed (same body): {same_cost * 1000:.1f} ms "
                         f"= {same_cost / parse_cost:.2f}x parsing it ({parse_cost * 1000:.1f} ms)")
            lines.append(f"poll of an unchanged feed (304): {etag_cost * 1000:.1f} ms "
                         f"= {etag_cost / parse_cost:.2f}x parsing it")

            # memory per seen item: the seen set against a plain set of the GUIDs themselves
            n = 5000
            entries = [Entry(f"https://news.example.com/archive/{i}", f"https://news.example.com/a/{i}",
                             f"Archive story number {i} about rare earth supply", "") for i in range(n)]
            keys = [k for k in identify(entries) if k is not None]
            seen = SeenStore(ctx.redis, ctx.keys, 30 * 86400)
            seen.claim("memory", keys)
            seen_bytes = seen.memory("memory")
            naive_key = ctx.keys.seen("naive-guids")
            for start_at in range(0, n, 1000):
                ctx.redis.sadd(naive_key, *(e.guid for e in entries[start_at:start_at + 1000]))
            naive_bytes = int(ctx.redis.memory_usage(naive_key) or 0)
            lines.append(f"Redis per seen item: {seen_bytes / n:.0f} bytes (GUID + link + title keys, with "
                         f"timestamps) = {seen_bytes / naive_bytes:.2f}x a plain set of the GUIDs "
                         f"({naive_bytes / n:.0f} bytes)")
    return lines
