"""Run several `reewatch` roles as child processes and stop them all together.

Used by `reewatch run` and the demo. Ctrl-C or SIGTERM stops every child (SIGTERM, then SIGKILL
after a grace period); a child that dies on its own stops the rest, so nothing runs half-alive.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

GRACE_SECONDS = 10.0


@dataclass
class Supervisor:
    roles: dict[str, list[str]]
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _stopping: bool = False

    def start(self) -> None:
        for role, argv in self.roles.items():
            self.children[role] = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", *argv], env=self.env, start_new_session=True
            )
            log.info("started %s", role, extra={"role": role, "pid": self.children[role].pid})

    def wait(self) -> int:
        """Block until a signal or a child's exit; then stop everything. Returns the exit code."""
        previous = {sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        code = 0
        try:
            while not self._stopping:
                for role, child in self.children.items():
                    if child.poll() is not None:
                        log.error("%s exited with %s; stopping the others", role, child.returncode,
                                  extra={"role": role})
                        code = 1
                        self._stopping = True
                        break
                time.sleep(0.2)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return code

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def stop(self) -> None:
        alive = [c for c in self.children.values() if c.poll() is None]
        for child in alive:
            _signal_group(child, signal.SIGTERM)
        deadline = time.monotonic() + GRACE_SECONDS
        for child in alive:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _signal_group(child, signal.SIGKILL)
                child.wait()
        for child in self.children.values():  # work horses and other grandchildren of a child
            _signal_group(child, signal.SIGKILL)


def _signal_group(child: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, sig)


def run_roles(roles: dict[str, Sequence[str]], env: dict[str, str] | None = None) -> int:
    sup = Supervisor({k: list(v) for k, v in roles.items()}, env=env or dict(os.environ))
    sup.start()
    return sup.wait()
