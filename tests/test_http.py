"""The app over HTTP: `reewatch serve --http` (gunicorn) on loopback, signed requests over the wire."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from core.settings import Settings
from tests.conftest import TEST_BOT_TOKEN, TEST_SIGNING_SECRET
from tests.slackreq import forged, home_opened, slash


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(settings: Settings, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "REEWATCH_REDIS_PREFIX": settings.redis_prefix,
           "SLACK_SIGNING_SECRET": TEST_SIGNING_SECRET, "SLACK_BOT_TOKEN": TEST_BOT_TOKEN,
           "SLACK_API_URL": "http://127.0.0.1:9/api/", "REEWATCH_FEEDS_FILE": str(settings.feeds_file),
           "WEB_CONCURRENCY": "2"}
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--http", "--host", "127.0.0.1",
                             "--port", str(port)], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to ~30 s for gunicorn to fork its workers
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "server.log").read_text())
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(15)
        log.close()


def test_http_endpoints(server: str) -> None:
    with httpx.Client(base_url=server, timeout=10) as client:
        assert client.get("/healthz").json() == {"ok": True}
        assert client.get("/readyz").json() == {"ok": True, "redis": "ok"}

        req = slash("status 镝")
        reply = client.post("/slack/events", content=req.body, headers=req.headers)
        assert reply.status_code == 200
        assert "Dysprosium (Dy)" in str(reply.json()["blocks"])

        bad = forged(slash("help"))
        assert client.post("/slack/events", content=bad.body, headers=bad.headers).status_code == 401
        stale = slash("help", stale=True)
        assert client.post("/slack/events", content=stale.body, headers=stale.headers).status_code == 401

        first = home_opened("U0USER", event_id="EvHttp")
        assert client.post("/slack/events", content=first.body, headers=first.headers).status_code == 200
        retry = home_opened("U0USER", event_id="EvHttp", retry_num=2)
        again = client.post("/slack/events", content=retry.body, headers=retry.headers)
        assert again.status_code == 200 and again.headers.get("x-slack-no-retry") == "1"

        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "# TYPE reewatch_command_latency_seconds histogram" in metrics.text
        assert "python_info" in metrics.text  # the process's own collectors follow the shared ones
        assert client.get("/slack/events").status_code == 405
        assert client.get("/nope").status_code == 404
