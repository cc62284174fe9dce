"""Helpers for the on-call tests: a policy file, events, real `reewatch worker` / `scheduler` processes,
and waiting on the Slack stand-in (deadlines only bound a wait; assertions are about content)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from core.models import Cluster, Event
from core.settings import Settings
from tests.fakes.slack_api import Message, SlackStandIn

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = "C0ONCALL"
PRIMARY, SECONDARY, THIRD = "UPRIMARY1", "USECOND02", "UTHIRD003"
ADMIN = "U0ADMIN"
T = TypeVar("T")


def policy_yaml(steps: str, *, repeat: int = 0, repeat_after: str | None = None, quiet: str = "",
                trigger: str = "min_severity: high", usergroup: str | None = None) -> str:
    """feeds.yaml with an on-call policy whose rotation puts PRIMARY on call now (shift 0 began today 00:00 UTC)."""
    today = datetime.now(UTC)
    lines = [
        "feeds: []",
        "watchlist: [Dy, Tb]",
        "oncall:",
        f"  channel: {CHANNEL}",
        "  rotation:",
        f"    users: [{PRIMARY}, {SECONDARY}, {THIRD}]",
        f"    handoff_day: {today.strftime('%A').lower()}",
        '    handoff_time: "00:00"',
        "    timezone: UTC",
        f"    start: '{today.date().isoformat()}'",
        "  steps:",
        *[f"    {line}" for line in steps.strip().splitlines()],
        f"  repeat: {repeat}",
        f"  trigger: {{{trigger}}}",
    ]
    if repeat_after:
        lines.append(f"  repeat_after: {repeat_after}")
    if quiet:
        lines.append(f"  quiet_hours: {{{quiet}}}")
    if usergroup:
        lines.append(f"  usergroup: {usergroup}")
    return "\n".join(lines) + "\n"


def story(n: int = 1, *, cluster_id: str = "story1", severity: str = "critical", source: str = "Reuters",
          elements: tuple[str, ...] = ("Dy",), tier: str = "wire") -> tuple[Event, Cluster]:
    """An event and its cluster. The title carries a would-be mention that must arrive escaped."""
    title = f"China halts dysprosium exports <!channel> #{n}"
    event = Event(id=f"ev{n}-{cluster_id}", feed_id=source.lower(), title=title,
                  link=f"https://news.example/{cluster_id}/{n}", source=source, elements=list(elements),
                  severity=severity, cluster_id=cluster_id, tier=tier, fetched_at=time.time())
    cluster = Cluster(id=cluster_id, first_seen=time.time(), first_event_id=event.id, lead_event_id=event.id,
                      event_ids=[event.id], outlets=[source], elements=list(elements), severity=severity)
    return event, cluster


def wait_for(probe: Callable[[], T], *, what: str, timeout: float = 30.0) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def channel_posts(slack: SlackStandIn, channel: str = CHANNEL) -> list[Message]:
    """Every message in the channel, thread replies included, in posting order."""
    return sorted(slack.messages(channel, replies=True), key=lambda m: float(m.ts))


def pages(slack: SlackStandIn, channel: str = CHANNEL) -> list[str]:
    """The mention of every page posted in the channel (the first post and each `:loudspeaker:` reply),
    in posting order, as sent (later edits of the message do not notify, so they do not count)."""
    found = []
    for call in slack.calls_to("chat.postMessage"):
        text = str(call.params.get("text") or "")
        if not call.ok or call.params.get("channel") != channel:
            continue
        if call.params.get("thread_ts") and not text.startswith(":loudspeaker:"):
            continue
        match = _MENTION.search(text)
        if match:
            found.append(match[0])
    return found


_MENTION = re.compile(r"<(?:@[UW][A-Z0-9]+|!here|!channel|!subteam\^S[A-Z0-9]+)>")


def dms(slack: SlackStandIn) -> list[Message]:
    return [m for ch in slack.channels() if ch.startswith("D") for m in slack.messages(ch)]


def process_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REEWATCH_", "REDIS_URL"))}
    env.update({
        "REDIS_URL": settings.redis_url or "",
        "REEWATCH_REDIS_PREFIX": settings.redis_prefix,
        "REEWATCH_FEEDS_FILE": str(settings.feeds_file),
        "SLACK_API_URL": settings.slack_api_url,
        "SLACK_BOT_TOKEN": settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "",
        "SLACK_SIGNING_SECRET": "test-signing-secret",
        "REEWATCH_LOG_LEVEL": "WARNING",
    })
    return env


@contextmanager
def role(settings: Settings, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A real `reewatch worker` or `reewatch scheduler` in its own process group; stopped (SIGKILL of the
    group, so RQ's scheduler child dies too) when the block ends."""
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", name], cwd=ROOT, env=process_env(settings),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and its children (RQ's scheduler, a work horse): no clean shutdown at all."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
