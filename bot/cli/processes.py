"""Long-running roles: `run` (all of them), `serve` (the Bolt app), `worker`, `scheduler`."""

from __future__ import annotations

import argparse
import os
from typing import Any

from bot.cli.common import add, settings_for_command
from core.errors import ConfigError
from core.feeds import load_feeds
from core.redisconn import redis_url_or_embedded
from core.settings import Settings


def register(sub: Any) -> None:
    add(sub, "run", cmd_run, "bot + worker + scheduler as child processes, on one Redis "
        "(embedded Valkey when REDIS_URL is unset)")
    serve = add(sub, "serve", cmd_serve, "the Bolt app over HTTP (/slack/events, /healthz, /readyz, "
                "/metrics) or Socket Mode")
    mode = serve.add_mutually_exclusive_group()
    mode.add_argument("--http", action="store_true", help="serve HTTP (the default)")
    mode.add_argument("--socket", action="store_true", help="Socket Mode (needs SLACK_APP_TOKEN)")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP bind address (default 0.0.0.0)")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")),
                       help="HTTP port (default $PORT or 3000)")
    worker = add(sub, "worker", cmd_worker, "an RQ worker on the project's queues")
    worker.add_argument("--burst", action="store_true", help="drain the queues, then exit")
    add(sub, "scheduler", cmd_scheduler, "the periodic scheduler (RQ cron) that enqueues feed polls and timers")


def _needs_shared_redis(settings: Settings, role: str) -> None:
    if not settings.redis_url:
        raise ConfigError(
            f"REDIS_URL is not set: `reewatch {role}` must share a Redis with the other roles. "
            "Set REDIS_URL, or use `reewatch run`, which starts an embedded server"
        )


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    settings.require_slack()
    load_feeds(settings.feeds_file)  # refuse a broken feeds.yaml before starting anything
    from bot.cli.supervisor import run_roles

    with redis_url_or_embedded(settings.redis_url) as url:
        env = {**os.environ, "REDIS_URL": url}
        return run_roles({
            "bot": ["serve", "--http", "--port", os.environ.get("PORT", "3000")],
            "worker": ["worker"],
            "scheduler": ["scheduler"],
        }, env=env)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    settings.require_slack()
    _needs_shared_redis(settings, "serve")
    if args.socket:
        from bot.server import serve_socket_mode

        return serve_socket_mode(settings)
    from bot.server import serve_http

    return serve_http(settings, host=args.host, port=args.port)


def cmd_worker(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    _needs_shared_redis(settings, "worker")
    from workers.runner import make_worker

    worker = make_worker(settings)
    if settings.metrics_port and not args.burst:  # REEWATCH_METRICS_PORT: /metrics for the whole deployment
        from workers.metrics_http import start_metrics_server

        start_metrics_server(settings, port=settings.metrics_port)
    worker.work(burst=args.burst, with_scheduler=True, logging_level=settings.log_level.upper())
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    settings = settings_for_command()
    _needs_shared_redis(settings, "scheduler")
    load_feeds(settings.feeds_file)
    from workers.runner import make_scheduler

    make_scheduler(settings).start()  # type: ignore[no-untyped-call]
    return 0
