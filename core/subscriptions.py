"""Subscriptions: which channels want which events, stored in Redis, plus the static `routes:` of
feeds.yaml (read-only, ids `route1`, `route2.feed`, ...).

    store = SubscriptionStore(redis, keys, routes=feeds_file.routes)
    sub = store.add("C123", "element", ["Dy", "Tb"], min_severity="high", digest="09:00")
    store.matching(event) -> {channel: Subscription}   # at most one per channel

A subscription filters on one kind: `all`, `feed` (feed ids), `element` (symbols, English or Chinese
names), or `keyword` (case-insensitive phrase in title, summary or text); any listed value matches.
`min_severity` None means every event, easing and info included. `digest` "HH:MM" (REEWATCH_TIMEZONE) gathers
matches into one daily message instead of posting each.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import redis as redis_lib

from core import elements
from core.errors import UsageError
from core.feeds import RouteConfig
from core.keys import Keys
from core.models import Event, Severity

Kind = Literal["all", "feed", "element", "keyword"]
KINDS: tuple[Kind, ...] = ("all", "feed", "element", "keyword")
_HHMM = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


@dataclass(slots=True)
class Subscription:
    """One channel's wish. `id` is short enough to type; `static` ones come from feeds.yaml."""

    id: str
    channel: str
    kind: str
    values: list[str] = field(default_factory=list)
    min_severity: str | None = None
    digest: str | None = None
    created_by: str | None = None
    created_at: float = 0.0
    static: bool = False
    broken: str | None = None  # the Slack error that stopped posts to this channel, if any

    @property
    def immediate(self) -> bool:
        return self.digest is None

    def matches(self, event: Event) -> bool:
        """Whether `event` passes this subscription's filter and minimum severity."""
        if self.min_severity and not _severity(event.severity).at_least(Severity(self.min_severity)):
            return False
        return self.matches_filter(event)

    def matches_filter(self, event: Event) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "feed":
            return event.feed_id in self.values
        if self.kind == "element":
            return any(symbol in event.elements for symbol in self.values)
        if self.kind == "keyword":
            haystack = f"{event.title}\n{event.summary}\n{event.text}"
            return any(_keyword_pattern(word).search(haystack) for word in self.values)
        return False

    def describe(self) -> str:
        """One line for `/ree subscriptions`, e.g. `3: elements Dy, Tb · min high · digest 09:00 UTC`."""
        what = {"all": "all events", "feed": "feeds ", "element": "elements ", "keyword": "keywords "}[self.kind]
        if self.kind == "keyword":
            what += ", ".join(f'"{v}"' for v in self.values)
        elif self.kind != "all":
            what += ", ".join(self.values)
        parts = [f"{self.id}: {what}", f"min {self.min_severity}" if self.min_severity else "every severity",
                 f"digest {self.digest} UTC" if self.digest else "as it happens"]
        if self.static:
            parts.append("from feeds.yaml")
        if self.broken:
            parts.append(f"BROKEN: {self.broken}")
        return " · ".join(parts)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> Subscription:
        data: dict[str, Any] = json.loads(raw)
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})


def _severity(value: str) -> Severity:
    try:
        return Severity(value)
    except ValueError:
        return Severity.INFO


def _keyword_pattern(word: str) -> re.Pattern[str]:
    escaped = re.escape(word.strip())
    if word.isascii():  # word boundaries for Latin text; Chinese has no spaces, so a substring is right
        return re.compile(rf"(?<!\w){escaped}(?!\w)", re.IGNORECASE)
    return re.compile(escaped, re.IGNORECASE)


def normalize(kind: str, values: Iterable[str], min_severity: str | None,
              digest: str | None) -> tuple[Kind, list[str], str | None, str | None]:
    """Validated, canonical filter parts; UsageError with a one-line reason otherwise."""
    if kind not in KINDS:
        raise UsageError(f"unknown subscription kind {kind!r}: use all, feed, element or keyword")
    clean = [v.strip() for v in values if v and v.strip()]
    if kind == "all":
        clean = []
    elif not clean:
        raise UsageError(f"a {kind} subscription needs at least one value")
    if kind == "element":
        symbols = []
        for value in clean:
            symbol = elements.resolve(value)
            if symbol is None:
                raise UsageError(f"unknown element {value!r} (use a symbol, English or Chinese name)")
            symbols.append(symbol)
        clean = symbols
    if kind == "keyword" and any(len(v) > 100 for v in clean):
        raise UsageError("keywords are at most 100 characters")
    if min_severity is not None:
        try:
            min_severity = Severity(min_severity.lower()).value
        except ValueError:
            raise UsageError(f"unknown severity {min_severity!r}: use "
                             f"{', '.join(s.value for s in Severity)}") from None
    if digest is not None:
        match = _HHMM.fullmatch(digest.strip())
        if not match:
            raise UsageError(f"bad digest time {digest!r}: use HH:MM (24-hour, in REEWATCH_TIMEZONE)")
        digest = f"{int(match[1]):02d}:{match[2]}"
    return kind, list(dict.fromkeys(clean)), min_severity, digest


def routes_as_subscriptions(routes: Sequence[RouteConfig]) -> list[Subscription]:
    """feeds.yaml routes as read-only subscriptions, one per filter kind a route uses."""
    subs: list[Subscription] = []
    for i, route in enumerate(routes, start=1):
        parts: list[tuple[str, list[str]]] = []
        if route.all:
            parts.append(("all", []))
        parts += [(k, list(v)) for k, v in (("feed", route.feeds), ("element", route.elements),
                                           ("keyword", route.keywords)) if v]
        for kind, values in parts:
            sub_id = f"route{i}" if len(parts) == 1 else f"route{i}.{kind}"
            subs.append(Subscription(sub_id, route.channel, kind, values,
                                     route.min_severity.value if route.min_severity else None,
                                     route.digest, static=True))
    return subs


