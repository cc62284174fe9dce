"""`reewatch demo`: the whole product offline, until Ctrl-C.

One process owns everything and tears it all down on the way out: an embedded Valkey (unless
REDIS_URL is set), the sample feeds served over time on loopback, the Slack stand-in with its sandbox
page, and bot + worker + scheduler as child processes (bot/cli/supervisor.py). Every message the bot
posts is printed as one line. Nothing is left behind: children are stopped, the temporary folder
holding the demo's feeds.yaml is removed, and with an external REDIS_URL the demo's keys are deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from bot.cli.common import add
from core.errors import ConfigError
from core.feeds import load_feeds
from core.keys import Keys
from core.logs import configure_logging
from core.redisconn import connect, delete_deployment, redis_url_or_embedded
from core.settings import load_settings

log = logging.getLogger(__name__)

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_TOKEN = "xoxb-reewatch-demo"
DEMO_SECRET = "reewatch-demo-signing-secret"
FEEDS_BASE = "http://127.0.0.1:8766"  # as written in demo/feeds.yaml; replaced by the port in use
DEMO_USERS = (  # (id, handle, name, role) – the rotation in demo/feeds.yaml
    ("U0DEMO0001", "ada", "Ada Okafor", "supply-risk lead, on call"),
    ("U0DEMO0002", "ben", "Ben Lindqvist", "procurement, secondary"),
    ("U0DEMO0003", "chen", "Chen Wei", "trade compliance"),
)


def register(sub: Any) -> None:
    demo = add(sub, "demo", cmd_demo, "the whole product offline: sample feeds published over time, bot + worker "
               "+ scheduler, and a local Slack sandbox page; runs until Ctrl-C")
    demo.add_argument("--port", type=int, default=8765,
                      help="port of the Slack stand-in and its sandbox page (default 8765; 0 = any free port)")
    demo.add_argument("--feeds-port", type=int, default=8766, help="port of the sample feed server (default 8766)")
    demo.add_argument("--bot-port", type=int, default=0, help="port of the bot's /slack/events (default: a free one)")
    demo.add_argument("--speed", type=float, default=1.0,
                      help="publish the sample stories this many times faster (default 1: one every few seconds)")
    demo.add_argument("--verbose", action="store_true", help="show the bot's, worker's and scheduler's own logs")


def cmd_demo(args: argparse.Namespace) -> int:
    if args.speed <= 0:
        raise ConfigError("--speed must be positive")
    settings = load_settings()
    configure_logging(fmt=settings.log_format, level="INFO" if args.verbose else "WARNING")
    if not (DEMO_DIR / "feeds.yaml").is_file():
        raise ConfigError(f"the demo files are missing ({DEMO_DIR}); run from a checkout with `make demo`")
    workdir = Path(tempfile.mkdtemp(prefix="reewatch-demo-"))
    try:
        with contextlib.ExitStack() as stack:
            redis_url = stack.enter_context(redis_url_or_embedded(settings.redis_url))
            prefix = f"reewatch-demo-{uuid.uuid4().hex[:8]}:"
            try:
                return _run(args, workdir, redis_url, prefix, settings.command, embedded=not settings.redis_url)
            finally:
                if settings.redis_url:  # someone else's server: take our keys with us
                    _delete_keys(redis_url, prefix)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args: argparse.Namespace, workdir: Path, redis_url: str, prefix: str, command: str, *,
         embedded: bool) -> int:
    from bot.cli.demo_lines import Printer
    from bot.cli.supervisor import Supervisor
    from tests.fakes.sandbox import DemoUser, Sandbox
    from tests.fakes.slack_api import SlackStandIn
    from tests.fakes.timed_feeds import TimedFeedServer

    users = [DemoUser(uid, handle, name, role) for uid, handle, name, role in DEMO_USERS]
    printer = Printer(describe_channel=_channel_names(users))
    bot_port = args.bot_port or _free_port()
    with contextlib.ExitStack() as stack:
        feeds = _bind(lambda port: TimedFeedServer.from_dir(DEMO_DIR / "feeds", port=port, speed=args.speed,
                                                            on_release=printer.on_release), args.feeds_port, printer)
        stack.enter_context(feeds)
        standin = _bind(lambda port: SlackStandIn(token=DEMO_TOKEN, port=port), args.port, printer)
        stack.enter_context(standin)
        feeds_file = _write_feeds_file(workdir, feeds.server.url("").rstrip("/"))
        config = load_feeds(feeds_file)
        channels = [r.channel for r in config.routes] + ([config.oncall.channel] if config.oncall else [])
        sandbox = Sandbox(standin, bot_url=f"http://127.0.0.1:{bot_port}", signing_secret=DEMO_SECRET,
                          users=users, channels=list(dict.fromkeys(channels)), command=command).attach()
        standin.on_call(printer.on_call)
        env = {**os.environ, "REDIS_URL": redis_url, "SLACK_BOT_TOKEN": DEMO_TOKEN,
               "SLACK_SIGNING_SECRET": DEMO_SECRET, "SLACK_API_URL": standin.api_url,
               "REEWATCH_FEEDS_FILE": str(feeds_file), "REEWATCH_ALLOW_PRIVATE_NETWORKS": "true",
               "REEWATCH_REDIS_PREFIX": prefix, "REEWATCH_ADMINS": users[0].id,
               "REEWATCH_LOG_LEVEL": "INFO" if args.verbose else "WARNING", "PYTHONUNBUFFERED": "1",
               # gunicorn puts its control socket in $XDG_RUNTIME_DIR, else in ~/.gunicorn: keep it in
               # our temporary folder so it goes when the demo does and never clashes with another run.
               "XDG_RUNTIME_DIR": str(workdir)}
        env.pop("SLACK_APP_TOKEN", None)
        supervisor = Supervisor({
            "bot": ["serve", "--http", "--host", "127.0.0.1", "--port", str(bot_port)],
            "worker": ["worker"],
            "scheduler": ["scheduler"],
        }, env=env)
        _banner(printer, sandbox.url, feeds, bot_port, redis_url if not embedded else f"embedded Valkey ({redis_url})",
                feeds.last_release_at() / args.speed)
        stopped = threading.Event()
        try:
            supervisor.start()
            _announce_when_ready(printer, f"http://127.0.0.1:{bot_port}/healthz", stopped)
            code = supervisor.wait()
        finally:
            stopped.set()
            supervisor.stop()  # also when Ctrl-C lands before wait() installed its handler
    posts = printer.counts.get("post", 0) + printer.counts.get("thread", 0)
    printer.note(f"demo stopped: {posts} messages posted, {printer.counts.get('edit', 0)} edited; "
                 "bot, worker, scheduler and servers stopped")
    return code


def _bind(make: Any, port: int, printer: Any) -> Any:
    """`make(port)`, or `make(0)` with a note when `port` is taken (say, a second demo)."""
    try:
        return make(port)
    except OSError:
        if port == 0:
            raise
        server = make(0)
        printer.note(f"port {port} is taken; using {server.port} instead")
        return server


def _write_feeds_file(workdir: Path, base: str) -> Path:
    """demo/feeds.yaml with the feed server's real address, and a rotation whose first shift (the
    sandbox's first user) starts today, so the person you play in the sandbox is the one paged."""
    data = yaml.safe_load((DEMO_DIR / "feeds.yaml").read_text(encoding="utf-8"))
    for feed in data.get("feeds", []):
        feed["url"] = str(feed["url"]).replace(FEEDS_BASE, base)
    rotation = (data.get("oncall") or {}).get("rotation")
    if rotation is not None:
        today = datetime.now(ZoneInfo(rotation.get("timezone", "UTC"))).date()
        rotation.update(start=today.isoformat(), handoff_day=today.strftime("%A").lower(), handoff_time="00:00")
    path = workdir / "feeds.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _channel_names(users: list[Any]) -> Any:
    dms: dict[str, str] = {"D" + format(zlib.crc32(u.id.encode()), "08X"): u.real_name for u in users}
    people: dict[str, str] = {u.id: u.real_name for u in users}

    def describe(channel: str) -> str:
        if channel in dms:
            return f"DM {dms[channel]}"
        return people.get(channel, channel)

    return describe


