"""An element's level from its recent stories and the measures in force: a pure function.

Stories count once per cluster (ten outlets retelling one story are one story), by their worst
severity and their age. Measures set a floor: licensing in force or a suspension about to run out
or past its end (needs review) is "watch"; a ban on all destinations is "elevated". The newest easing
story lowers the story-driven level one step when it is newer than what drove it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from core import controls
from core.models import Event, Level, Severity

HOUR = 3600.0
DAY = 24 * HOUR
#: (severity, max age, level): the first row an element's story satisfies sets the story level.
RULES: tuple[tuple[Severity, float, Level], ...] = (
    (Severity.CRITICAL, 3 * DAY, Level.CRITICAL),
    (Severity.CRITICAL, 7 * DAY, Level.ELEVATED),
    (Severity.HIGH, 3 * DAY, Level.ELEVATED),
    (Severity.CRITICAL, 14 * DAY, Level.WATCH),
    (Severity.HIGH, 14 * DAY, Level.WATCH),
    (Severity.ELEVATED, 7 * DAY, Level.WATCH),
)
LOOKBACK = 14 * DAY
SUSPENSION_WARNING_DAYS = 7


@dataclass(frozen=True, slots=True)
class Derived:
    level: Level
    reason: str


@dataclass(frozen=True, slots=True)
class _Story:
    severity: Severity
    when: float
    title: str


def _stories(events: Iterable[Event]) -> list[_Story]:
    by_cluster: dict[str, _Story] = {}
    for ev in events:
        key = ev.cluster_id or ev.id
        sev = Severity(ev.severity)
        seen = by_cluster.get(key)
        if seen is None or sev.rank > seen.severity.rank or (sev is seen.severity and ev.when < seen.when):
            by_cluster[key] = _Story(sev, ev.when if seen is None else min(seen.when, ev.when), ev.title)
    return list(by_cluster.values())


def _ago(seconds: float) -> str:
    if seconds < HOUR:
        return f"{max(1, int(seconds // 60))}m ago"
    if seconds < 2 * DAY:
        return f"{int(seconds // HOUR)}h ago"
    return f"{int(seconds // DAY)}d ago"


def from_events(events: Iterable[Event], now: float) -> Derived:
    """The level the element's recent stories call for, with the story that drives it."""
    stories = [s for s in _stories(events) if now - s.when <= LOOKBACK]
    best: tuple[Level, _Story] | None = None
    for story in stories:
        age = now - story.when
        for sev, max_age, level in RULES:
            if story.severity is sev and age <= max_age:
                if best is None or level.rank > best[0].rank or (level is best[0] and story.when > best[1].when):
                    best = (level, story)
                break
    if best is None:
        return Derived(Level.NORMAL, "no significant stories in the last 14 days")
    level, story = best
    reason = f"{story.severity.value} story {_ago(now - story.when)}: {story.title[:120]}"
    easing = [s for s in stories if s.severity is Severity.EASING and s.when > story.when]
    if easing and level is not Level.NORMAL:
        newest = max(easing, key=lambda s: s.when)
        level = list(Level)[level.rank - 1]
        reason += f"; eased by a newer story {_ago(now - newest.when)}: {newest.title[:80]}"
    return Derived(level, reason)


def from_measures(symbol: str, day: dt.date) -> Derived:
    """The floor that export-control measures naming the element set on `day`."""
    best = Derived(Level.NORMAL, "no export-control measure in force")
    for measure, state in controls.timeline(symbol, day):
        if symbol not in measure.elements or measure.kind == "suspension":
            continue  # group-wide and suspending instruments show on the card, not in the level
        level, why = Level.NORMAL, ""
        if state.binding and measure.kind == "ban" and measure.target.startswith("all"):
            level, why = Level.ELEVATED, f"{measure.number} ({measure.title}) in force"
        elif state.binding:
            level, why = Level.WATCH, f"{measure.number} in force"
        elif state.needs_review or (state.state == "suspended" and state.until is not None
                                    and (state.until - day).days <= SUSPENSION_WARNING_DAYS):
            # past its record (a suspension that ran out may mean the controls are back) or about to end
            level, why = Level.WATCH, f"{measure.number}: {state.note}"
        if level.rank > best.level.rank:
            best = Derived(level, why)
    return best


def derive(symbol: str, events: Iterable[Event], now: float) -> Derived:
    """The computed level: the higher of what the stories and the measures call for."""
    day = dt.datetime.fromtimestamp(now, dt.UTC).date()
    by_events = from_events(events, now)
    by_measures = from_measures(symbol, day)
    return by_events if by_events.level.rank >= by_measures.level.rank else by_measures
