"""Dated export-control measures and what state each is in on a given day.

`state_on(measure, day)` is a pure function of the recorded periods: a state past its `review_by`
date, or a period that has ended with no recorded successor (a suspension that ran out), is reported
as needing review rather than asserted. The data lives in core/controls.yaml.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from core.elements import catalogue
from core.errors import ConfigError

STATES = ("announced", "in_force", "suspended", "lifted", "superseded", "context")
KINDS = ("licensing", "ban", "technology", "domestic", "listing", "diplomatic", "suspension")
_FILE = "core/controls.yaml"


@dataclass(frozen=True, slots=True)
class Period:
    """One recorded state: from `start`, optionally until `until` (inclusive), to be re-checked after `review_by`."""

    state: str
    start: dt.date
    until: dt.date | None = None
    by: str | None = None  # the measure that put it in this state (e.g. the suspending announcement)
    review_by: dt.date | None = None


@dataclass(frozen=True, slots=True)
class MeasureState:
    """What to show for a measure on one day."""

    state: str  # one of STATES, "not_announced", or "needs_review"
    recorded: str  # the last recorded state that applies (equal to `state` unless it needs review)
    since: dt.date | None
    until: dt.date | None
    review_by: dt.date | None
    needs_review: bool
    note: str  # one line for people

    @property
    def label(self) -> str:
        if self.state == "needs_review":
            return "needs review"
        if self.state == "suspended" and self.until:
            return f"suspended until {self.until.isoformat()}"
        return self.state.replace("_", " ")

    @property
    def binding(self) -> bool:
        """Whether the measure restricts trade on that day, as far as the record shows."""
        return self.state == "in_force"


@dataclass(frozen=True, slots=True)
class Measure:
    id: str
    number: str
    number_zh: str
    title: str
    issuer: tuple[str, ...]
    announced: dt.date
    effective: dt.date | None
    kind: str
    elements: tuple[str, ...]
    group: str | None
    covers: str
    target: str
    periods: tuple[Period, ...]
    confidence: str
    sources: tuple[str, ...]
    suspends: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """The last recorded state (as of the newest source read), without regard to today."""
        return self.periods[-1].state

    @property
    def review_by(self) -> dt.date | None:
        return self.periods[-1].review_by

    def state_on(self, day: dt.date) -> MeasureState:
        return state_on(self, day)

    def needs_review(self, today: dt.date) -> bool:
        return state_on(self, today).needs_review

    def label_on(self, day: dt.date) -> str:
        """"in force", "suspended until 2026-11-27", "needs review" ... for `day`."""
        return state_on(self, day).label


def state_on(measure: Measure, day: dt.date) -> MeasureState:
    """The state of `measure` on `day`, with a warning when the record cannot vouch for it."""
    current = [p for p in measure.periods if p.start <= day]
    if not current:
        return MeasureState("not_announced", "not_announced", None, None, None, False,
                            f"not announced until {measure.announced.isoformat()}")
    p = current[-1]
    ended = p.until is not None and day > p.until
    if ended and p.until is not None:
        if p.state == "suspended" or measure.kind == "suspension":
            what = f"suspension{f' ({p.by})' if p.by else ''} ran to {p.until.isoformat()}"
            then = "the controls revive unless it was extended, and no extension is confirmed in our sources"
        else:
            what = f"{p.state.replace('_', ' ')} ran to {p.until.isoformat()}"
            then = "what followed is not confirmed in our sources"
        return MeasureState("needs_review", p.state, p.start, p.until, p.review_by, True,
                            f"{what}; {then} - check before relying on it")
    if p.review_by is not None and day > p.review_by:
        return MeasureState(
            "needs_review", p.state, p.start, p.until, p.review_by, True,
            f"recorded as {p.state.replace('_', ' ')} since {p.start.isoformat()}; not re-checked since "
            f"{p.review_by.isoformat()}")
    if p.until is not None:
        left = (p.until - day).days
        when = "ends today" if left == 0 else ("ends tomorrow" if left == 1 else f"{left} days left")
        note = f"{p.state.replace('_', ' ')} until {p.until.isoformat()} ({when})"
    else:
        note = f"{p.state.replace('_', ' ')} since {p.start.isoformat()}"
    if p.by:
        note += f" by {p.by}"
    return MeasureState(p.state, p.state, p.start, p.until, p.review_by, False, note)


def _date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{_FILE}: {where}: bad date {value!r}") from exc


def _measure(raw: dict[str, Any]) -> Measure:
    mid = str(raw.get("id", "?"))
    try:
        periods = tuple(
            Period(state=str(p["state"]), start=_date(p["from"], mid),
                   until=_date(p["until"], mid) if p.get("until") else None, by=p.get("by"),
                   review_by=_date(p["review_by"], mid) if p.get("review_by") else None)
            for p in raw["periods"])
        m = Measure(
            id=mid, number=str(raw["number"]), number_zh=str(raw.get("number_zh") or ""), title=str(raw["title"]),
            issuer=tuple(raw.get("issuer") or ()), announced=_date(raw["announced"], mid),
            effective=_date(raw["effective"], mid) if raw.get("effective") else None, kind=str(raw["kind"]),
            elements=tuple(raw.get("elements") or ()), group=raw.get("group"), covers=str(raw.get("covers", "")),
            target=str(raw.get("target", "")), periods=periods, confidence=str(raw.get("confidence", "")),
            sources=tuple(raw.get("sources") or ()), suspends=tuple(raw.get("suspends") or ()),
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{_FILE}: measure {mid}: missing or bad field {exc}") from exc
    if not m.periods:
        raise ConfigError(f"{_FILE}: measure {mid}: needs at least one period")
    if m.kind not in KINDS:
        raise ConfigError(f"{_FILE}: measure {mid}: kind must be one of {KINDS}")
    for p in m.periods:
        if p.state not in STATES:
            raise ConfigError(f"{_FILE}: measure {mid}: state {p.state!r} is not one of {STATES}")
    if any(b.start < a.start for a, b in zip(m.periods, m.periods[1:], strict=False)):
        raise ConfigError(f"{_FILE}: measure {mid}: periods must be in date order")
    unknown = set(m.elements) - set(catalogue())
    if unknown:
        raise ConfigError(f"{_FILE}: measure {mid}: unknown elements {sorted(unknown)}")
    return m


def measures(symbol: str | None = None) -> tuple[Measure, ...]:
    """Every recorded measure (or, given a symbol, those covering it, group-wide ones included), oldest
    announcement first. Raises ConfigError on a malformed data file. For what to show on a given day use
    `state_on(measure, day)`: `Measure.state` is only the last recorded state."""
    return _all() if symbol is None else tuple(for_element(symbol))


@cache
def _all() -> tuple[Measure, ...]:
    raw = yaml.safe_load(resources.files("core").joinpath("controls.yaml").read_text("utf-8"))
    items = tuple(_measure(m) for m in (raw or {}).get("measures") or ())
    ids = [m.id for m in items]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{_FILE}: duplicate measure ids")
    known = set(ids)
    for m in items:
        for ref in (*m.suspends, *(p.by for p in m.periods if p.by)):
            if ref not in known:
                raise ConfigError(f"{_FILE}: measure {m.id}: refers to unknown measure {ref}")
    return tuple(sorted(items, key=lambda m: (m.announced, m.id)))


def get(measure_id: str) -> Measure | None:
    return next((m for m in _all() if m.id == measure_id), None)


def for_element(symbol: str, *, include_group: bool = True) -> list[Measure]:
    """Measures naming `symbol`, plus (with include_group) those covering its whole group, oldest first."""
    el = catalogue().get(symbol)
    group = el.group if el else None
    return [m for m in _all()
            if symbol in m.elements or (include_group and group is not None and m.group == group)]


def timeline(symbol: str | None, day: dt.date) -> list[tuple[Measure, MeasureState]]:
    """The measures for an element (or all, for None) with their state on `day`, oldest first."""
    chosen = for_element(symbol) if symbol else list(measures())
    return [(m, state_on(m, day)) for m in chosen]
