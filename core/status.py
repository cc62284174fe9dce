"""Element status in Redis: the current level, manual overrides, and a history of every change.

    StatusStore(redis, keys): get, board, recompute, set_override, history

`recompute` derives each element's level (`core.levels`) from its recent events and the measures in
force, applies an active override, and returns a StatusChange for every element whose level moved, so
the delivery side can post them. Writes are compare-and-set on the status key, so two workers
recomputing at once record one change, not two.
"""

from __future__ import annotations

import datetime as dt
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
from core.models import Event, Level, Severity

log = logging.getLogger(__name__)
HISTORY_KEEP = 500
_EVENTS_PER_ELEMENT = 500  # newest events read per element: more than any level rule needs
# Compare-and-set of several elements' statuses: all written, or none when any status or override changed
# since it was read (then the caller reads again). KEYS: status, override, history per element.
_CAS = """
for i = 1, #KEYS, 3 do
  local at = (i - 1) / 3 * 5 + 2
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[at] or (redis.call('GET', KEYS[i + 1]) or '') ~= ARGV[at + 1] then
    return 0
  end
end
for i = 1, #KEYS, 3 do
  local at = (i - 1) / 3 * 5 + 2
  redis.call('SET', KEYS[i], ARGV[at + 2])
  if ARGV[at + 3] == '1' then redis.call('DEL', KEYS[i + 1]) end
  if ARGV[at + 4] ~= '' then
    redis.call('LPUSH', KEYS[i + 2], ARGV[at + 4])
    redis.call('LTRIM', KEYS[i + 2], 0, tonumber(ARGV[1]) - 1)
  end
end
return 1
"""


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
        self._cas = redis.register_script(_CAS)

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
        return self.from_raw(symbol, self.redis.get(self.keys.status(symbol)),  # type: ignore[arg-type]
                             self.redis.get(self.keys.status_override(symbol)), now=now)  # type: ignore[arg-type]

    def from_raw(self, symbol: str, status_raw: str | None, override_raw: str | None, *,
                 now: float | None = None) -> ElementStatus:
        """As get(), from the values of `Keys.status(symbol)` and `Keys.status_override(symbol)` read by the
        caller (the element card reads them in its one round trip, core.events.EventStore.card_parts)."""
        now = time.time() if now is None else now
        stored = json.loads(status_raw) if status_raw else None
        override = Override.from_json(str(override_raw)) if override_raw else None
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
    def recompute(self, symbols: Iterable[str], now: float | None = None, *,
                  cause: str | None = None) -> list[StatusChange]:
        """Re-derive each element's level; return the changes of effective level (each also in history).

        `cause` is the severity of the story that triggered the recompute: an easing story may lower a
        level or leave it, never raise it (a rise it happens to reveal waits for the next other story)."""
        now = time.time() if now is None else now
        return self._apply(list(dict.fromkeys(symbols)), now, cause=cause)

    def _read(self, symbols: list[str], now: float) -> tuple[list[str | None], list[str | None],
                                                             dict[str, list[Event]]]:
        """Stored statuses, overrides and each element's recent events: two round trips for any number of
        elements, and each event read and parsed once even when it names several of them."""
        pipe = self.redis.pipeline(transaction=False)
        for symbol in symbols:
            pipe.get(self.keys.status(symbol))
            pipe.get(self.keys.status_override(symbol))
            pipe.zrevrangebyscore(self.keys.events_by_element(symbol), "+inf", now - levels.LOOKBACK,
                                  start=0, num=_EVENTS_PER_ELEMENT)
        raw = pipe.execute()
        stored = [raw[3 * i] for i in range(len(symbols))]
        overrides = [raw[3 * i + 1] for i in range(len(symbols))]
        ids = [[str(x) for x in raw[3 * i + 2]] for i in range(len(symbols))]
        found = {ev.id: ev for ev in self.events.get_many(dict.fromkeys(i for row in ids for i in row))}
        by_symbol = {s: [found[i] for i in row if i in found] for s, row in zip(symbols, ids, strict=True)}
        return stored, overrides, by_symbol

    def _apply(self, symbols: list[str], now: float, *, author: str | None = None, note: str | None = None,
               cause: str | None = None) -> list[StatusChange]:
        """Derive, compare-and-set, record, for all `symbols` at once. With `note` (an override set or cleared
        by `author`) the history entry is written even when the level stays, so every manual action is
        audited. Retries when another writer changed a status or override between the read and the write."""
        if not symbols:
            return []
        day = dt.datetime.fromtimestamp(now, dt.UTC).date()
        while True:
            stored_raw, override_raw, events = self._read(symbols, now)
            keys: list[str] = []
            args: list[str | int] = [HISTORY_KEEP]
            changes: list[StatusChange] = []
            for symbol, raw, oraw in zip(symbols, stored_raw, override_raw, strict=True):
                stored = json.loads(raw) if raw else None
                floor = levels.from_measures(symbol, day)
                # never recorded: the level before this story is what the board showed, the measures' floor
                old = Level(stored["level"]) if stored else floor.level
                derived = levels.derive(symbol, events[symbol], now)
                before = levels.Derived(Level(stored["computed"]), stored["computed_reason"]) if stored else floor
                if cause == Severity.EASING.value and derived.level.rank > before.level.rank:
                    derived = before  # an easing story never raises a level
                override = Override.from_json(str(oraw)) if oraw else None
                expired = override is not None and not override.active(now)
                if expired:
                    override = None
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
                if change is not None:
                    changes.append(change)
                keys += [self.keys.status(symbol), self.keys.status_override(symbol),
                         self.keys.status_history(symbol)]
                args += [raw or "", oraw or "", json.dumps(record, ensure_ascii=False), int(expired),
                         entry.to_json() if (change is not None or note is not None) else ""]
            if self._cas(keys=keys, args=args):
                break
        for change in changes:
            log.info("element status changed", extra={"symbol": change.symbol, "old": change.old.value,
                                                       "new": change.new.value})
        return changes

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
        changes = self._apply([symbol], now, author=author, note=note)
        return changes[0] if changes else None
