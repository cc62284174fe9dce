"""Prometheus metrics kept in Redis, so every role (bot replicas, workers, scheduler) adds to one set.

A scrape of any `/metrics` endpoint sees the whole deployment. Each metric family is one Redis hash
(`Keys.metrics(name)`); a field is one label set. Writes are one round trip and never scan:

    inc(redis, keys, "reewatch_polls_total", {"outcome": "ok"})
    observe(redis, keys, "reewatch_command_latency_seconds", 0.12, {"command": "status"})
    with timed(redis, keys, "reewatch_command_latency_seconds", {"command": "status"}): ...

Adding a metric is one line in `CATALOGUE`; an unknown name or label is a programming error
(ValueError). Gauges marked `computed` (queue depth and age, dead letters) are measured at scrape
time by the caller of `render` (see workers/metrics_http.py, which may import rq; core may not).
A failed metrics write is logged and swallowed: counting must never change the work it counts.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import redis as redis_lib

from core.keys import Keys

log = logging.getLogger(__name__)

Kind = Literal["counter", "gauge", "histogram"]
Labels = Mapping[str, str]

#: Seconds; chosen around Slack's 3 s acknowledgement deadline.
LATENCY_BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True)
class Metric:
    """One metric family: its type, help line, allowed label names, buckets, and where it comes from."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()
    computed: bool = False  # measured at scrape time, never written


def _m(*args: Any, **kwargs: Any) -> tuple[str, Metric]:
    metric = Metric(*args, **kwargs)
    return metric.name, metric


CATALOGUE: dict[str, Metric] = dict([
    _m("reewatch_polls_total", "counter", "Feed polls by outcome (ok, not_modified, unchanged, error, "
       "skipped, disabled).", ("outcome",)),
    _m("reewatch_items_total", "counter", "Feed items seen by result (new, duplicate, clustered, seeded).",
       ("result",)),
    _m("reewatch_events_total", "counter", "Events stored, by severity.", ("severity",)),
    _m("reewatch_posts_total", "counter", "Slack posts and updates by outcome (posted, updated, duplicate, "
       "retried, failed, dead_letter).", ("outcome",)),
    _m("reewatch_slack_ratelimited_total", "counter", "Slack Web API answers of 429 (rate limited)."),
    _m("reewatch_incidents", "gauge", "Incidents by state: triggered and acknowledged are open now; "
       "resolved counts every incident resolved.", ("state",)),
    _m("reewatch_pages_total", "counter", "On-call pages sent, by target kind (primary, secondary, user, "
       "here, channel, usergroup, dm_fallback).", ("target",)),  # added by the on-call helper (issue 7)
    _m("reewatch_command_latency_seconds", "histogram", "Time from receiving a slash command to its ack.",
       ("command",), LATENCY_BUCKETS),
    _m("reewatch_dead_letters", "gauge", "Deliveries in the dead-letter list, waiting for a replay.",
       computed=True),
    _m("reewatch_queue_depth", "gauge", "Jobs waiting in each RQ queue.", ("queue",), computed=True),
    _m("reewatch_queue_oldest_age_seconds", "gauge", "Age of the oldest job waiting in each RQ queue "
       "(0 when empty).", ("queue",), computed=True),
    _m("reewatch_queue_failed", "gauge", "Jobs in each RQ queue's failed-job registry.", ("queue",),
       computed=True),
    _m("reewatch_workers", "gauge", "RQ workers registered on the project's queues.", computed=True),
    _m("reewatch_schedulers", "gauge", "Schedulers that sent a heartbeat lately (should be exactly 1).",
       computed=True),
    _m("reewatch_scheduler_heartbeat_age_seconds", "gauge", "Seconds since the newest scheduler heartbeat "
       "(+Inf when none ever ran).", computed=True),
])

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_SEP = "\t"  # between a histogram field's own part (bucket, sum, count) and the label string


