"""Time what `make demo` shows, from the command's start: `.venv/bin/python demo/measure.py`.

Runs `make demo` (warm venv assumed; ports 8765/8766 must be free), watches the sandbox state and
the terminal, prints when each part of the story first became visible, then presses Ctrl-C and
reports how long the shutdown took and whether any process of the demo survived.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.demo_process import process_tree, running  # noqa: E402

STATE = "http://127.0.0.1:8765/sandbox/state?user=U0DEMO0001"
LIMIT = 90.0


def milestones(state: dict[str, Any]) -> set[str]:
    seen: set[str] = set()
    for channel in state.get("channels", []):
        for msg in channel["messages"]:
            if msg.get("author") != "bot" or msg.get("ephemeral"):
                continue
            text = msg.get("text", "") + str(msg.get("blocks", ""))
            seen.add("first post")
            if channel["id"] == "#ree-oncall" and "reewatch_incident_ack" in text:
                seen.add("incident paged")
            if "status:" in text and "→" in text:
                seen.add("element status change")
            if ":large_green_circle: easing" in text:
                seen.add("easing story")
            if channel["kind"] == "dm":
                seen.add("page by DM")
            for reply in msg.get("replies", []):
                seen.add("thread reply (cluster grows)")
                if "paged" in reply.get("text", ""):
                    seen.add("escalation step")
    return seen


def main() -> int:
    started = time.monotonic()
    proc = subprocess.Popen(["make", "demo"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append((time.monotonic() - started, line.rstrip()))

    threading.Thread(target=read, daemon=True).start()
    when: dict[str, float] = {}
    tree: set[int] = set()
    while time.monotonic() - started < LIMIT and proc.poll() is None:
        try:
            state = httpx.get(STATE, timeout=2).json()
        except (httpx.HTTPError, ValueError):
            state = {}
        now = time.monotonic() - started
        if state.get("channels") is not None:
            when.setdefault("sandbox page answering", now)
            tree |= process_tree(proc.pid)
        for name in milestones(state):
            when.setdefault(name, now)
        for at, line in lines:
            if " ready " in line:
                when.setdefault("bot answering", at)
        published = sum(1 for _, line in lines if "published:" in line)
        if published >= 12:  # every timed story of the four sample feeds
            when.setdefault("last sample story published", now)
        if len(when) >= 10:
            break
        time.sleep(0.2)
    for name, at in sorted(when.items(), key=lambda kv: kv[1]):
        print(f"{at:6.1f}s  {name}")
    missing = {"sandbox page answering", "bot answering", "first post", "thread reply (cluster grows)",
               "incident paged", "escalation step", "element status change", "easing story", "page by DM",
               "last sample story published"} - set(when)
    print(f"everything visible after {max(when.values(), default=0):.1f}s" if not missing
          else f"not seen within {LIMIT:.0f}s: {', '.join(sorted(missing))}")
    stop = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal does: the whole foreground group
    proc.wait(timeout=60)
    survivors = [pid for pid in tree if running(pid)]
    print(f"Ctrl-C to exit: {time.monotonic() - stop:.1f}s; processes left: {survivors or 'none'}")
    return 0 if not missing and not survivors else 1


if __name__ == "__main__":
    raise SystemExit(main())
