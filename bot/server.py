"""Serving the Bolt app: HTTP on gunicorn (with /healthz, /readyz, /metrics) or Socket Mode."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler

from core.keys import Keys
from core.redisconn import connect
from core.settings import Settings

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]


def make_wsgi(settings: Settings) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The WSGI application: Slack endpoint plus health, readiness and metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from bot.app import create_app

    app = create_app(settings)
    slack = SlackRequestHandler(app)
    redis = connect(settings.redis_url or "redis://127.0.0.1:6379/0")
    Keys(settings.redis_prefix)

    def wsgi(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events" and method == "POST":
            return slack(environ, start_response)
        if path == "/healthz":
            return _json(start_response, 200, {"ok": True})
        if path == "/readyz":
            try:
                redis.ping()
            except Exception as exc:  # any failure to reach Redis means not ready
                return _json(start_response, 503, {"ok": False, "redis": str(exc)})
            return _json(start_response, 200, {"ok": True, "redis": "ok"})
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest()]
        return _json(start_response, 404, {"error": "not found"})

    return wsgi


def _json(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
    data = json.dumps(body).encode()
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(data)))])
    return [data]


def serve_http(settings: Settings, *, host: str, port: int, workers: int = 2, threads: int = 8) -> int:
    from gunicorn.app.base import BaseApplication

    class _Gunicorn(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {"bind": f"{host}:{port}", "workers": workers, "threads": threads,
                               "worker_class": "gthread", "accesslog": None, "graceful_timeout": 5,
                               "timeout": 30}.items():
                self.cfg.set(key, value)

        def load(self) -> Callable[..., Any]:
            return make_wsgi(settings)

    log.info("serving HTTP", extra={"host": host, "port": port})
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