def _metric(name: str, *, written: bool = True) -> Metric:
    try:
        metric = CATALOGUE[name]
    except KeyError:
        raise ValueError(f"unknown metric {name!r}; add it to core.metrics.CATALOGUE") from None
    if written and metric.computed:
        raise ValueError(f"metric {name!r} is measured at scrape time and cannot be written")
    return metric


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def label_string(metric: Metric, labels: Labels | None) -> str:
    """Canonical `a="x",b="y"` for `labels` (sorted by name); ValueError on a label not declared."""
    if not labels:
        return ""
    for label in labels:
        if label not in metric.labels or not _LABEL_NAME.match(label):
            raise ValueError(f"metric {metric.name!r} has no label {label!r} (has: {', '.join(metric.labels)})")
    return ",".join(f'{k}="{_escape(str(labels[k]))}"' for k in sorted(labels))


def inc(redis: redis_lib.Redis, keys: Keys, name: str, labels: Labels | None = None, by: float = 1) -> None:
    """Add `by` to a counter (non-negative whole numbers) or a gauge (any number)."""
    metric = _metric(name)
    field = label_string(metric, labels)
    if metric.kind == "histogram":
        raise ValueError(f"{name!r} is a histogram: use observe()")
    if metric.kind == "counter" and (by < 0 or not float(by).is_integer()):
        raise ValueError(f"counter {name!r} only grows by whole numbers, got {by!r}")
    try:
        if metric.kind == "counter":
            redis.hincrby(keys.metrics(name), field, int(by))
        else:
            redis.hincrbyfloat(keys.metrics(name), field, float(by))
    except redis_lib.RedisError as exc:
        log.warning("metric not recorded", extra={"metric": name, "error": str(exc)})


def set_gauge(redis: redis_lib.Redis, keys: Keys, name: str, value: float, labels: Labels | None = None) -> None:
    """Set a gauge to `value`."""
    metric = _metric(name)
    if metric.kind != "gauge":
        raise ValueError(f"{name!r} is a {metric.kind}, not a gauge")
    try:
        redis.hset(keys.metrics(name), label_string(metric, labels), repr(float(value)))
    except redis_lib.RedisError as exc:
        log.warning("metric not recorded", extra={"metric": name, "error": str(exc)})


def observe(redis: redis_lib.Redis, keys: Keys, name: str, seconds: float, labels: Labels | None = None) -> None:
    """Record one observation in a histogram: its bucket, the sum and the count, in one round trip."""
    metric = _metric(name)
    if metric.kind != "histogram":
        raise ValueError(f"{name!r} is a {metric.kind}, not a histogram")
    lab = label_string(metric, labels)
    key = keys.metrics(name)
    bucket = next((b for b in metric.buckets if seconds <= b), None)
    try:
        pipe = redis.pipeline(transaction=False)
        if bucket is not None:  # above the last bound counts only in +Inf, which is the count
            pipe.hincrby(key, f"{_fmt(bucket)}{_SEP}{lab}", 1)
        pipe.hincrbyfloat(key, f"sum{_SEP}{lab}", float(seconds))
        pipe.hincrby(key, f"count{_SEP}{lab}", 1)
        pipe.execute()
    except redis_lib.RedisError as exc:
        log.warning("metric not recorded", extra={"metric": name, "error": str(exc)})


