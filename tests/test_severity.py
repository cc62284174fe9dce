"""Severity reads the verb with its object, in English and Chinese, and weighs the source."""

from __future__ import annotations

import pytest

from bench.bench_intel import load_labelled, severity_scores
from core.models import Severity
from core.severity import score

C, H, E, NONE, EA = Severity.CRITICAL, Severity.HIGH, Severity.ELEVATED, Severity.INFO, Severity.EASING


@pytest.mark.parametrize(("title", "expected"), [
    # suspend: exports (bad) vs controls (good)
    ("China suspends antimony exports to the US", C),
    ("China suspends the antimony export controls on the US", EA),
    ("暂停镝出口", C),
    ("暂停实施锗相关物项对美出口管制措施", EA),
    # licence: requirement (bad) vs grant (good)
    ("Export licence required for dysprosium shipments", H),
    ("Export licences granted for dysprosium shipments", EA),
    ("钐相关物项未经许可不得出口", H),
    ("钐钴磁材企业获批出口许可", EA),
    ("China grants general licences to magnet makers", EA),
    # ban: imposed vs lifted
    ("China bans gallium, germanium, antimony exports to US", C),
    ("China lifts export ban on germanium", EA),
    ("Gallium exports to US banned by China", C),
    ("商务部：镓、锗原则上不予许可对美国出口", C),
    # suspension ending is bad news; extending it is good
    ("Suspension of rare earth export controls expires", H),
    ("China extends suspension of gallium export ban", EA),
    ("Controls on holmium revive as pause ends", H),
    # listings: firms (critical) vs items (high)
    ("China adds 10 US firms including MP Materials to export control list", C),
    ("China adds samarium, gadolinium and terbium to export control list", H),
    ("商务部将10家美国实体列入出口管制管控名单", C),
    # market, friction
    ("Dysprosium oxide prices surge 18%", E),
    ("Terbium prices ease as supply returns", EA),
    ("氧化镨钕价格连续第三周下跌", EA),
    ("European carmakers warn of magnet shortage as licence delays drag on", E),
    ("China cuts rare earth mining quota by 10%", E),
    ("Tungsten miner declares force majeure", C),
    ("Lynas halts production at Malaysia plant", E),
    ("China resumes rare earth magnet shipments to US", EA),
    ("China halts rare earth magnet shipments to US", C),
    # negation and nothing at all
    ("China denies plans to ban terbium exports", NONE),
    ("Holmium lasers now standard in kidney stone surgery", NONE),
    ("US and China agree tariff truce in joint statement", EA),
])
def test_polarity(title: str, expected: Severity) -> None:
    assert score(title, tier="wire").severity is expected, score(title, tier="wire").matches


def test_hedged_commentary_drops_a_level_but_not_from_official_sources() -> None:
    assert score("China could ban terbium exports, analysts warn", tier="aggregator").severity is H
    assert score("China could ban terbium exports, analysts warn", tier="official").severity is C
    # hedging does not erase market stress
    assert score("Prices may surge as shortage looms", tier="other").severity is E


def test_official_sources_weigh_a_bare_mention_of_export_controls_more() -> None:
    assert score("Notice on export controls of graphite items", tier="official").severity is H
    assert score("Notice on export controls of graphite items", tier="other").severity is E


def test_headline_decides_and_body_speaks_for_a_silent_headline() -> None:
    eased = score("China extends pause on rare earth controls",
                  "The controls were first imposed in October and banned exports of some items.")
    assert eased.severity is EA
    silent = score("What next for magnet buyers", "Dy oxide prices rose 12% as licence delays slowed shipments.")
    assert silent.severity is E
    title = "What next for magnet buyers"
    for m in silent.matches:
        assert (title + "\n" + "Dy oxide prices rose 12% as licence delays slowed shipments.")[
            m.span[0]:m.span[1]] == m.term


def test_labelled_set_severity() -> None:
    acc, misses = severity_scores(load_labelled()["items"])
    assert acc >= 0.95, misses


def test_rules_requirements_stockpile_policy_and_extended_pauses() -> None:
    from core.intel import analyze

    cases = {
        "Japan magnet makers say new terbium and dysprosium export rules require end-user certificates": "high",
        "EU lawmakers back critical raw materials stockpile plan": "info",
        "Buyers stockpiling terbium oxide as prices rise": "elevated",
        "Samarium supply tight as Chinese shipments slow": "elevated",
        "关于延长暂停实施镓、锗出口管制措施期限的公告": "easing",
        "商务部 海关总署公告关于对镝、铽相关物项实施出口管制的决定": "high",
    }
    for title, expected in cases.items():
        assert analyze(title).severity.value == expected, title
