"""Element status in Redis: the current level, manual overrides, and a history of every change.

    StatusStore(redis, keys): get, board, recompute, set_override, history

`recompute` derives each element's level (`core.levels`) from its recent events and the measures in
force, applies an active override, and returns a StatusChange for every element whose level moved, so
the delivery side can post them. Writes are compare-and-set on the status key, so two workers
recomputing at once record one change, not two.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

import redis as redis_lib

from core import levels
from core.events import EventStore
from core.keys import Keys
from core.models import Level

log = logging.getLogger(__name__)
HISTORY_KEEP = 500


@dataclass(slots=True)
class StatusChange:
    symbol: str
    old: Level
    new: Level
    reason: str
    at: float
    author: str | None = None

    def to_json(self) -> str:
        data = asdict(self)
        data["old"], data["new"] = self.old.value, self.new.value
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> StatusChange:
        d = json.loads(raw)
        return cls(d["symbol"], Level(d["old"]), Level(d["new"]), d["reason"], float(d["at"]), d.get("author"))


@dataclass(slots=True)
class Override:
    level: Level
    reason: str
    author: str
    set_at: float
    expires_at: float | None = None

    def active(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "level": self.level.value}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Override:
        d = json.loads(raw)
        return cls(Level(d["level"]), d["reason"], d["author"], float(d["set_at"]), d.get("expires_at"))


@dataclass(slots=True)
class ElementStatus:
    """What the board and the element card show. `level` is effective (override first)."""

    symbol: str
    level: Level
    reason: str
    since: float | None  # when the effective level was reached (None: never recorded)
    updated_at: float | None
    computed_level: Level
    computed_reason: str
    override: Override | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"symbol": self.symbol, "level": self.level.value, "reason": self.reason, "since": self.since,
                "updated_at": self.updated_at, "computed_level": self.computed_level.value,
                "computed_reason": self.computed_reason,
                "override": json.loads(self.override.to_json()) if self.override else None}


class StatusStore:
    def __init__(self, redis: redis_lib.Redis, keys: Keys, *, retention_seconds: float = 30 * 86400) -> None:
        self.redis = redis
        self.keys = keys
        self.events = EventStore(redis, keys, retention_seconds)

    # --- reads -------------------------------------------------------------------------------
    def _stored(self, symbol: str) -> dict[str, Any] | None:
        raw = self.redis.get(self.keys.status(symbol))
        return json.loads(raw) if raw else None

    def _override(self, symbol: str) -> Override | None:
        raw = self.redis.get(self.keys.status_override(symbol))
        return Override.from_json(str(raw)) if raw else None

    def _derive(self, symbol: str, now: float) -> levels.Derived:
        events = self.events.recent(element=symbol, since=now - levels.LOOKBACK, limit=500)
        return levels.derive(symbol, events, now)

    def get(self, symbol: str, *, now: float | None = None) -> ElementStatus:
        """The stored status; for an element never recomputed, a fresh derivation (nothing is written)."""
        now = time.time() if now is None else now
        stored = self._stored(symbol)
        override = self._override(symbol)
        if override is not None and not override.active(now):
            override = None
        if stored is None:
            derived = self._derive(symbol, now)
            level = override.level if override else derived.level
            reason = override.reason if override else derived.reason
            return ElementStatus(symbol, level, reason, None, None, derived.level, derived.reason, override)
        computed = Level(stored["computed"])
        level = override.level if override else computed
        reason = f"override by {override.author}: {override.reason}" if override else stored["computed_reason"]
        return ElementStatus(symbol, level, reason, stored.get("since"), stored.get("updated_at"), computed,
                             stored["computed_reason"], override)

    def board(self, symbols: Iterable[str], *, now: float | None = None) -> list[ElementStatus]:
        """Statuses in the order given."""
        return [self.get(s, now=now) for s in symbols]

    def history(self, symbol: str, limit: int = 20) -> list[StatusChange]:
        """Newest first."""
        raws = self.redis.lrange(self.keys.status_history(symbol), 0, limit - 1)
        return [StatusChange.from_json(str(r)) for r in raws]

    # --- writes ------------------------------------------------------------------------------
    def recompute(self, symbols: Iterable[str], now: float | None = None) -> list[StatusChange]:
        """Re-derive each element's level; return the changes of effective level (each also in history)."""
        now = time.time() if now is None else now
        changes = []
        for symbol in dict.fromkeys(symbols):
            change = self._recompute_one(symbol, now)
            if change is not None:
                changes.append(change)
        return changes

    def _recompute_one(self, symbol: str, now: float, *, author: str | None = None,
                       note: str | None = None) -> StatusChange | None:
        """Derive, compare-and-set, record. With `note` (an override set or cleared by `author`) the history
        entry is written even when the level stays, so every manual action is audited."""
        derived = self._derive(symbol, now)
        key = self.keys.status(symbol)
        okey = self.keys.status_override(symbol)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key, okey)  # type: ignore[no-untyped-call]
                    raw, oraw = pipe.get(key), pipe.get(okey)
                    stored = json.loads(raw) if raw else None
                    override = Override.from_json(str(oraw)) if oraw else None
                    expired = override is not None and not override.active(now)
                    if expired:
                        override = None
                    old = Level(stored["level"]) if stored else Level.NORMAL
                    new = override.level if override else derived.level
                    if override:
                        reason = f"override by {override.author}: {override.reason}"
                    elif expired:
                        reason = f"override expired; {derived.reason}"
                    else:
                        reason = derived.reason
                    if note is not None:
                        reason = note
                    record = {"level": new.value, "reason": reason, "computed": derived.level.value,
                              "computed_reason": derived.reason, "updated_at": now,
                              "since": now if (stored is None or new is not old) else stored.get("since", now)}
                    entry = StatusChange(symbol, old, new, reason, now, author)
                    change = entry if new is not old else None
                    pipe.multi()
                    pipe.set(key, json.dumps(record, ensure_ascii=False))
                    if expired:
                        pipe.delete(okey)
                    if change is not None or note is not None:
                        pipe.lpush(self.keys.status_history(symbol), entry.to_json())
                        pipe.ltrim(self.keys.status_history(symbol), 0, HISTORY_KEEP - 1)
                    pipe.execute()
                    if change is not None:
                        log.info("element status changed", extra={"symbol": symbol, "old": old.value,
                                                                   "new": new.value})
                    return change
                except redis_lib.WatchError:
                    continue

    def set_override(self, symbol: str, level: Level | str | None, reason: str, author: str,
                     expires_at: float | None = None, *, now: float | None = None) -> StatusChange | None:
        """Pin (or, with level None, clear) an element's level. Always recorded in history; returns the
        change when the effective level moved, else None."""
        now = time.time() if now is None else now
        if level is None:
            self.redis.delete(self.keys.status_override(symbol))
            note = f"override cleared by {author}: {reason}"
        else:
            ov = Override(Level(level), reason, author, now, expires_at)
            self.redis.set(self.keys.status_override(symbol), ov.to_json())
            until = f" until {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(expires_at))}" if expires_at else ""
            note = f"override by {author}{until}: {reason}"
        return self._recompute_one(symbol, now, author=author, note=note)
