"""Who is on call when: rotation math, overrides and quiet hours. Pure functions on explicit times.

Handoffs follow the wall clock of the rotation's zone: "monday 09:00 Europe/Berlin" stays 09:00 in
Berlin across daylight-saving changes, so the UTC instant of a handoff moves by an hour twice a year
(and a weekly shift that spans a change is 167 or 169 hours long). Shift k starts at

    anchor + k * period   (wall-clock arithmetic, then placed in the zone)

where the anchor is the first `handoff_day` at `handoff_time` on or after `start` (or a fixed epoch,
2024-01-01, when `start` is unset), and shift k belongs to `users[k mod len(users)]`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.feeds import WEEKDAYS, QuietHours, Rotation

EPOCH = date(2024, 1, 1)  # anchor search starts here when the rotation has no `start`


@dataclass(frozen=True, slots=True)
class Override:
    """`user` takes the primary's place from `start` to `end` (Unix seconds), set by `by` at `at`."""

    user: str
    start: float
    end: float
    by: str
    at: float

    def covers(self, when: float) -> bool:
        return self.start <= when < self.end

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Override:
        return cls(str(data["user"]), float(data["start"]), float(data["end"]), str(data.get("by", "")),
                   float(data.get("at", data["start"])))


@dataclass(frozen=True, slots=True)
class Shift:
    """One scheduled turn of the rotation: shift number `index` held by `user` over [start, end)."""

    index: int
    user: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class OnCall:
    """Who to page at one moment: the primary (an override wins), the secondary, and until when."""

    primary: str
    secondary: str | None
    until: datetime  # the next moment the primary may change (handoff or override boundary)
    shift: Shift
    override: Override | None


def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _clock(hhmm: str) -> time:
    hh, mm = hhmm.split(":")
    return time(int(hh), int(mm))


def _aware(when: datetime) -> datetime:
    if when.tzinfo is None:
        raise ValueError("on-call times must be timezone-aware")
    return when


def _anchor(rotation: Rotation) -> datetime:
    """The wall-clock (naive, in the rotation's zone) start of shift 0."""
    first = date.fromisoformat(rotation.start) if rotation.start else EPOCH
    target = WEEKDAYS.index(rotation.handoff_day)
    first += timedelta(days=(target - first.weekday()) % 7)
    return datetime.combine(first, _clock(rotation.handoff_time))


