"""Plain data shared by the bot and the workers: severities, levels, items, events, clusters.

Everything here is JSON-friendly (`to_dict` / `from_dict`) so it can live in Redis hashes and RQ
jobs can pass ids instead of objects.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, Literal, Self, TypeVar

Tier = Literal["official", "wire", "trade", "aggregator", "other"]
TIERS: tuple[Tier, ...] = ("official", "wire", "trade", "aggregator", "other")
#: How much a source's word counts: official notices beat wires beat trade press beat aggregators.
TIER_WEIGHT: dict[str, int] = {"official": 4, "wire": 3, "trade": 2, "aggregator": 1, "other": 1}


class Severity(StrEnum):
    """How bad a story is for supply, from good news (easing) to a cut-off (critical)."""

    EASING = "easing"
    INFO = "info"
    ELEVATED = "elevated"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {s: i for i, s in enumerate(Severity)}


class Level(StrEnum):
    """An element's status level on the board."""

    NORMAL = "normal"
    WATCH = "watch"
    ELEVATED = "elevated"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {lv: i for i, lv in enumerate(Level)}

T = TypeVar("T")


class _Record:
    """JSON round-trip for the dataclasses below (unknown keys from newer versions are ignored)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_json(cls, raw: str | bytes) -> Self:
        return cls.from_dict(json.loads(raw))


@dataclass(slots=True)
class Item(_Record):
    """One normalized feed entry. Times are Unix seconds (UTC)."""

    id: str
    feed_id: str
    title: str
    link: str
    text: str = ""
    published: float | None = None
    fetched_at: float = 0.0
    language: str = "en"
    guid: str | None = None
    tier: str = "other"
    source: str = ""  # outlet name as the feed calls itself


@dataclass(slots=True)
class Event(_Record):
    """An item after tagging, scoring, clustering and summarizing: what is stored and routed."""

    id: str
    feed_id: str
    title: str
    link: str
    text: str = ""
    published: float | None = None
    fetched_at: float = 0.0
    language: str = "en"
    tier: str = "other"
    source: str = ""
    elements: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    severity: str = Severity.INFO.value
    cluster_id: str = ""
    summary: str = ""
    summary_original: str = ""  # key sentence kept in the source language (Chinese sources)
    kind: str = "news"  # "news", "status_change", "feed_disabled"

    @property
    def when(self) -> float:
        return self.published or self.fetched_at

    @property
    def sev(self) -> Severity:
        return Severity(self.severity)


@dataclass(slots=True)
class Cluster(_Record):
    """One story told by one or more items, possibly across outlets and languages."""

    id: str
    first_seen: float
    first_event_id: str
    lead_event_id: str  # the most authoritative report (official first)
    event_ids: list[str] = field(default_factory=list)
    outlets: list[str] = field(default_factory=list)
    elements: list[str] = field(default_factory=list)
    severity: str = Severity.INFO.value
    updated_at: float = 0.0
    first_source: str = ""  # outlet of the first report
    lead_tier: str = "other"  # tier of lead_event_id's feed
