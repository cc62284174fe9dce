"""Rotation math, overrides and quiet hours (core.oncall): pure tests with explicit datetimes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.feeds import QuietHours, Rotation
from core.oncall import (
    Override,
    handoff,
    next_change,
    next_handover,
    on_call,
    quiet_until,
    scheduled,
    shift_index,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
A, B, C = "UAAAAAAAA", "UBBBBBBBB", "UCCCCCCCC"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def berlin_weekly(**extra: object) -> Rotation:
    return Rotation.model_validate({"users": [A, B, C], "handoff_day": "monday", "handoff_time": "09:00",
                                    "timezone": "Europe/Berlin", "start": "2025-01-06", **extra})


def test_start_anchor_gives_first_user_the_first_shift() -> None:
    rot = berlin_weekly()
    assert handoff(rot, 0) == utc(2025, 1, 6, 8, 0)  # 09:00 CET
    assert scheduled(rot, utc(2025, 1, 6, 8, 0)).user == A
    assert scheduled(rot, utc(2025, 1, 13, 7, 59)).user == A
    assert scheduled(rot, utc(2025, 1, 13, 8, 0)).user == B
    assert scheduled(rot, utc(2025, 1, 20, 8, 0)).user == C
    assert scheduled(rot, utc(2025, 1, 27, 8, 0)).user == A
    assert scheduled(rot, utc(2025, 1, 6, 7, 59)).user == C  # before the anchor: the rotation runs backwards too


def test_start_that_is_not_the_handoff_day_anchors_on_the_next_one() -> None:
    rot = berlin_weekly(start="2025-01-08")  # a Wednesday
    assert handoff(rot, 0) == utc(2025, 1, 13, 8, 0)
    assert scheduled(rot, utc(2025, 1, 13, 9, 0)).user == A


def test_spring_forward_handoff_stays_at_nine_in_berlin() -> None:
    rot = berlin_weekly()
    # Clocks go 02:00 CET -> 03:00 CEST on Sunday 2025-03-30; Monday's handoff is 09:00 CEST = 07:00 UTC.
    before = scheduled(rot, utc(2025, 3, 24, 8, 0))
    assert before.start == utc(2025, 3, 24, 8, 0)
    assert before.end == utc(2025, 3, 31, 7, 0)
    assert before.end - before.start == timedelta(hours=167)
    assert scheduled(rot, utc(2025, 3, 31, 6, 59)).user == before.user
    after = scheduled(rot, utc(2025, 3, 31, 7, 30))  # a fixed-offset computation would still say `before`
    assert after.user != before.user and after.index == before.index + 1
    assert after.start.astimezone(BERLIN).strftime("%a %H:%M %Z") == "Mon 09:00 CEST"


def test_fall_back_handoff_stays_at_nine_in_berlin() -> None:
    rot = berlin_weekly()
    # Clocks go 03:00 CEST -> 02:00 CET on Sunday 2025-10-26; Monday's handoff is 09:00 CET = 08:00 UTC.
    shift = scheduled(rot, utc(2025, 10, 21, 12, 0))
    assert shift.end == utc(2025, 10, 27, 8, 0)
    assert shift.end - shift.start == timedelta(hours=169)
    assert scheduled(rot, utc(2025, 10, 27, 7, 30)).user == shift.user
    assert scheduled(rot, utc(2025, 10, 27, 8, 0)).user != shift.user


def test_handoff_inside_the_spring_gap_lands_just_after_it() -> None:
    # 02:30 does not exist in New York on 2025-03-09: the handoff happens at 03:30 EDT (07:30 UTC).
    rot = Rotation(users=[A, B], handoff_day="sunday", handoff_time="02:30", timezone="America/New_York",
                   period=86400, start="2025-03-01")
    k = shift_index(rot, utc(2025, 3, 9, 12, 0))
    assert handoff(rot, k) == utc(2025, 3, 9, 7, 30)
    assert handoff(rot, k - 1) == utc(2025, 3, 8, 7, 30)  # 02:30 EST
    assert handoff(rot, k + 1) == utc(2025, 3, 10, 6, 30)  # 02:30 EDT


def test_daily_rotation_in_new_york_across_both_changes() -> None:
    rot = Rotation(users=[A, B], handoff_day="monday", handoff_time="18:00", timezone="America/New_York",
                   period=86400, start="2025-01-06")
    for day in range(1, 31):
        for month in (3, 11):
            local = datetime(2025, month, day, 18, 0, tzinfo=NEW_YORK)
            at = local.astimezone(UTC)
            assert scheduled(rot, at).start == at
            assert scheduled(rot, at - timedelta(seconds=1)).end == at


def test_every_instant_belongs_to_exactly_one_shift_over_two_years() -> None:
    rot = berlin_weekly()
    rng = random.Random(7)
    start = utc(2024, 6, 1).timestamp()
    for _ in range(2000):
        at = datetime.fromtimestamp(start + rng.uniform(0, 2 * 365 * 86400), UTC)
        k = shift_index(rot, at)
        assert handoff(rot, k) <= at < handoff(rot, k + 1)
        local = handoff(rot, k).astimezone(BERLIN)
        assert (local.strftime("%A"), local.hour, local.minute) == ("Monday", 9, 0)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        scheduled(berlin_weekly(), datetime(2025, 1, 10, 12, 0))


def test_override_replaces_the_primary_for_its_window() -> None:
    rot = berlin_weekly()
    now = utc(2025, 1, 8, 12, 0)  # A's week; B is next
    cover = Override(user=C, start=now.timestamp(), end=(now + timedelta(hours=4)).timestamp(), by=B,
                     at=now.timestamp())
    who = on_call(rot, now, [cover])
    assert (who.primary, who.secondary, who.override) == (C, B, cover)
    assert who.until == now + timedelta(hours=4)
    assert on_call(rot, now + timedelta(hours=4), [cover]).primary == A
    assert on_call(rot, now - timedelta(seconds=1), [cover]).primary == A
    assert next_handover(rot, now, [cover]) == (now + timedelta(hours=4), on_call(rot, now + timedelta(hours=4)))
    assert next_change(rot, now, [cover]).primary == A


def test_override_by_the_next_person_moves_the_secondary_on() -> None:
    rot = berlin_weekly()
    now = utc(2025, 1, 8, 12, 0)
    cover = Override(user=B, start=now.timestamp(), end=now.timestamp() + 3600, by=A, at=now.timestamp())
    who = on_call(rot, now, [cover])
    assert (who.primary, who.secondary) == (B, C)


def test_latest_override_wins_where_two_overlap() -> None:
    rot = berlin_weekly()
    t = utc(2025, 1, 8, 12, 0).timestamp()
    first = Override(user=B, start=t, end=t + 7200, by=A, at=t)
    second = Override(user=C, start=t + 600, end=t + 3600, by=A, at=t + 60)
    assert on_call(rot, datetime.fromtimestamp(t + 1200, UTC), [second, first]).primary == C
    assert on_call(rot, datetime.fromtimestamp(t + 3600, UTC), [second, first]).primary == B
    assert on_call(rot, datetime.fromtimestamp(t + 300, UTC), [first, second]).until == \
        datetime.fromtimestamp(t + 600, UTC)


def test_now_and_next_without_overrides() -> None:
    rot = berlin_weekly()
    now = on_call(rot, utc(2025, 1, 8, 12, 0))
    assert (now.primary, now.secondary, now.until) == (A, B, utc(2025, 1, 13, 8, 0))
    since, later = next_handover(rot, utc(2025, 1, 8, 12, 0))
    assert (since, later.primary) == (utc(2025, 1, 13, 8, 0), B)


def test_single_person_rotation_has_no_secondary() -> None:
    rot = Rotation(users=[A])
    assert on_call(rot, utc(2025, 1, 8)).secondary is None


QUIET = QuietHours(start="22:00", end="07:00", timezone="Europe/Berlin")


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (utc(2025, 1, 8, 20, 59), None),  # 21:59 CET
        (utc(2025, 1, 8, 21, 0), utc(2025, 1, 9, 6, 0)),  # 22:00 CET: quiet starts (inclusive)
        (utc(2025, 1, 9, 2, 0), utc(2025, 1, 9, 6, 0)),  # 03:00 CET, after midnight
        (utc(2025, 1, 9, 6, 0), None),  # 07:00 CET: quiet has ended (exclusive)
        (utc(2025, 3, 29, 22, 0), utc(2025, 3, 30, 5, 0)),  # the night clocks spring forward: 07:00 CEST
        (utc(2025, 10, 25, 21, 0), utc(2025, 10, 26, 6, 0)),  # the night clocks fall back: 07:00 CET
    ],
)
def test_quiet_hours_wrapping_midnight(at: datetime, until: datetime | None) -> None:
    assert quiet_until(QUIET, at) == until


def test_quiet_hours_within_one_day_and_empty() -> None:
    lunch = QuietHours(start="12:00", end="13:30", timezone="UTC")
    assert quiet_until(lunch, utc(2025, 1, 8, 12, 15)) == utc(2025, 1, 8, 13, 30)
    assert quiet_until(lunch, utc(2025, 1, 8, 13, 30)) is None
    assert quiet_until(lunch, utc(2025, 1, 8, 11, 59)) is None
    assert quiet_until(QuietHours(start="09:00", end="09:00"), utc(2025, 1, 8, 9, 0)) is None
    assert quiet_until(None, utc(2025, 1, 8, 9, 0)) is None
