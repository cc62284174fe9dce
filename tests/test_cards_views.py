"""What the cards say about measures and element classes (bot.views + core.cards, no Slack)."""

from __future__ import annotations

import datetime as dt

from bot.views import measures_for
from core import elements
from core.blockkit import validate_message
from core.cards import element_card

TODAY = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC).timestamp()  # the suspension of No.57 ended 10 Nov 2026


def test_a_measure_whose_suspension_ran_out_reads_needs_review() -> None:
    (no57,) = [m for m in measures_for("Ho", TODAY) if "2025 No.57" in m.title]
    assert no57.state == "needs review"  # not the last recorded "suspended"
    assert "ran to 2026-11-10" in no57.review and "check before relying on it" in no57.review


def test_a_suspension_still_running_shows_its_end() -> None:
    before = dt.datetime(2026, 6, 1, tzinfo=dt.UTC).timestamp()
    (no57,) = [m for m in measures_for("Ho", before) if "2025 No.57" in m.title]
    assert no57.state == "suspended until 2026-11-10" and no57.review == ""


def _card_context(symbol: str) -> str:
    card = element_card(elements.catalogue()[symbol], level="watch", why="", measures=[], uses=[], supply=[],
                        events=[], counts=[0] * 14, oncall=None, now=TODAY)
    assert validate_message(card.text, card.blocks) == []
    return str(card.blocks[1]["elements"][0]["text"])


def test_card_tells_chinas_light_heavy_split_from_mofcoms_listing() -> None:
    sm, eu, dy, nd = (_card_context(s) for s in ("Sm", "Eu", "Dy", "Nd"))
    assert "light rare earth (China's light/heavy split)" in sm and "MOFCOM-listed medium/heavy (" in sm
    assert "light rare earth" in eu and "MOFCOM-listed medium/heavy (MOFCOM/GAC 2025 No.57" in eu
    assert "heavy rare earth" in dy and "MOFCOM-listed medium/heavy" in dy
    assert "light rare earth" in nd and "MOFCOM" not in nd
    assert "(MOFCOM)" not in sm + eu + dy + nd
    ga = _card_context("Ga")
    assert "rare earth" not in ga.replace("critical mineral", "") and "MOFCOM-controlled (" in ga
