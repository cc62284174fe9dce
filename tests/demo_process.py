"""`reewatch demo` as a child process for tests: free ports, its own TMPDIR, output captured, and the
process tree recorded so a test can check that Ctrl-C leaves nothing running."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_tree(root: int) -> set[int]:
    """`root` and every process descending from it, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [child for child, parent in parents.items() if parent == pid and child not in tree]
        tree.update(kids)
        frontier += kids
    return tree


def running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _ctrl_c_when_parent_dies() -> None:
    """Linux: the demo gets SIGINT (and shuts down cleanly) if the test run is killed outright."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGINT)


class DemoProcess:
    """Start with `start()`; `url` is the sandbox page; `interrupt()` sends Ctrl-C and waits."""

    def __init__(self, workdir: Path, *, speed: float = 4.0) -> None:
        self.tmpdir = workdir / "tmp"
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        self.port, self.feeds_port, self.bot_port = free_port(), free_port(), free_port()
        self.speed = speed
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> DemoProcess:
        env = {**os.environ, "TMPDIR": str(self.tmpdir), "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "demo", "--port", str(self.port), "--feeds-port", str(self.feeds_port),
             "--bot-port", str(self.bot_port), "--speed", str(self.speed)],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=_ctrl_c_when_parent_dies,
        )
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self, last: int = 60) -> str:
        return "\n".join(self.lines[-last:])

    def state(self, user: str = "U0DEMO0001") -> dict[str, Any]:
        resp = httpx.get(f"{self.url}sandbox/state", params={"user": user}, timeout=5)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data

    def wait_for(self, what: str, check: Callable[[dict[str, Any]], Any], limit: float = 120.0) -> Any:
        """Poll the sandbox state until `check(state)` is truthy; return its value. Fails with the
        demo's output after `limit` seconds (a bound on waiting, not a timing assertion)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"the demo exited ({self.proc.returncode}) waiting for {what}:\n{self.output()}")
            try:
                found = check(self.state())
            except httpx.HTTPError:
                found = None
            if found:
                return found
            time.sleep(0.25)
        raise AssertionError(f"no {what} within {limit:.0f}s; demo output:\n{self.output()}")

    def tree(self) -> set[int]:
        assert self.proc is not None
        return process_tree(self.proc.pid)

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl-C as a terminal sends it to the demo, and wait for it to finish."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Last resort for a test that failed half-way: no process outlives the test run."""
        if self.proc is None:
            return
        for pid in self.tree():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def posts(state: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(channel, message) for every bot message in the sandbox state, replies included."""
    found = []
    for channel in state.get("channels", []):
        for msg in channel["messages"]:
            if msg.get("author") == "bot" and not msg.get("ephemeral"):
                found.append((channel["id"], msg))
                found += [(channel["id"], reply) for reply in msg.get("replies", [])]
    return found
