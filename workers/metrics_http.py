"""The deployment's /metrics page, and a small HTTP endpoint that serves it from a worker process.

`scrape` is what every role serves: the Redis-backed registry of core.metrics plus the gauges that
are measured when asked (RQ queue depth, age of the oldest waiting job, failed jobs, dead letters, live workers and
schedulers).
It lives here, not in core, because it reads RQ's queues. The bot's /metrics calls it too.

`reewatch worker` starts `start_metrics_server` when REEWATCH_METRICS_PORT is set. Every endpoint
reports the whole deployment, so one endpoint per host is enough: a second worker on the same host
and port logs a warning and runs without one.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis as redis_lib
from rq import Worker
from rq.exceptions import NoSuchJobError
from rq.job import Job

from core import metrics
from core.keys import Keys
from core.settings import Settings
from workers.context import WorkerContext
from workers.enqueue import QUEUE_NAMES, queue
from workers.healthcheck import SCHEDULER_STALE_AFTER, scheduler_beats

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def queue_samples(keys: Keys, rq_redis: redis_lib.Redis, now: datetime | None = None) -> metrics.Computed:
    """Depth, oldest-job age and failed-job count of every project queue, labelled by short queue name."""
    now = now or datetime.now(UTC)
    depth: list[tuple[metrics.Labels, float]] = []
    age: list[tuple[metrics.Labels, float]] = []
    failed: list[tuple[metrics.Labels, float]] = []
    for name in QUEUE_NAMES:
        q = queue(keys, name, rq_redis)
        labels = {"queue": name}
        depth.append((labels, q.count))
        age.append((labels, _oldest_age(q.get_job_ids(0, 1), rq_redis, now)))
        # cleanup=False: a scrape must not write to the store it reports on
        failed.append((labels, q.failed_job_registry.get_job_count(cleanup=False)))
    return {"reewatch_queue_depth": depth, "reewatch_queue_oldest_age_seconds": age,
            "reewatch_queue_failed": failed}


def _oldest_age(head: list[str], rq_redis: redis_lib.Redis, now: datetime) -> float:
    """Seconds since the queue's head job was enqueued (RQ pushes on the right and pops on the left)."""
    if not head:
        return 0.0
    try:
        job = Job.fetch(head[0], connection=rq_redis)
    except NoSuchJobError:  # taken or expired between the two reads
        return 0.0
    if job.enqueued_at is None:
        return 0.0
    enqueued = job.enqueued_at if job.enqueued_at.tzinfo else job.enqueued_at.replace(tzinfo=UTC)
    return max(0.0, (now - enqueued).total_seconds())


def dead_letter_count(redis: redis_lib.Redis, keys: Keys) -> int:
    """Entries in the dead-letter store, whatever Redis type the delivery code keeps it in."""
    key = keys.dead_letters()
    kind = redis.type(key)
    kind = kind.decode() if isinstance(kind, bytes) else kind
    counters = {"list": redis.llen, "zset": redis.zcard, "set": redis.scard, "hash": redis.hlen,
                "stream": redis.xlen}
    return int(counters[kind](key)) if kind in counters else 0


def process_samples(keys: Keys, rq_redis: redis_lib.Redis, now: float | None = None) -> metrics.Computed:
    """How many workers and schedulers this deployment has, and how fresh the scheduler's heartbeat is."""
    now = time.time() if now is None else now
    workers = Worker.count(connection=rq_redis, queue=queue(keys, QUEUE_NAMES[-1], rq_redis))
    beats = scheduler_beats(keys, rq_redis)
    newest = max(beats, default=None)
    return {
        "reewatch_workers": [({}, workers)],
        "reewatch_schedulers": [({}, sum(1 for b in beats if now - b <= SCHEDULER_STALE_AFTER))],
        "reewatch_scheduler_heartbeat_age_seconds": [({}, math.inf if newest is None else max(0.0, now - newest))],
    }


def scrape(redis: redis_lib.Redis, rq_redis: redis_lib.Redis, keys: Keys) -> str:
    """The deployment's metrics page in Prometheus text format."""
    computed = {**queue_samples(keys, rq_redis), **process_samples(keys, rq_redis)}
    computed["reewatch_dead_letters"] = [({}, dead_letter_count(redis, keys))]
    return metrics.render(redis, keys, computed)


class MetricsServer:
    """`/metrics`, `/healthz` and `/readyz` (Redis reachable) on a daemon thread of this process."""

    def __init__(self, ctx: WorkerContext, host: str, port: int) -> None:
        self._httpd = ThreadingHTTPServer((host, port), _handler(ctx))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="metrics-http", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def start(self) -> MetricsServer:
        self._thread.start()
        log.info("metrics endpoint listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def start_metrics_server(settings: Settings, *, port: int, host: str = "0.0.0.0") -> MetricsServer | None:
    """Serve metrics from this process; None (with a warning) when the port is taken on this host."""
    ctx = WorkerContext(settings)
    try:
        return MetricsServer(ctx, host, port).start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        log.warning("metrics port already in use on this host; this worker serves no /metrics "
                    "(any other endpoint reports the whole deployment)", extra={"port": port})
        return None


def _handler(ctx: WorkerContext) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                try:
                    page = scrape(ctx.redis, ctx.rq_redis, ctx.keys)
                except redis_lib.RedisError as exc:
                    self._send(503, "application/json", json.dumps({"ok": False, "redis": str(exc)}))
                    return
                self._send(200, CONTENT_TYPE, page)
            elif path == "/healthz":
                self._send(200, "application/json", '{"ok": true}')
            elif path == "/readyz":
                try:
                    ctx.redis.ping()
                except redis_lib.RedisError as exc:
                    self._send(503, "application/json", json.dumps({"ok": False, "redis": str(exc)}))
                    return
                self._send(200, "application/json", '{"ok": true, "redis": "ok"}')
            else:
                self._send(404, "application/json", '{"error": "not found"}')

        def _send(self, status: int, content_type: str, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass  # scrapes every 15 s would drown the worker's log

    return Handler
