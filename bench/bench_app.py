"""The Slack app's speed: `/ree status Dy` against a bare Bolt app that only acks.

In process (app.dispatch of a signed request, signature check included), with 1,000 realistic events
in Redis, in both of Bolt's listener modes: the default threaded runner (polls for ack() in 10 ms
steps) and process_before_response=True (the mode bot/app.py uses). Over HTTP: requests per second
and p99 latency with 50 concurrent keep-alive clients, against gunicorn (gthread, the settings
`reewatch serve --http` uses) serving the full app and serving the bare app, alternating, medians.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from slack_bolt import Ack, App, BoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_sdk import WebClient

from bench.common import bench_settings
from bot.signed import SignedRequest, slash_command
from core.settings import Settings

SECRET = "bench-signing-secret"
TOKEN = "xoxb-bench"
EVENTS = 1000
CLIENTS = 50
HTTP_SECONDS = 4.0
ROUNDS = 3  # HTTP runs per app, alternating


def run() -> list[str]:
    with bench_settings(slack_signing_secret=SECRET, slack_bot_token=TOKEN,
                        slack_api_url="http://127.0.0.1:9/api/") as settings:
        seed(settings)
        lines = []
        for pbr, n in ((True, 3000), (False, 150)):
            mode = "process_before_response" if pbr else "threaded (default)"
            from bot.app import create_app

            full = latencies(create_app(settings, process_before_response=pbr), "status Dy", n)
            bare = latencies(bare_app(pbr), "status Dy", n)
            lines.append(f"in-process {mode}: status Dy p50 {ms(full, 50)} p99 {ms(full, 99)}; bare ack p50 "
                         f"{ms(bare, 50)} p99 {ms(bare, 99)}; p99 ratio {pct(full, 99) / pct(bare, 99):.1f}x")
        # gthread only: gunicorn runs its `sync` worker as gthread whenever threads > 1 (a "sync" line here
        # used to measure gthread twice), and a real sync worker closes every connection after one response,
        # which 50 keep-alive clients are not. Full and bare alternate ROUNDS times; medians are reported
        # because other processes on a small machine make single 4-second runs vary by a fifth or more.
        runs: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
        for _ in range(ROUNDS):
            for is_bare in (False, True):
                runs[is_bare].append(http_load(settings, bare=is_bare, worker_class="gthread"))
        full_rps, full_p99 = (statistics.median(v) for v in zip(*runs[False], strict=True))
        bare_rps, bare_p99 = (statistics.median(v) for v in zip(*runs[True], strict=True))
        each = ", ".join(f"{f[0] / b[0]:.2f}" for f, b in zip(runs[False], runs[True], strict=True))
        lines.append(f"HTTP gunicorn gthread {_workers()}x{_threads()}, {CLIENTS} clients, median of {ROUNDS}: "
                     f"status Dy {full_rps:.0f} req/s p99 {full_p99 * 1000:.1f} ms; bare {bare_rps:.0f} req/s p99 "
                     f"{bare_p99 * 1000:.1f} ms; rps ratio {full_rps / bare_rps:.2f} (rounds: {each})")
        return lines


# --- data -----------------------------------------------------------------------------------------

def seed(settings: Settings) -> None:
    """1,000 events over 30 days across elements, a quarter about Dy, in ~400 story clusters."""
    from bot.deps import Deps
    from core.models import Event, Severity

    deps = Deps(settings)
    rng = random.Random(7)
    now = time.time()
    symbols = ["Dy", "Tb", "Nd", "Pr", "Ga", "Ge", "Sb", "W", "Y", "Sm"]
    for i in range(EVENTS):
        els = ["Dy"] if i % 4 == 0 else [rng.choice(symbols)]
        if rng.random() < 0.3:
            els.append(rng.choice(symbols))
        sev = rng.choices(list(Severity), weights=[1, 6, 3, 2, 1])[0]
        deps.events.add(Event(
            id=f"ev{i:05d}", feed_id=rng.choice(["reuters", "mining", "mofcom", "smm"]),
            title=f"China {rng.choice(['tightens', 'reviews', 'eases'])} {' and '.join(sorted(set(els)))} export "
                  f"licences for magnet makers & <traders> (report {i})",
            link=f"https://news.example.com/story/{i}", text="Exporters said licence approvals slowed. " * 5,
            published=now - rng.uniform(0, 30 * 86400), fetched_at=now, source=rng.choice(["Reuters", "SMM"]),
            elements=sorted(set(els)), severity=sev.value, cluster_id=f"cl{i // 3 if i % 2 else i}",
            summary="Licence approvals for rare-earth exports slowed."), now=now)
    deps.status.recompute(symbols, now=now)


# --- in process -----------------------------------------------------------------------------------

def bare_app(process_before_response: bool) -> App:
    """The baseline: same signing, authorization and mode, one listener that only acks."""
    app = App(signing_secret=SECRET, client=WebClient(base_url="http://127.0.0.1:9/api/"),
              authorize=lambda enterprise_id, team_id, user_id: AuthorizeResult(
                  enterprise_id=enterprise_id, team_id=team_id, user_id=user_id, bot_token=TOKEN),
              process_before_response=process_before_response)

    @app.command("/ree")
    def _ack(ack: Ack) -> None:
        ack(text="ok")

    return app


def latencies(app: App, text: str, n: int) -> list[float]:
    reqs = [slash_command(text, secret=SECRET) for _ in range(n + n // 10)]
    out = []
    for i, req in enumerate(reqs):
        started = time.perf_counter()
        resp = app.dispatch(BoltRequest(body=req.body, headers={k.lower(): [v] for k, v in req.headers.items()}))
        took = time.perf_counter() - started
        if resp.status != 200:
            raise RuntimeError(f"status {resp.status}: {resp.body}")
        if i >= n // 10:  # the first tenth warms caches and connection pools
            out.append(took)
    return out


def pct(values: list[float], p: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1] if p < 100 else max(values)


def ms(values: list[float], p: int) -> str:
    return f"{pct(values, p) * 1000:.3f} ms"


# --- HTTP -----------------------------------------------------------------------------------------

def http_load(settings: Settings, *, bare: bool, worker_class: str) -> tuple[float, float]:
    with _server(settings, bare=bare, worker_class=worker_class) as port:
        reqs = [slash_command("status Dy", secret=SECRET) for _ in range(64)]
        return asyncio.run(_load(port, reqs))


@contextmanager
def _server(settings: Settings, *, bare: bool, worker_class: str) -> Iterator[int]:
    port = _free_port()
    env = {**os.environ, "REDIS_URL": settings.redis_url or "", "REEWATCH_REDIS_PREFIX": settings.redis_prefix,
           "SLACK_SIGNING_SECRET": SECRET, "SLACK_BOT_TOKEN": TOKEN, "SLACK_API_URL": "http://127.0.0.1:9/api/",
           "REEWATCH_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "bench.bench_app", "serve", str(port), worker_class, "bare" if bare else "full"]
    # A pipe nobody reads would block the server once full. Each worker leaves a file in `ready` once it
    # is about to accept: the load starts when all are, or the first would take every keep-alive connection.
    with tempfile.TemporaryFile() as log, tempfile.TemporaryDirectory() as ready:
        proc = subprocess.Popen(cmd, env={**env, "BENCH_READY_DIR": ready}, stdout=subprocess.DEVNULL, stderr=log)
        try:
            _wait_healthy(port, proc, log, ready, _workers())
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _workers() -> int:
    return int(os.environ.get("BENCH_WORKERS", "2"))


def _threads() -> int:
    """Threads per worker: what `reewatch serve --http` uses unless BENCH_THREADS says otherwise."""
    from bot.server import THREADS

    return int(os.environ.get("BENCH_THREADS", THREADS))


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], log: Any, ready: str, workers: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode()[-2000:]}")
        if len(os.listdir(ready)) < workers:
            time.sleep(0.05)
            continue
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not become healthy")


async def _load(port: int, reqs: list[SignedRequest]) -> tuple[float, float]:
    raw = [_http_bytes(r) for r in reqs]
    times: list[float] = []
    stop_at = time.perf_counter() + HTTP_SECONDS

    async def client(k: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        i = k
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(raw[i % len(raw)])
            await writer.drain()
            length = await _read_response(reader)
            if length < 0:
                raise RuntimeError("bad response")
            times.append(time.perf_counter() - started)
            i += 1
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(CLIENTS)))
    elapsed = time.perf_counter() - began
    return len(times) / elapsed, pct(times, 99)


def _http_bytes(req: SignedRequest) -> bytes:
    body = req.body.encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in req.headers.items())
    return (f"POST /slack/events HTTP/1.1\r\nHost: bench\r\n{head}Content-Length: {len(body)}\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = head.split(b" ", 2)[1]
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return length if status == b"200" else -1


def _serve(port: int, worker_class: str, kind: str) -> None:
    from bot.server import serve_http
    from core.settings import load_settings

    settings = load_settings()
    wsgi: Callable[..., Any] | None = None
    if kind == "bare":
        from bot.server import make_wsgi

        wsgi = make_wsgi(settings, app=bare_app(True))
    ready = os.environ["BENCH_READY_DIR"]
    serve_http(settings, host="127.0.0.1", port=port, workers=_workers(),
               threads=_threads(), worker_class=worker_class, wsgi=wsgi,
               on_worker_ready=lambda: open(os.path.join(ready, str(os.getpid())), "w").close())


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    _serve(int(sys.argv[2]), sys.argv[3], sys.argv[4])
