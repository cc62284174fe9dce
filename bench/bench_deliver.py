"""Delivered messages per second against the Slack stand-in's own per-channel limit.

Two real worker processes drain events routed to 1 and to 4 channels; the stand-in allows RATE posts
per second per channel (burst 4), so the ceiling is channels x RATE. Reported as a fraction of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

from bench.common import bench_settings
from core.events import EventStore
from core.models import Cluster, Event
from core.subscriptions import SubscriptionStore
from tests.fakes.slack_api import DEFAULT_TOKEN, SlackStandIn
from workers import context, deliver

RATE = 20.0
PER_CHANNEL = 60
WORKERS = 2


def _round(channels: int) -> str:
    with SlackStandIn(channel_rate=RATE, channel_burst=4, token=DEFAULT_TOKEN) as slack, \
            bench_settings(slack_api_url=slack.api_url, slack_channel_rate=RATE, slack_channel_burst=3) as s:
        ctx = context.install(s)
        store = SubscriptionStore(ctx.redis, ctx.keys)
        names = [f"C{n}" for n in range(channels)]
        for name in names:
            store.add(name, "feed", [name.lower()])
        events = EventStore(ctx.redis, ctx.keys, 86400)
        for name in names:
            for i in range(PER_CHANNEL):
                e = Event(id=uuid.uuid4().hex[:12], feed_id=name.lower(), title=f"Bench {i}: Dy export news",
                          link="https://example.com/x", published=time.time(), source="Bench", elements=["Dy"])
                e.cluster_id = e.id
                events.add(e)
                deliver.route(ctx, e, Cluster(e.id, e.when, e.id, e.id, [e.id], [e.source]), True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REEWATCH_", "REDIS_"))}
        env |= {"REDIS_URL": str(s.redis_url), "REEWATCH_REDIS_PREFIX": s.redis_prefix,
                "SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": DEFAULT_TOKEN, "SLACK_SIGNING_SECRET": "x",
                "REEWATCH_SLACK_CHANNEL_RATE": str(RATE), "REEWATCH_SLACK_CHANNEL_BURST": "3",
                "REEWATCH_LOG_LEVEL": "WARNING", "REEWATCH_FEEDS_FILE": os.devnull}
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-m", "bot.cli", "worker", "--burst"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(WORKERS)]
        for p in procs:
            p.wait(timeout=600)
        elapsed = time.perf_counter() - started
        delivered = sum(len(slack.messages(n)) for n in names)
        ceiling = channels * RATE
        rate = delivered / elapsed
        return (f"{channels} channel(s), {delivered}/{channels * PER_CHANNEL} posts in {elapsed:.1f}s: "
                f"{rate:.1f} msg/s = {rate / ceiling:.2f}x the stand-in's limit ({ceiling:g}/s), "
                f"{len(slack.rate_limited())} answers of 429")


def run() -> list[str]:
    return [_round(1), _round(4)]