def _place(naive: datetime, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant. In a spring-forward gap the pre-change offset applies
    (02:30 that does not exist becomes 03:30 summer time); in a fall-back fold, the first occurrence."""
    return naive.replace(tzinfo=zone, fold=0).astimezone(UTC)


def handoff(rotation: Rotation, index: int) -> datetime:
    """The UTC instant shift `index` starts."""
    return _place(_anchor(rotation) + timedelta(seconds=index * rotation.period), _zone(rotation.timezone))


def shift_index(rotation: Rotation, when: datetime) -> int:
    """The number of the shift running at `when`."""
    when = _aware(when)
    local = when.astimezone(_zone(rotation.timezone)).replace(tzinfo=None)
    k = math.floor((local - _anchor(rotation)).total_seconds() / rotation.period)
    # The wall-clock estimate can be one off around a DST change; settle it on real instants.
    while handoff(rotation, k) > when:
        k -= 1
    while handoff(rotation, k + 1) <= when:
        k += 1
    return k


def shift(rotation: Rotation, index: int) -> Shift:
    users = rotation.users
    return Shift(index, users[index % len(users)], handoff(rotation, index), handoff(rotation, index + 1))


def scheduled(rotation: Rotation, when: datetime) -> Shift:
    """The rotation's shift at `when`, ignoring overrides."""
    return shift(rotation, shift_index(rotation, when))


def active_override(overrides: Iterable[Override], when: datetime) -> Override | None:
    """The override in force at `when`: the most recently set one that covers it."""
    ts = _aware(when).timestamp()
    covering = [o for o in overrides if o.covers(ts)]
    return max(covering, key=lambda o: o.at) if covering else None


def _secondary(rotation: Rotation, index: int, primary: str) -> str | None:
    """The next user in the rotation after shift `index` who is not `primary`."""
    users = rotation.users
    for step in range(1, len(users) + 1):
        user = users[(index + step) % len(users)]
        if user != primary:
            return user
    return None


def on_call(rotation: Rotation, when: datetime, overrides: Iterable[Override] = ()) -> OnCall:
    """Primary and secondary at `when`. An override replaces the primary; the secondary stays the
    rotation's next person unless that is the override user, then the one after."""
    overrides = list(overrides)
    current = scheduled(rotation, when)
    override = active_override(overrides, when)
    primary = override.user if override else current.user
    secondary = _secondary(rotation, current.index, primary)
    if override is not None and secondary is None and current.user != primary:
        secondary = current.user
    ts = when.timestamp()
    boundaries = [current.end.timestamp()]
    boundaries += [o.end for o in overrides if o.covers(ts)]
    boundaries += [o.start for o in overrides if o.start > ts]
    until = datetime.fromtimestamp(min(b for b in boundaries if b > ts), UTC)
    return OnCall(primary, secondary, until, current, override)


def next_handover(rotation: Rotation, when: datetime,
                  overrides: Iterable[Override] = ()) -> tuple[datetime, OnCall]:
    """When the primary next changes and who is on call from then (boundaries that change nobody are skipped)."""
    overrides = list(overrides)
    now = on_call(rotation, when, overrides)
    since, later = now.until, on_call(rotation, now.until, overrides)
    for _ in range(len(rotation.users) + 2 * len(overrides) + 1):
        if later.primary != now.primary:
            break
        since, later = later.until, on_call(rotation, later.until, overrides)
    return since, later


def next_change(rotation: Rotation, when: datetime, overrides: Iterable[Override] = ()) -> OnCall:
    """Who is on call after the primary next changes (`next_handover` also says when)."""
    return next_handover(rotation, when, overrides)[1]


def quiet_until(quiet: QuietHours | None, when: datetime) -> datetime | None:
    """When the quiet hours that contain `when` end (UTC), or None outside quiet hours.

    Quiet hours may wrap midnight (22:00-07:00); equal start and end mean no quiet hours."""
    if quiet is None or quiet.start == quiet.end:
        return None
    zone = _zone(quiet.timezone)
    local = _aware(when).astimezone(zone)
    start, end, now = _clock(quiet.start), _clock(quiet.end), local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:
        inside, end_day = start <= now < end, today
    elif now >= start:
        inside, end_day = True, today + timedelta(days=1)
    else:
        inside, end_day = now < end, today
    return _place(datetime.combine(end_day, end), zone) if inside else None


@dataclass(frozen=True, slots=True)
class Target:
    """Whom one escalation step pages: `kind` (primary, secondary, user, here, channel, usergroup),
    the Slack mention that pages them, and the user to DM (None for broadcasts and groups)."""

    kind: str
    mention: str
    user: str | None = None


def target(notify: str, who: OnCall) -> Target:
    """The target of a step's `notify:` value at a moment. The only place page mentions are made;
    a step whose person is missing (no secondary in a one-person rotation) falls back to the primary."""
    if notify == "primary":
        return Target("primary", f"<@{who.primary}>", who.primary)
    if notify == "secondary":
        user = who.secondary or who.primary
        return Target("secondary" if who.secondary else "primary", f"<@{user}>", user)
    if notify == "here":
        return Target("here", "<!here>")
    if notify == "channel":
        return Target("channel", "<!channel>")
    kind, _, ident = notify.partition(":")
    if kind == "user":
        return Target("user", f"<@{ident}>", ident)
    if kind == "usergroup":
        return Target("usergroup", f"<!subteam^{ident}>")
    raise ValueError(f"unknown step target {notify!r}")