def _banner(printer: Any, page: str, feeds: Any, bot_port: int, redis: str, story_seconds: float) -> None:
    printer.note("")
    print(f"  reewatch demo – open the Slack sandbox: {page}", flush=True)
    printer.note(f"  sample feeds   {feeds.server.url('/feeds/')}  ({len(feeds.feeds)} feeds; stories published "
                 f"over {story_seconds:.0f}s after the first poll)")
    printer.note(f"  bot            http://127.0.0.1:{bot_port}/slack/events")
    printer.note(f"  redis          {redis}")
    printer.note("  Ctrl-C stops everything. One line per message the bot posts:")
    printer.note("")


def _announce_when_ready(printer: Any, url: str, stopped: threading.Event) -> None:
    """Print once the bot answers /healthz (from a thread, so Ctrl-C is never held up)."""
    started = time.monotonic()

    def watch() -> None:
        deadline = started + 60
        while time.monotonic() < deadline and not stopped.is_set():
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    printer.note(f"{time.strftime('%H:%M:%S')}  ready  bot answering after "
                                 f"{time.monotonic() - started:.1f}s; waiting for the feeds to publish")
                    return
            time.sleep(0.3)

    threading.Thread(target=watch, name="demo-ready", daemon=True).start()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _delete_keys(url: str, prefix: str) -> None:
    with contextlib.suppress(Exception):  # best effort on the way out; the server may be gone
        delete_deployment(connect(url), Keys(prefix))
