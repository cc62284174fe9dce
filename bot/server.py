"""Serving the Bolt app: HTTP on gunicorn (with /healthz, /readyz, /metrics) or Socket Mode.

HTTP runs on gunicorn's `gthread` worker: pre-forked processes, each with a thread pool and
keep-alive connections handled by a poller, so 50 concurrent Slack connections need no thread each.
(gunicorn's `sync` worker would close every connection after one response, and runs as gthread anyway
when threads > 1.) bench/bench_app.py measures these settings against a bare Bolt app.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.deps import Deps
from core.settings import Settings

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
#: Threads per gthread worker. A lookup waits on one Redis round trip, so more threads keep a worker busy
#: while others wait: bench/bench_app.py (2 workers, 50 clients) measured `/ree status Dy` at ~3,100 req/s
#: with 8 threads, ~3,600 with 12, ~4,000 with 16, ~4,300 with 24, ~3,500 with 32.
THREADS = 16


def make_wsgi(settings: Settings, *, app: App | None = None, deps: Deps | None = None) -> WSGIApp:
    """The WSGI application: `POST /slack/events` plus `/healthz`, `/readyz` and `/metrics`."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from bot.app import create_app
    from core import metrics

    deps = deps or Deps(settings)
    slack = SlackRequestHandler(app or create_app(settings, deps=deps))
    warm_up(deps)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events":
            if method != "POST":
                return _json(start_response, 405, {"error": "POST only"})
            return slack(environ, start_response)
        if path == "/healthz":
            return _json(start_response, 200, {"ok": True})
        if path == "/readyz":
            try:
                deps.redis.ping()
            except Exception as exc:  # any failure to reach Redis means not ready
                return _json(start_response, 503, {"ok": False, "redis": type(exc).__name__})
            return _json(start_response, 200, {"ok": True, "redis": "ok"})
        if path == "/metrics":
            # The deployment-wide metrics from Redis, then this process's own (Python runtime, histograms).
            shared = metrics.render(deps.redis, deps.keys).encode()
            body = shared + (b"\n" if shared and not shared.endswith(b"\n") else b"") + generate_latest()
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
            return [body]
        return _json(start_response, 404, {"error": "not found"})

    return wsgi


def warm_up(deps: Deps) -> None:
    """Load what the first requests would otherwise load while Slack waits (the subcommand registry, the
    element catalogue, the controls timeline, feeds.yaml, a Redis connection): hundreds of milliseconds
    of YAML and imports, paid once per worker before it takes traffic instead of by its first requests."""
    _steps((*_static_steps(), deps.feeds_file, lambda: deps.redis.ping()))


def preload() -> None:
    """The process-independent part of warm_up() (imports, registry, catalogue, controls; no connection, no
    thread), run in gunicorn's master before it forks: every worker starts with it loaded and takes traffic
    within milliseconds. Otherwise the worker that finished warming first accepted every keep-alive
    connection arriving meanwhile and kept them, leaving the others idle (bench/bench_app.py saw half the
    throughput in such runs)."""
    import bot.app  # noqa: F401  (the listeners and what they import)

    _steps(_static_steps())


def _static_steps() -> tuple[Callable[[], object], ...]:
    from bot.commands import load_all
    from bot.views import measures_for
    from core import elements

    return load_all, elements.catalogue, lambda: measures_for(None, time.time())


def _steps(steps: Iterable[Callable[[], object]]) -> None:
    for step in steps:
        try:
            step()
        except Exception as exc:  # e.g. Redis not up yet: /readyz says so; the request that needs it tells the user
            log.warning("warm-up step failed: %s", exc)


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(f"{status} {_REASONS.get(status, '')}", [("Content-Type", "application/json"),
                                                          ("Content-Length", str(len(data)))])
    return [data]


def serve_http(settings: Settings, *, host: str, port: int, workers: int | None = None, threads: int = THREADS,
               worker_class: str = "gthread", wsgi: WSGIApp | None = None,
               on_worker_ready: Callable[[], None] | None = None) -> int:
    """Run gunicorn in this process until it is stopped (SIGTERM/SIGINT shut it down gracefully).
    `on_worker_ready` runs in each worker once its app is built, just before it starts accepting."""
    from gunicorn.app.base import BaseApplication

    count = workers or int(os.environ.get("WEB_CONCURRENCY", "0")) or max(2, os.cpu_count() or 1)

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": count, "threads": threads,
                               "worker_class": worker_class, "accesslog": None, "graceful_timeout": 5,
                               "timeout": 30, "keepalive": 75, "loglevel": settings.log_level.lower(),
                               # gunicorn 25.1+ otherwise opens ~/.gunicorn/gunicorn.ctl, one path shared
                               # by every server this user runs (tests and benchmarks start several).
                               "control_socket_disable": True}.items():
                self.cfg.set(key, value)
            if on_worker_ready is not None:
                self.cfg.set("post_worker_init", lambda worker: on_worker_ready())

        def load(self) -> WSGIApp:
            # Built in each worker after the fork: Redis pools and threads are never shared across processes.
            return wsgi or make_wsgi(settings)

    log.info("serving HTTP", extra={"host": host, "port": port, "workers": count, "worker_class": worker_class})
    if wsgi is None:
        preload()
    _Gunicorn().run()
    return 0


def serve_socket_mode(settings: Settings) -> int:
    from core.errors import ConfigError

    if settings.slack_app_token is None:
        raise ConfigError("SLACK_APP_TOKEN must be set for Socket Mode (an xapp-... app-level token)")
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from bot.app import create_app

    SocketModeHandler(create_app(settings), settings.slack_app_token.get_secret_value()).start()  # type: ignore[no-untyped-call]
    return 0
