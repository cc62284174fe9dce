"""The tagger: names always count, symbols only in chemical context, headline traps never tag."""

from __future__ import annotations

import pytest

from bench.bench_intel import load_labelled, tagging_scores
from core import elements
from core.tagger import tag

TRAPS = [
    "EU and US agree on critical minerals club",
    "Eu members split over tariffs",
    "LA port congestion eases",
    "La Niña threatens Australian mine output",
    "La Paz lithium plant delayed",
    "Ho Chi Minh City hosts ASEAN summit",
    "ER doctors warn of staffing gaps",
    "New 2 TB drives ship this month",
    "PM shift cut at the plant",
    "PR firm hired by miner",
    "SC Johnson recalls sprays",
    "CE mark rules tightened",
    "In other news, the miner named a new CEO",
    "Bi-weekly metals market wrap",
    "The Ga. governor signs mining bill",
    "Er... what happened to the magnet plant?",
    "Lu Xun museum reopens in Shanghai",
    "WHO warns about mine dust",
    "Y2K-style bug hits trading platform",
    "B/W photos of Mountain Pass",
    "Sales up 5% Y/Y at distributor",
    "In price terms, copper outperformed",
    "Graphene start-up raises funds",
    "石墨烯电池量产计划推迟",
    "Mo-Fr delivery schedule",
    "W3C publishes new web standard",
]


@pytest.mark.parametrize("text", TRAPS)
def test_traps_do_not_tag_elements(text: str) -> None:
    assert tag(text).elements == []


@pytest.mark.parametrize(("text", "expected"), [
    ("China bans dysprosium exports", ["Dy"]),
    ("DYSPROSIUM prices at record", ["Dy"]),
    ("Tb4O7 and Dy₂O₃ quotes firm", ["Tb", "Dy"]),
    ("Y2O3 coatings for etch chambers", ["Y"]),
    ("Yb:YAG disk lasers", ["Yb"]),
    ("Nd:YAG rods in short supply", ["Nd"]),
    ("Sm-Co magnets for actuators", ["Sm"]),
    ("Al-Sc alloy sheet", ["Sc"]),
    ("Magnet maker cuts Tb/Dy use", ["Tb", "Dy"]),
    ("Pr and Nd recovered from scrap", ["Pr", "Nd"]),
    ("W, Te, Bi, Mo and In products need licences", ["W", "Te", "Bi", "Mo", "In"]),
    ("Neodymium (Nd) plant breaks ground", ["Nd"]),
    ("Dy prices rise", ["Dy"]),
    ("curbs on Tb exports", ["Tb"]),
    ("La oxide surplus", ["La"]),
    ("Dy-free magnet enters production", ["Dy"]),
    ("NdFeB magnet output", ["Nd"]),
    ("NdPr oxide slips", ["Nd", "Pr"]),
    ("GaN chips and InGaAs sensors", ["Ga", "In"]),
    ("EDFA upgrade on subsea cable", ["Er"]),
    ("商务部对钐、钆、铽、镝、镥、钪、钇实施出口管制", ["Sm", "Gd", "Tb", "Dy", "Lu", "Sc", "Y"]),
    ("氧化镨钕价格下跌", ["Pr", "Nd"]),
    ("天然石墨出口许可", ["C"]),
    ("wolframite concentrate deliveries", ["W"]),
])
def test_elements(text: str, expected: list[str]) -> None:
    assert tag(text).elements == expected


@pytest.mark.parametrize(("text", "topics"), [
    ("Rare earth magnets face shortage", ["rare-earths", "magnets"]),
    ("Heavy rare earths squeeze", ["rare-earths", "heavy-rare-earths"]),
    ("Critical minerals club launched", ["critical-minerals"]),
    ("稀土永磁出口管制", ["rare-earths", "magnets", "export-controls"]),
    ("Gallium price rises", ["critical-minerals"]),
    ("Weather delays football match", []),
])
def test_topics(text: str, topics: list[str]) -> None:
    assert tag(text).topics == topics


def test_match_spans_point_at_the_terms() -> None:
    text = "Prices of Tb4O7 and 镝 rose; dysprosium (Dy) too"
    for m in tag(text).matches:
        assert text[m.span[0]:m.span[1]] == m.term


def test_labelled_set_meets_precision_and_recall_targets() -> None:
    data = load_labelled()
    rows = data["items"] + data["traps"]
    assert len(data["items"]) + len(data["traps"]) >= 150
    assert {r["lang"] for r in data["items"]} == {"en", "zh"}
    pr, misses = tagging_scores(rows)
    assert pr.precision >= 0.97, misses
    assert pr.recall >= 0.95, misses


def test_catalogue_resolves_names_aliases_and_keeps_callers_working() -> None:
    assert elements.resolve("Dy") == "Dy"
    assert elements.resolve("dysprosium") == "Dy"
    assert elements.resolve("镝") == "Dy"
    assert elements.resolve("yttria") == "Y"
    assert elements.resolve("NdPr") is None  # names two elements
    assert elements.resolve("unobtainium") is None
    cat = elements.catalogue()
    assert len(cat) == 26 and sum(e.is_rare_earth for e in cat.values()) == 17
    sm, la = cat["Sm"], cat["La"]
    assert sm.class_cn == "light" and sm.mofcom_medium_heavy  # the classic confusion, kept explicit
    assert la.class_cn == "light" and not la.mofcom_medium_heavy
    assert cat["Dy"].supply[0].source == "USGS-RE25" and cat["Dy"].supply[0].year == 2024
    assert all(e.uses for e in cat.values())
    assert elements.group_supply("rare_earth")[0].value.startswith("390,000")


def test_isotope_notation_tags_only_plausible_mass_numbers() -> None:
    from core.intel import analyze

    cases = {"Lu-177 radiopharmaceutical supply deal signed": ["Lu"], "Y-90 microspheres approved": ["Y"],
             "W-2 forms due for miners": [], "PM-10 dust levels near the mine": []}
    for title, expected in cases.items():
        assert analyze(title).elements == expected, title