class SubscriptionStore:
    """Subscriptions in Redis (hash id -> JSON, set per channel) plus static routes."""

    def __init__(self, redis: redis_lib.Redis, keys: Keys, routes: Sequence[RouteConfig] = ()) -> None:
        self.redis, self.keys = redis, keys
        self.static = routes_as_subscriptions(routes)

    def add(self, channel: str, kind: str, values: Iterable[str] = (), *, min_severity: str | None = None,
            digest: str | None = None, created_by: str | None = None) -> Subscription:
        """Subscribe `channel`; the same filter twice returns the existing subscription."""
        kind, clean, min_severity, digest = normalize(kind, values, min_severity, digest)
        for existing in self.for_channel(channel):
            if (not existing.static and existing.kind == kind and sorted(existing.values) == sorted(clean)
                    and existing.min_severity == min_severity and existing.digest == digest):
                return existing
        sub = Subscription(str(self.redis.incr(self.keys.subscription_seq())), channel, kind, clean,
                           min_severity, digest, created_by, time.time())
        pipe = self.redis.pipeline()
        pipe.hset(self.keys.subscriptions(), sub.id, sub.to_json())
        pipe.sadd(self.keys.subscriptions_by_channel(channel), sub.id)
        pipe.hdel(self.keys.subscriptions_broken(), channel)  # subscribing again is how a user retries
        pipe.execute()
        return sub

    def remove(self, channel: str, sub_id: str) -> bool:
        """Remove `sub_id` if it belongs to `channel`; static routes cannot be removed here (UsageError)."""
        sub_id = sub_id.strip().lstrip("#")
        if any(s.id == sub_id and s.channel == channel for s in self.static):
            raise UsageError(f"subscription {sub_id} comes from feeds.yaml; change it there")
        if not self.redis.sismember(self.keys.subscriptions_by_channel(channel), sub_id):
            return False
        pipe = self.redis.pipeline()
        pipe.hdel(self.keys.subscriptions(), sub_id)
        pipe.srem(self.keys.subscriptions_by_channel(channel), sub_id)
        pipe.execute()
        return True

    def get(self, sub_id: str) -> Subscription | None:
        raw = self.redis.hget(self.keys.subscriptions(), sub_id)
        if raw is not None:
            return self._flagged([Subscription.from_json(raw)])[0]
        return next((s for s in self._flagged(self.static) if s.id == sub_id), None)

    def for_channel(self, channel: str) -> list[Subscription]:
        """The channel's subscriptions, static routes first, then by id."""
        ids = sorted(self.redis.smembers(self.keys.subscriptions_by_channel(channel)), key=lambda i: _id_order(str(i)))
        raws = self.redis.hmget(self.keys.subscriptions(), ids) if ids else []
        dynamic = [Subscription.from_json(r) for r in raws if r]
        return self._flagged([s for s in self.static if s.channel == channel] + dynamic)

    def all(self) -> list[Subscription]:
        raws = self.redis.hvals(self.keys.subscriptions())
        dynamic = sorted((Subscription.from_json(r) for r in raws), key=lambda s: _id_order(s.id))
        return self._flagged(self.static + dynamic)

    def matching(self, event: Event) -> dict[str, Subscription]:
        """At most one subscription per channel that wants `event`; one posting at once beats a digest."""
        chosen: dict[str, Subscription] = {}
        for sub in self.all():
            if not sub.matches(event):
                continue
            current = chosen.get(sub.channel)
            if current is None or (sub.immediate and not current.immediate):
                chosen[sub.channel] = sub
        return chosen

    def for_element(self, symbol: str) -> dict[str, Subscription]:
        """Per channel, a subscription that follows `symbol` (element filters and `all`)."""
        chosen: dict[str, Subscription] = {}
        for sub in self.all():
            if sub.kind == "all" or (sub.kind == "element" and symbol in sub.values):
                chosen.setdefault(sub.channel, sub)
        return chosen

    def for_feed(self, feed_id: str) -> dict[str, Subscription]:
        """Per channel, a subscription naming `feed_id`."""
        chosen: dict[str, Subscription] = {}
        for sub in self.all():
            if sub.kind == "feed" and feed_id in sub.values:
                chosen.setdefault(sub.channel, sub)
        return chosen

    def digest_channels(self) -> dict[str, set[str]]:
        """Channel -> the digest times its subscriptions ask for."""
        out: dict[str, set[str]] = {}
        for sub in self.all():
            if sub.digest:
                out.setdefault(sub.channel, set()).add(sub.digest)
        return out

    def mark_broken(self, channel: str, error: str) -> None:
        """Record that posting to `channel` fails with `error` (shown on its subscriptions)."""
        self.redis.hset(self.keys.subscriptions_broken(), channel, error)

    def clear_broken(self, channel: str) -> bool:
        return bool(self.redis.hdel(self.keys.subscriptions_broken(), channel))

    def broken(self) -> dict[str, str]:
        raw = self.redis.hgetall(self.keys.subscriptions_broken())
        return {str(k): str(v) for k, v in raw.items()}

    def _flagged(self, subs: list[Subscription]) -> list[Subscription]:
        broken = self.broken() if subs else {}
        return [replace(s, broken=broken.get(s.channel)) for s in subs]


def _id_order(sub_id: str) -> tuple[int, str]:
    return (int(sub_id), "") if sub_id.isdigit() else (1 << 62, sub_id)