def observe_many(redis: redis_lib.Redis, keys: Keys, name: str,
                 observations: Iterable[tuple[float, Labels | None]]) -> None:
    """Record many observations of histogram `name` in one round trip, summed per field first (the Slack
    app flushes its command latencies this way: one write per flush, not one per command)."""
    metric = _metric(name)
    if metric.kind != "histogram":
        raise ValueError(f"{name!r} is a {metric.kind}, not a histogram")
    counts: dict[str, int] = {}
    sums: dict[str, float] = {}
    for seconds, labels in observations:
        lab = label_string(metric, labels)
        bucket = next((b for b in metric.buckets if seconds <= b), None)
        if bucket is not None:
            field = f"{_fmt(bucket)}{_SEP}{lab}"
            counts[field] = counts.get(field, 0) + 1
        counts[f"count{_SEP}{lab}"] = counts.get(f"count{_SEP}{lab}", 0) + 1
        sums[f"sum{_SEP}{lab}"] = sums.get(f"sum{_SEP}{lab}", 0.0) + float(seconds)
    if not counts:
        return
    key = keys.metrics(name)
    try:
        pipe = redis.pipeline(transaction=False)
        for field, n in counts.items():
            pipe.hincrby(key, field, n)
        for field, total in sums.items():
            pipe.hincrbyfloat(key, field, total)
        pipe.execute()
    except redis_lib.RedisError as exc:
        log.warning("metric not recorded", extra={"metric": name, "error": str(exc)})


@contextmanager
def timed(redis: redis_lib.Redis, keys: Keys, name: str, labels: Labels | None = None) -> Iterator[None]:
    """Observe the wall time of the `with` block in histogram `name` (also when the block raises)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        observe(redis, keys, name, time.perf_counter() - started, labels)


# --- exposition -------------------------------------------------------------------------------

#: Samples measured at scrape time: metric name -> [(labels, value)].
Computed = Mapping[str, Sequence[tuple[Labels, float]]]


def render(redis: redis_lib.Redis, keys: Keys, computed: Computed | None = None) -> str:
    """Every catalogued metric in Prometheus text format 0.0.4; `computed` supplies scrape-time gauges."""
    names = list(CATALOGUE)
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(keys.metrics(name))
    stored = dict(zip(names, pipe.execute(), strict=True))
    out: list[str] = []
    for name, metric in CATALOGUE.items():
        out.append(f"# HELP {name} {metric.help}")
        out.append(f"# TYPE {name} {metric.kind}")
        if metric.computed:
            for labels, value in (computed or {}).get(name, ()):
                out.append(_sample(name, label_string(metric, labels), value))
        elif metric.kind == "histogram":
            out.extend(_histogram_lines(metric, _decoded(stored[name])))
        else:
            fields = _decoded(stored[name])
            if not fields and not metric.labels:
                fields = {"": "0"}  # an unlabelled family always has its one series
            for lab in sorted(fields):
                out.append(_sample(name, lab, float(fields[lab])))
    return "\n".join(out) + "\n"


def _histogram_lines(metric: Metric, fields: dict[str, str]) -> list[str]:
    series: dict[str, dict[str, float]] = {}
    for field, value in fields.items():
        part, _, lab = field.partition(_SEP)
        series.setdefault(lab, {})[part] = float(value)
    lines: list[str] = []
    for lab in sorted(series):
        parts = series[lab]
        running = 0.0
        for bound in metric.buckets:
            running += parts.get(_fmt(bound), 0.0)
            lines.append(_sample(f"{metric.name}_bucket", _join(lab, f'le="{_fmt(bound)}"'), running))
        count = parts.get("count", 0.0)
        lines.append(_sample(f"{metric.name}_bucket", _join(lab, 'le="+Inf"'), count))
        lines.append(_sample(f"{metric.name}_sum", lab, parts.get("sum", 0.0)))
        lines.append(_sample(f"{metric.name}_count", lab, count))
    return lines


def _decoded(raw: Mapping[Any, Any]) -> dict[str, str]:
    """HGETALL from a text or a bytes client, as text."""
    return {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()}


def _join(labels: str, extra: str) -> str:
    return f"{labels},{extra}" if labels else extra


def _sample(name: str, labels: str, value: float) -> str:
    return f"{name}{{{labels}}} {_fmt(value)}" if labels else f"{name} {_fmt(value)}"


def _fmt(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def reset(redis: redis_lib.Redis, keys: Keys) -> None:
    """Delete every stored metric of this deployment (tests and `reewatch` maintenance only)."""
    redis.delete(*(keys.metrics(name) for name in CATALOGUE))
