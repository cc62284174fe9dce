"""The demo's sample feeds and the server that publishes them over time (clock stepped by hand)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from core.feeds import check_text
from core.intel import analyze
from core.models import Severity
from tests.fakes.timed_feeds import DEMO_NS, TimedFeed, TimedFeedServer

DEMO = Path(__file__).resolve().parents[1] / "demo"
TIERS = {"wire.xml": ("wire", "en"), "trade.xml": ("trade", "en"), "official-zh.xml": ("official", "zh"),
         "aggregator.xml": ("aggregator", "en")}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def server(clock: Clock) -> Any:
    released: list[tuple[str, str]] = []
    with TimedFeedServer.from_dir(DEMO / "feeds", clock=clock,
                                  on_release=lambda feed, story: released.append((feed, story.title))) as srv:
        srv.released_log = released
        yield srv


def _titles(body: bytes) -> list[str]:
    return [e.title for e in feedparser.parse(body).entries]


def test_every_sample_feed_is_a_clean_feed_once_published() -> None:
    for path in sorted((DEMO / "feeds").glob("*.xml")):
        feed = TimedFeed.from_file(path)
        body = feed.render(1e9, time.time())
        parsed = feedparser.parse(body)
        assert not parsed.bozo, (path.name, parsed.get("bozo_exception"))
        assert len(parsed.entries) == len(feed.stories) >= 4, path.name
        assert DEMO_NS.encode() not in body and b"demo:at" not in body, path.name
        for entry in parsed.entries:
            assert entry.title and entry.link.startswith("https://") and entry.published_parsed, entry
            assert ".example/" in entry.link, "sample stories must link to reserved .example hosts only"


def test_first_answer_is_the_back_catalogue_then_stories_come_out_in_time(server: Any, clock: Clock) -> None:
    wire = server.url("wire.xml")
    first = _titles(httpx.get(wire).content)
    assert first == ["Lithium carbonate prices steady as Chilean output holds"]
    clock.now += 1.0
    assert _titles(httpx.get(wire).content) == first  # the first story is due at 2 s
    clock.now += 1.5
    second = _titles(httpx.get(wire).content)
    assert second[0].startswith("China imposes export controls on dysprosium")
    assert second[1:] == first
    httpx.get(wire)
    assert server.released("wire.xml") == [second[0]]
    assert server.released_log == [("wire.xml", second[0])]  # announced once, however often it is served


def test_a_feed_first_polled_late_still_starts_with_its_back_catalogue(server: Any, clock: Clock) -> None:
    httpx.get(server.url("wire.xml"))  # starts the timeline
    clock.now += 100  # every story is due...
    late = _titles(httpx.get(server.url("trade.xml")).content)
    assert late == ["Nordvik Magnetics opens sintering line in Finland"]  # ...but a first poll only seeds
    assert len(_titles(httpx.get(server.url("trade.xml")).content)) == 5


def test_publication_dates_follow_the_release(server: Any, clock: Clock) -> None:
    httpx.get(server.url("official-zh.xml"))
    clock.now += 6
    parsed = feedparser.parse(httpx.get(server.url("official-zh.xml")).content)
    newest, oldest = parsed.entries[0], parsed.entries[-1]
    assert time.mktime(newest.published_parsed) > time.mktime(oldest.published_parsed) + 86400
    assert parsed.feed.language == "zh-CN"


def test_unchanged_feed_answers_304_to_its_etag(server: Any) -> None:
    url = server.url("aggregator.xml")
    first = httpx.get(url)
    again = httpx.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    assert first.headers["content-type"].startswith("application/rss+xml")


def test_speed_runs_the_timeline_faster(clock: Clock) -> None:
    with TimedFeedServer.from_dir(DEMO / "feeds", clock=clock, speed=10) as fast:
        httpx.get(fast.url("wire.xml"))
        clock.now += 0.25  # 2.5 timeline seconds
        assert len(_titles(httpx.get(fast.url("wire.xml")).content)) == 2
        assert fast.elapsed() == pytest.approx(2.5)


def test_item_without_release_time_is_refused() -> None:
    with pytest.raises(ValueError, match="demo:at"):
        TimedFeed(b"<rss version='2.0'><channel><title>t</title><item><title>x</title></item></channel></rss>")


def test_demo_feeds_yaml_is_valid_and_tells_the_story_within_a_minute() -> None:
    model, problems = check_text((DEMO / "feeds.yaml").read_text(encoding="utf-8"), "demo/feeds.yaml")
    assert model is not None and problems == []
    assert {Path(f.url).name for f in model.feeds} == set(TIERS)
    assert {f.tier for f in model.feeds} == {"official", "wire", "trade", "aggregator"}
    assert all(f.interval <= 2 for f in model.feeds)
    assert model.oncall is not None and sum(s.after for s in model.oncall.steps) <= 30
    last_story = max(s.at for name in TIERS for s in TimedFeed.from_file(DEMO / "feeds" / name).stories)
    assert last_story <= 45, "stories published after 45 s would not show within a minute of `make demo`"


def _stories() -> list[tuple[str, str, str, str, str]]:
    out = []
    for name, (tier, language) in TIERS.items():
        for entry in feedparser.parse(TimedFeed.from_file(DEMO / "feeds" / name).render(1e9, time.time())).entries:
            html = (entry.get("content") or [{}])[0].get("value") or entry.get("summary", "")
            out.append((name, entry.title, re.sub(r"<[^>]+>", " ", html), tier, language))
    return out


# What each published story must be for the demo to show what it promises (title prefix -> elements, severity).
EXPECTED = {
    "China imposes export controls on dysprosium": ({"Dy", "Tb", "Ho", "Y"}, Severity.HIGH),
    "Beijing adds Dy, Tb, Ho and Y": ({"Dy", "Tb", "Ho", "Y"}, Severity.HIGH),
    "商务部 海关总署公告": ({"Dy", "Tb", "Ho", "Y"}, Severity.HIGH),
    "China's new heavy rare earth export controls": ({"Dy", "Tb"}, Severity.HIGH),
    "Magnet makers warn of weeks-long licence delays": ({"Dy", "Tb"}, Severity.ELEVATED),
    "Licence backlog leaves European magnet makers": ({"Dy", "Tb"}, Severity.ELEVATED),
    "Dysprosium oxide price jumps": ({"Dy"}, Severity.ELEVATED),
    "China suspends export controls on gallium": ({"Ga", "Ge"}, Severity.EASING),
    "商务部公告（示例）关于暂停实施镓、锗": ({"Ga", "Ge"}, Severity.EASING),
    "Gallium and germanium exports to resume": ({"Ga", "Ge"}, Severity.EASING),
}
NOISE = ("Copper miners lift guidance", "Rare footage shows Earth", "商务部召开例行新闻发布会")


@pytest.mark.parametrize(("feed", "title", "text", "tier", "language"), _stories(), ids=lambda v: str(v)[:30])
def test_sample_story_reads_as_intended(feed: str, title: str, text: str, tier: str, language: str) -> None:
    analysis = analyze(title, text, tier=tier, language=language)
    expected = next((v for k, v in EXPECTED.items() if title.startswith(k)), None)
    if expected is not None:
        elements, severity = expected
        assert elements <= set(analysis.elements), analysis
        assert analysis.severity == severity, analysis
    elif title.startswith(NOISE):
        assert analysis.elements == [], f"noise tagged: {analysis.elements}"
    else:  # back catalogue: seeded, never posted
        assert analysis.severity.rank <= Severity.HIGH.rank
