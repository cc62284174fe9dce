"""Command latency off the hot path: a process-local Prometheus histogram (this replica's view)
plus the deployment-wide Redis histogram of core.metrics, written by a background thread so a
metrics round trip never delays an ack."""

from __future__ import annotations

import logging
import queue
import threading
import weakref
from typing import Any

import redis as redis_lib
from prometheus_client import Histogram

from core import metrics
from core.keys import Keys

log = logging.getLogger(__name__)

FLUSH_EVERY = 0.5  # seconds between batched writes of command latencies to Redis

LOCAL_COMMAND_SECONDS = Histogram(
    "reewatch_bot_command_seconds", "Slash-command handling time in this bot process (parse to ack).",
    ["command"], buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 3.0),
)


_TIMERS: weakref.WeakSet[CommandTimer] = weakref.WeakSet()


def flush_all(timeout: float = 5.0) -> None:
    """Flush every timer of this process (tests call it before deleting their keys)."""
    for timer in list(_TIMERS):
        timer.flush(timeout)


class CommandTimer:
    """`observe(command, seconds)`: cheap in the caller; Redis is written by one daemon thread."""

    def __init__(self, redis: redis_lib.Redis, keys: Keys) -> None:
        self.redis, self.keys = redis, keys
        self._queue: queue.SimpleQueue[tuple[str, float] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._flushed = threading.Event()
        self._wake = threading.Event()
        self._children: dict[str, Any] = {}
        _TIMERS.add(self)

    def observe(self, command: str, seconds: float) -> None:
        child = self._children.get(command)
        if child is None:  # labels() takes the metric's lock and builds its key: once per command name
            child = self._children[command] = LOCAL_COMMAND_SECONDS.labels(command)
        child.observe(seconds)
        self._queue.put((command, seconds))
        if self._thread is None:
            self._start()

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything observed so far is in Redis (tests, `reewatch ask`)."""
        if self._thread is None:
            return
        self._flushed = threading.Event()
        self._queue.put(None)
        self._wake.set()
        self._flushed.wait(timeout)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="reewatch-metrics", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        # Wake at most every FLUSH_EVERY seconds and write what piled up: a Redis write per command would
        # compete with the request threads for the GIL right when they are answering Slack.
        while True:
            self._wake.wait(FLUSH_EVERY)
            self._wake.clear()
            flushed: list[threading.Event] = []
            batch: list[tuple[float, dict[str, str] | None]] = []
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    flushed.append(self._flushed)
                    continue
                command, seconds = item
                batch.append((seconds, {"command": command}))
            # One pipeline per flush whatever the traffic (a round trip per command cost the request
            # threads of a busy worker more GIL time than answering did).
            metrics.observe_many(self.redis, self.keys, "reewatch_command_latency_seconds", batch)
            for done in flushed:
                done.set()
