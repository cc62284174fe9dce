"""The on-call policy as the workers read it: feeds.yaml `oncall:`, who is on call now, whether an event
triggers a page, the plan of (step, round, delay) pages, and the job ids those pages run under."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from rq.job import Job

from core.feeds import FeedsFile, OncallConfig, load_feeds
from core.models import Cluster, Event, Severity
from core.oncall import OnCall, on_call
from core.oncall_store import OverrideStore
from workers.context import WorkerContext

DEFAULT_REPEAT_GAP = 300.0  # between rounds when neither repeat_after nor the last step's wait says


_cache: dict[Path, tuple[tuple[int, int], FeedsFile]] = {}


def feeds(ctx: WorkerContext) -> FeedsFile:
    """feeds.yaml, parsed again only when the file changes (ingest asks once per event)."""
    path = ctx.settings.feeds_file
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return FeedsFile()
    stamp = (st.st_mtime_ns, st.st_size)
    cached = _cache.get(path)
    if cached is None or cached[0] != stamp:
        cached = _cache[path] = (stamp, load_feeds(path))
    return cached[1]


def policy(ctx: WorkerContext) -> OncallConfig | None:
    return feeds(ctx).oncall


def current(ctx: WorkerContext, cfg: OncallConfig, now: float | None = None) -> OnCall:
    when = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return on_call(cfg.rotation, when, OverrideStore(ctx.redis, ctx.keys).active(when.timestamp()))


def triggers(ff: FeedsFile, cfg: OncallConfig, event: Event, cluster: Cluster) -> bool:
    """Does this event call for a page under `oncall.trigger`?"""
    rule = cfg.trigger
    if not severity_of(event, cluster).at_least(rule.min_severity):
        return False
    if rule.watchlist_only and not set(event.elements) & set(ff.watchlist):
        return False
    return not (rule.official_only and event.tier != "official")


def severity_of(event: Event, cluster: Cluster) -> Severity:
    sev = event.sev
    try:
        cluster_sev = Severity(cluster.severity)
    except ValueError:
        return sev
    return cluster_sev if cluster_sev.rank > sev.rank else sev


def plan(cfg: OncallConfig) -> list[tuple[int, int, float]]:
    """(step, round, seconds after the start) for every page the policy can send."""
    steps = cfg.steps
    gap = cfg.repeat_after if cfg.repeat_after is not None else (steps[-1].after or DEFAULT_REPEAT_GAP)
    out, offset = [], 0.0
    for round_ in range(cfg.repeat + 1):
        for index, step in enumerate(steps):
            offset += (steps[0].after if round_ == 0 else gap) if index == 0 else step.after
            out.append((index, round_, offset))
    return out


def step_job_id(ctx: WorkerContext, incident_id: str, step: int, round_: int) -> str:
    return ctx.keys.job_id("inc", incident_id, "step", str(step), str(round_))


def release_job_id(ctx: WorkerContext, incident_id: str) -> str:
    return ctx.keys.job_id("inc", incident_id, "release")


def cancel_steps(ctx: WorkerContext, incident_id: str) -> int:
    """Delete the incident's step and release jobs still waiting; they would page nobody anyway."""
    cfg = policy(ctx)
    ids = [release_job_id(ctx, incident_id)]
    if cfg is not None:
        ids += [step_job_id(ctx, incident_id, s, r) for s, r, _ in plan(cfg)]
    gone = 0
    for job_id in ids:
        if not ctx.rq_redis.exists(Job.key_for(job_id)):
            continue
        job = Job.fetch(job_id, connection=ctx.rq_redis)
        if job.get_status(refresh=False) in ("scheduled", "queued", "deferred"):
            job.delete()
            gone += 1
    return gone
