"""Scheduling and the command line: tick reads the registry and due times; real RQ burst workers poll;
`reewatch poll` and `reewatch preview` run the same pipeline."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.cli import main
from core.blockkit import validate_message
from core.feeds import FeedConfig
from core.feedstate import FeedStateStore
from core.registry import FeedRegistry
from core.settings import Settings
from tests.fakes.feed_server import FeedServer, Reply, rss
from workers import context
from workers.enqueue import queue
from workers.tasks import tick

FEED = rss([{"title": "Yttrium shortage hits coatings makers", "guid": "y1", "link": "https://e.com/y1",
             "description": "<p>Yttrium oxide prices doubled as export licences stalled.</p>"}])


@pytest.fixture
def ctx(settings: Settings) -> context.WorkerContext:
    return context.install(settings)


def test_tick_polls_runtime_feeds_through_a_real_worker(feed_server: FeedServer, ctx: context.WorkerContext,
                                                        burst_worker: Callable[[], bool]) -> None:
    url = feed_server.route("/rt.xml", Reply(body=FEED))
    FeedRegistry(ctx.settings, ctx.redis, ctx.keys).add(FeedConfig(id="runtime-feed", url=url, interval=60))
    assert tick() == 1
    assert queue(ctx.keys, "poll", ctx.rq_redis).count == 1
    assert tick() == 0  # leased: not enqueued twice while the job waits
    burst_worker()
    state = FeedStateStore(ctx.redis, ctx.keys).get("runtime-feed")
    assert state.seeded and state.next_due is not None and state.next_due > time.time() + 30
    assert tick() == 0  # not due again before its interval


def test_tick_skips_disabled_and_removed_feeds(feed_server: FeedServer, feeds_file: Path,
                                               ctx: context.WorkerContext) -> None:
    feeds_file.write_text(f"feeds:\n  - id: a\n    url: {feed_server.url('/a')}\n"
                          f"  - id: b\n    url: {feed_server.url('/b')}\n"
                          f"  - id: c\n    url: {feed_server.url('/c')}\n", encoding="utf-8")
    FeedStateStore(ctx.redis, ctx.keys).disable("a", "test")
    FeedRegistry(ctx.settings, ctx.redis, ctx.keys).remove("b")
    assert tick() == 1
    [job] = queue(ctx.keys, "poll", ctx.rq_redis).jobs
    assert job.args == (["c"],)


def test_tick_honours_backoff(feed_server: FeedServer, feeds_file: Path, ctx: context.WorkerContext) -> None:
    feeds_file.write_text(f"feeds:\n  - id: late\n    url: {feed_server.url('/late')}\n", encoding="utf-8")
    FeedStateStore(ctx.redis, ctx.keys).set_due("late", time.time() + 3600)
    assert tick() == 0


def test_cli_poll_inline_and_enqueued(feed_server: FeedServer, cli_env: Settings,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    cli_env.feeds_file.write_text(f"feeds:\n  - id: good\n    url: {feed_server.route('/g', Reply(body=FEED))}\n"
                                  f"  - id: html\n    url: {feed_server.route('/h', Reply(body=b'<html></html>'))}\n",
                                  encoding="utf-8")
    assert main(["poll", "--inline", "good"]) == 0
    assert capsys.readouterr().out.strip() == "good: ok"
    assert main(["poll", "--inline"]) == 1
    out = capsys.readouterr().out
    assert "good: unchanged" in out and "html: error - an HTML page" in out
    assert main(["poll", "good"]) == 0
    assert "enqueued 1 feed(s)" in capsys.readouterr().out
    ctx = context.install(cli_env)
    assert queue(ctx.keys, "poll", ctx.rq_redis).count == 1
    assert main(["poll", "nope"]) == 2


def test_cli_preview_json_lines(feed_server: FeedServer, cli_env: Settings, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    url = feed_server.route("/p.xml", Reply(body=FEED))
    assert main(["preview", url, "--json"]) == 0
    [line] = capsys.readouterr().out.strip().splitlines()
    record = json.loads(line)
    assert record["item"]["title"] == "Yttrium shortage hits coatings makers"
    assert "Y" in record["item"]["elements"]
    assert validate_message(record["message"]["text"], record["message"]["blocks"]) == []
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    assert main(["preview", str(path)]) == 0
    assert "Yttrium shortage" in capsys.readouterr().out
    ctx = context.install(cli_env)
    assert list(ctx.redis.scan_iter(match=f"{cli_env.redis_prefix}*")) == []  # nothing stored
    path.write_bytes(b"<html>no</html>")
    assert main(["preview", str(path)]) == 2
    assert "HTML page" in capsys.readouterr().err
