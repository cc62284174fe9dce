"""What `reewatch demo` prints: one line per message the bot posts (and per edit, reply, home view),
plus a dim line when a sample feed publishes a story."""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

SEVERITY_WORDS = ("critical", "high", "elevated", "easing", "info")
_COLOURS = {"critical": "31;1", "high": "33;1", "elevated": "33", "easing": "32", "info": "36"}
_BADGES = {":red_circle:": "critical", ":large_orange_circle:": "high", ":large_yellow_circle:": "elevated",
           ":large_green_circle:": "easing", ":white_circle:": "info"}  # core/blocks.py headline badges
_LEADING_TAG = re.compile(r"^\[(critical|high|elevated|info|easing)\]\s*", re.IGNORECASE)
_SLACK_TOKEN = re.compile(r"<([^<>|]+)(?:\|([^<>]+))?>")
_EMOJI = re.compile(r":[a-z0-9_+-]+:")

Describe = Callable[[str], str]


def plain(text: str, name: Describe = str) -> str:
    """Slack mrkdwn as one readable line: links by label, mentions by `name(id)`, no markup."""
    def token(m: re.Match[str]) -> str:
        target, label = m.group(1), m.group(2)
        if target.startswith("@"):
            return "@" + (label or name(target[1:]))
        if target.startswith("!") and not label:  # <!here>, <!channel>
            return "@" + target[1:].split("^")[0]
        return label or target.lstrip("#")

    text = _SLACK_TOKEN.sub(token, text)
    text = _EMOJI.sub("", text).replace("*", "").replace("`", "")
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())


def severity_of(params: dict[str, Any]) -> str | None:
    """The first severity word of the message's header/context blocks or its text fallback."""
    words: list[str] = []
    blocks = params.get("blocks")
    for i, block in enumerate(blocks if isinstance(blocks, list) else []):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "header" or (i == 0 and block.get("type") == "section"):  # headline badge
            words.append(str((block.get("text") or {}).get("text", "")))
        if block.get("type") == "context":
            words += [str(e.get("text", "")) for e in block.get("elements", []) if isinstance(e, dict)]
    words.append(str(params.get("text") or ""))
    hay = " ".join(words).lower()
    for code, severity in _BADGES.items():
        if code in hay:
            return severity
    found = [(m.start(), s) for s in SEVERITY_WORDS if (m := re.search(rf"\b{s}\b", hay))]
    return min(found)[1] if found else None  # the first one said: "normal → elevated (high story)"


class Printer:
    """Writes demo lines to `out`, coloured when it is a terminal. Thread-safe (server threads call it)."""

    def __init__(self, out: TextIO | None = None, *, describe_channel: Describe = str, width: int = 110) -> None:
        self.out = out or sys.stdout
        self.colour = self.out.isatty()
        self.describe_channel = describe_channel
        self.width = width
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def line(self, kind: str, where: str, text: str, severity: str | None = None) -> None:
        stamp = time.strftime("%H:%M:%S")
        tag = f"[{severity.upper()}] " if severity else ""
        if severity:
            tag = self._paint(tag, _COLOURS.get(severity, "0"))
        room = max(20, self.width - len(where) - len(kind) - 14)
        body = text if len(text) <= room else text[: room - 1] + "…"
        row = f"{stamp}  {kind:<6} {where:<18} {tag}{body}"
        with self._lock:
            self.counts[kind] = self.counts.get(kind, 0) + 1
            print(row, file=self.out, flush=True)

    def note(self, text: str) -> None:
        with self._lock:
            print(self._paint(text, "2"), file=self.out, flush=True)

    def on_call(self, call: Any) -> None:
        """Listener for SlackStandIn.on_call: one line per successful post, edit, reply or home view."""
        if not call.ok:
            return
        p, where = call.params, self.describe_channel(str(call.params.get("channel")))
        text = _LEADING_TAG.sub("", plain(str(p.get("text") or ""), self.describe_channel))
        if call.method == "chat.postMessage":
            self.line("thread" if p.get("thread_ts") else "post", where, text, severity_of(p))
        elif call.method == "chat.update":
            self.line("edit", where, text, severity_of(p))
        elif call.method == "chat.postEphemeral":
            self.line("ephem", where, text)
        elif call.method == "respond":
            self.line("reply", "(response_url)", text)
        elif call.method == "views.publish":
            self.line("home", self.describe_channel(str(p.get("user_id"))), "App Home published")

    def on_release(self, feed: str, story: Any) -> None:
        """Listener for TimedFeedServer: a sample feed just published a story."""
        self.note(f"{time.strftime('%H:%M:%S')}  feed   {feed:<18} published: {story.title}")
