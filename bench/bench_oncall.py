"""On-call costs that scale with traffic, each against a baseline measured in the same run:

- `consider()` for an event that does not page (what ingest pays per event) against one Redis GET round
  trip, and against parsing feeds.yaml on every call (what the mtime cache saves);
- `consider()` opening an incident (atomic open plus 6 step jobs scheduled) against the same GET;
- a step's claim (state check + record, one Lua call) against a bare SET NX;
- `on_call()` (rotation math with DST and two overrides) against one zone conversion.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from zoneinfo import ZoneInfo

from bench.common import bench_settings
from core.feeds import Rotation, load_feeds
from core.incidents import IncidentStore
from core.models import Cluster, Event
from core.oncall import Override, on_call
from workers.context import WorkerContext
from workers.escalate import consider

POLICY = """feeds: []
watchlist: [Dy]
oncall:
  channel: C0BENCH
  rotation: {users: [UA1, UB2, UC3], handoff_day: monday, handoff_time: "09:00", timezone: Europe/Berlin}
  steps:
    - notify: primary
    - {after: 10m, notify: secondary}
    - {after: 10m, notify: here}
  repeat: 1
"""


def per_call(fn: Callable[[int], object], n: int) -> float:
    """Median seconds per call over 5 batches of n calls."""
    batches = []
    for _ in range(5):
        started = time.perf_counter()
        for i in range(n):
            fn(i)
        batches.append((time.perf_counter() - started) / n)
    return statistics.median(batches)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f} µs"


def _event(i: int, severity: str) -> tuple[Event, Cluster]:
    ev = Event(id=f"e{i}", feed_id="wire", title=f"Story {i}", link="https://x.example", elements=["Dy"],
               severity=severity, cluster_id=f"c{i}")
    return ev, Cluster(id=f"c{i}", first_seen=0.0, first_event_id=ev.id, lead_event_id=ev.id, severity=severity)


def run() -> list[str]:
    with TemporaryDirectory() as tmp, bench_settings() as base:
        path = Path(tmp) / "feeds.yaml"
        path.write_text(POLICY, encoding="utf-8")
        ctx = WorkerContext(base.model_copy(update={"feeds_file": path}))
        r = ctx.redis
        r.set("bench:probe", "1")
        get = per_call(lambda i: r.get("bench:probe"), 2000)
        quiet = [_event(i, "info") for i in range(2000)]
        fresh = itertools.count(10_000)  # ids never used before, so every call does the full work
        skip = per_call(lambda i: consider(ctx, *quiet[i], True), 2000)
        parse = per_call(lambda i: load_feeds(path), 50)
        opened = per_call(lambda i: consider(ctx, *_event(next(fresh), "critical"), True), 200)
        store = IncidentStore(r, ctx.keys)
        incident_id = consider(ctx, *_event(99_999, "critical"), True) or ""
        claim = per_call(lambda i: store.claim_page(incident_id, step=0, round_=next(fresh), mention="<@UA1>",
                                                    text="paged"), 2000)
        setnx = per_call(lambda i: r.set(f"{ctx.keys.prefix}bench:nx:{next(fresh)}", "1", nx=True, ex=60), 2000)
        rot = Rotation(users=["UA1", "UB2", "UC3"], timezone="Europe/Berlin")
        now = datetime(2025, 3, 30, 12, tzinfo=UTC)
        overrides = [Override("UC3", now.timestamp() - 60, now.timestamp() + 3600, "UA1", now.timestamp()),
                     Override("UB2", now.timestamp() + 7200, now.timestamp() + 9000, "UA1", now.timestamp())]
        zone = ZoneInfo("Europe/Berlin")
        who = per_call(lambda i: on_call(rot, now, overrides), 2000)
        conv = per_call(lambda i: now.astimezone(zone), 20000)
        return [
            f"consider, no page: {us(skip)} = {skip / get:.1f}x a Redis GET ({us(get)}); parsing feeds.yaml "
            f"each time would cost {us(parse)} ({parse / skip:.0f}x)",
            f"consider, new incident + 6 step jobs: {us(opened)} = {opened / get:.0f}x a Redis GET",
            f"step claim (Lua check+record): {us(claim)} = {claim / setnx:.2f}x a bare SET NX ({us(setnx)})",
            f"on_call with 2 overrides: {us(who)} = {who / conv:.0f}x one zone conversion ({conv * 1e9:.0f} ns)",
        ]

