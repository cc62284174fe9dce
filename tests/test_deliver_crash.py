"""No duplicate and no loss when a real worker process is SIGKILLed mid-delivery and a new one takes over.

Each case starts `reewatch worker --burst` as a subprocess in its own process group with
REEWATCH_FAULT_PAUSE_AT=<point>:<marker file>; the delivery job touches the marker and hangs at that
point; the test kills the whole group (worker and its work horse) with SIGKILL, waits out the
delivery lease, runs the recovery sweep and a fresh burst worker, and counts what Slack received.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.deadletters import DeadLetterStore
from core.settings import Settings
from core.subscriptions import SubscriptionStore
from tests.conftest import TEST_BOT_TOKEN
from tests.fakes.slack_api import SlackStandIn
from tests.test_deliver import make_event, route
from workers import context, deliver
from workers.context import WorkerContext
from workers.outbox import Outbox

pytestmark = pytest.mark.slow
LEASE = 1.5


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(channel_rate=200.0, channel_burst=50) as standin:
        yield standin


@pytest.fixture
def settings(settings: Settings, slack: SlackStandIn) -> Settings:
    return settings.model_copy(update={"slack_api_url": slack.api_url, "delivery_lease": LEASE,
                                       "slack_channel_rate": 100.0, "slack_channel_burst": 20})


@pytest.fixture
def ctx(settings: Settings) -> WorkerContext:
    return context.install(settings)


def kill_worker_at(settings: Settings, point: str, tmp_path: Path) -> None:
    """Run a worker subprocess until its delivery job reaches `point`, then SIGKILL it and its horse."""
    marker = tmp_path / f"reached-{point}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REEWATCH_", "REDIS_"))}
    env |= {"REDIS_URL": str(settings.redis_url), "REEWATCH_REDIS_PREFIX": settings.redis_prefix,
            "SLACK_API_URL": settings.slack_api_url, "SLACK_BOT_TOKEN": TEST_BOT_TOKEN,
            "SLACK_SIGNING_SECRET": "x", "REEWATCH_FEEDS_FILE": str(settings.feeds_file),
            "REEWATCH_DELIVERY_LEASE": str(LEASE), "REEWATCH_SLACK_CHANNEL_RATE": "100",
            "REEWATCH_LOG_LEVEL": "WARNING", "REEWATCH_FAULT_PAUSE_AT": f"{point}:{marker}"}
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--burst"], env=env,
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"worker exited before {point}: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"worker never reached {point}")
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        # RQ's work horse runs in a process group of its own; the checkpoint wrote its pid.
        horse = marker.read_text().strip() if marker.exists() else ""
        if horse.isdigit():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(horse), signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()


def recover(ctx: WorkerContext, burst_worker: Callable[[], bool]) -> None:
    """What a restarted deployment does: the sweep re-drives what is still pending; a worker runs it."""
    time.sleep(LEASE + 0.2)  # the dead worker's lease (and its lock) must run out first
    deliver.sweep(ctx)
    burst_worker()


FIRST_POST_POINTS = ["before_claim", "after_claim", "after_post", "after_record", "before_done"]


@pytest.mark.parametrize("point", FIRST_POST_POINTS)
def test_first_post_survives_sigkill(point: str, ctx: WorkerContext, settings: Settings, slack: SlackStandIn,
                                     burst_worker: Callable[[], bool], tmp_path: Path) -> None:
    SubscriptionStore(ctx.redis, ctx.keys).add("C1", "all")
    event, cluster = make_event(ctx, "Myanmar militia seizes rare earth mines in Kachin")
    route(ctx, event, cluster)
    kill_worker_at(settings, point, tmp_path)
    posted_before = len(slack.messages("C1"))
    assert posted_before == (1 if point in ("after_post", "after_record", "before_done") else 0)

    recover(ctx, burst_worker)
    [post] = slack.messages("C1")
    assert post.metadata and post.metadata["event_payload"]["item"] == event.id
    assert Outbox(ctx).pending() == [] and DeadLetterStore(ctx.redis, ctx.keys).list() == []
    # and a second run of everything changes nothing
    deliver.route(ctx, event, cluster, True)
    recover(ctx, burst_worker)
    assert len(slack.messages("C1", replies=True)) == 1


THREAD_POINTS = ["after_claim", "after_post", "after_reply", "before_done"]


@pytest.mark.parametrize("point", THREAD_POINTS)
def test_thread_reply_survives_sigkill(point: str, ctx: WorkerContext, settings: Settings, slack: SlackStandIn,
                                       burst_worker: Callable[[], bool], tmp_path: Path) -> None:
    SubscriptionStore(ctx.redis, ctx.keys).add("C1", "all")
    title = "Myanmar militia seizes rare earth mines in Kachin state, cutting heavy rare earth supply"
    first, cluster = make_event(ctx, title, source="Reuters")
    route(ctx, first, cluster)
    burst_worker()
    second, same = make_event(ctx, title, source="Nikkei")
    assert same.id == cluster.id
    route(ctx, second, same)
    kill_worker_at(settings, point, tmp_path)

    recover(ctx, burst_worker)
    [top] = slack.messages("C1")
    replies = slack.thread("C1", top.ts)
    assert [r.metadata["event_payload"]["item"] for r in replies if r.metadata] == [second.id]
    assert len(replies) == 1
    also = [b for b in top.blocks if b.get("block_id") == "also"]
    assert also and "Nikkei" in also[0]["elements"][0]["text"]
    assert Outbox(ctx).pending() == [] and DeadLetterStore(ctx.redis, ctx.keys).list() == []
