"""Export-control measures: the state on a date is a pure function, and stale facts say so."""

from __future__ import annotations

import datetime as dt

import pytest

from core import controls
from core.controls import Measure, Period, state_on
from core.errors import ConfigError

TODAY = dt.date(2026, 11, 26)


def test_no57_after_the_no70_suspension_ran_out_needs_review() -> None:
    m = controls.get("CN-2025-057")
    assert m is not None and set(m.elements) == {"Ho", "Er", "Tm", "Eu", "Yb"}
    before = state_on(m, dt.date(2026, 11, 10))
    assert before.state == "suspended" and before.label == "suspended until 2026-11-10" and not before.needs_review
    after = state_on(m, TODAY)
    assert after.state == "needs_review" and after.needs_review and after.recorded == "suspended"
    assert "2026-11-10" in after.note and "no extension is confirmed" in after.note and not after.binding
    assert m.needs_review(TODAY) and m.state == "suspended" and m.review_by == dt.date(2026, 11, 10)


def test_no46_clause2_is_suspended_until_tomorrow_then_needs_review() -> None:
    m = controls.get("CN-2024-046-2")
    assert m is not None
    today = state_on(m, TODAY)
    assert today.state == "suspended" and today.label == "suspended until 2026-11-27"
    assert "ends tomorrow" in today.note and not today.needs_review
    assert state_on(m, dt.date(2026, 11, 27)).state == "suspended"  # the end date is inclusive
    assert state_on(m, dt.date(2026, 11, 28)).state == "needs_review"
    assert state_on(m, dt.date(2025, 1, 1)).state == "in_force"


def test_in_force_facts_warn_after_their_review_date_and_before_announcement_nothing() -> None:
    m = controls.get("CN-2025-018")
    assert m is not None
    assert state_on(m, TODAY).binding and not state_on(m, TODAY).needs_review
    late = state_on(m, dt.date(2027, 1, 15))
    assert late.needs_review and late.recorded == "in_force" and "not re-checked" in late.note
    assert state_on(m, dt.date(2025, 1, 1)).state == "not_announced"


def test_for_element_and_timeline() -> None:
    ids = [m.id for m in controls.for_element("Dy", include_group=False)]
    assert ids == ["CN-2025-018"]
    with_group = [m.id for m in controls.for_element("Dy")]
    assert "CN-2023-TECH-057" in with_group and "CN-2025-061" in with_group
    ga = {m.id: s.label for m, s in controls.timeline("Ga", TODAY)}
    assert ga["CN-2023-023"] == "in force" and ga["CN-2024-046-2"] == "suspended until 2026-11-27"
    assert len(controls.timeline(None, TODAY)) == len(controls.measures())
    assert [m.id for m in controls.measures("Dy")] == with_group
    assert controls.get("CN-2025-072") is not None and controls.get("CN-2025-072").label_on(TODAY) == "in force"


def test_every_measure_is_dated_sourced_and_reviewable() -> None:
    for m in controls.measures():
        assert m.sources, m.id
        assert m.periods[-1].review_by is not None, m.id  # nothing is asserted forever


def test_pure_function_on_a_hand_made_measure() -> None:
    m = Measure(id="X", number="Ann. 2030 No.1", number_zh="", title="t", issuer=("MOFCOM",),
                announced=dt.date(2030, 1, 1), effective=dt.date(2030, 2, 1), kind="licensing", elements=("Dy",),
                group=None, covers="", target="all", confidence="", sources=("s",),
                periods=(Period("announced", dt.date(2030, 1, 1)),
                         Period("in_force", dt.date(2030, 2, 1), review_by=dt.date(2030, 6, 1)),
                         Period("lifted", dt.date(2030, 3, 1))))
    assert state_on(m, dt.date(2030, 1, 15)).state == "announced"
    assert state_on(m, dt.date(2030, 2, 15)).binding
    assert state_on(m, dt.date(2030, 4, 1)).state == "lifted"


def test_malformed_record_is_a_config_error() -> None:
    bad = {"id": "Y", "number": "n", "title": "t", "announced": "2030-01-01", "kind": "licensing",
           "elements": ["Xx"], "periods": [{"state": "in_force", "from": "2030-01-01"}]}
    with pytest.raises(ConfigError, match="unknown elements"):
        controls._measure(bad)
    with pytest.raises(ConfigError, match="state"):
        controls._measure({**bad, "elements": [], "periods": [{"state": "maybe", "from": "2030-01-01"}]})
