"""The whole path: two loopback feeds report one critical story -> real poll, ingest, clustering ->
one incident, one page for the primary, the second outlet in the page's thread."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from core import metrics
from core.events import EventStore
from core.incidents import IncidentStore
from core.settings import Settings
from tests.fakes.feed_server import FeedServer, Reply, rss
from tests.fakes.slack_api import SlackStandIn
from tests.oncall_kit import CHANNEL, PRIMARY, dms, pages, policy_yaml
from workers.context import install
from workers.pipeline import poll_feeds
from workers.runner import make_worker

OLD = [{"title": "Rare earth prices steady in quiet trade", "guid": "old1", "link": "https://a.example/old1",
        "description": "Nothing new.", "pubDate": "Wed, 25 Nov 2026 08:00:00 GMT"}]


def _story(outlet: str, guid: str, title: str) -> dict[str, str]:
    return {"title": title, "guid": guid, "link": f"https://{outlet}.example/{guid}",
            "description": "The commerce ministry said dysprosium exports to the United States are banned.",
            "pubDate": "Wed, 25 Nov 2026 10:00:00 GMT"}


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


def test_two_outlets_one_critical_story_one_page(settings: Settings, slack: SlackStandIn,
                                                  feed_server: FeedServer) -> None:
    oc = settings.model_copy(update={"slack_api_url": slack.api_url})
    a = feed_server.route("/a.xml", Reply(body=rss(OLD)))
    b = feed_server.route("/b.xml", Reply(body=rss(OLD)))
    policy = policy_yaml("- notify: primary\n- after: 1h\n  notify: secondary")
    policy = policy.replace("feeds: []", f"feeds:\n  - {{id: wire-a, url: '{a}', tier: wire}}\n"
                                         f"  - {{id: wire-b, url: '{b}', tier: wire}}")
    oc.feeds_file.write_text(policy, encoding="utf-8")
    ctx = install(oc)
    assert poll_feeds(ctx, ["wire-a", "wire-b"]) == {"wire-a": "ok", "wire-b": "ok"}  # seeds silently
    feed_server.route("/a.xml", Reply(body=rss([_story("a", "s1", "China bans dysprosium exports to the United States"),
                                               *OLD])))
    feed_server.route("/b.xml", Reply(body=rss([_story("b", "s2", "China bans dysprosium exports to the United "
                                                                 "States, ministry says"), *OLD])))
    assert poll_feeds(ctx, ["wire-a"]) == {"wire-a": "ok"}
    assert poll_feeds(ctx, ["wire-b"]) == {"wire-b": "ok"}
    events = EventStore(ctx.redis, ctx.keys, 86400).recent()
    assert len(events) == 2 and len({e.cluster_id for e in events}) == 1, "the two reports are one story"
    assert {e.severity for e in events} == {"critical"}
    make_worker(oc).work(burst=True, with_scheduler=True, logging_level="WARNING")
    assert pages(slack) == [f"<@{PRIMARY}>"]
    top = slack.messages(CHANNEL)
    assert len(top) == 1 and len(dms(slack)) == 1
    thread = slack.thread(CHANNEL, top[0].ts)
    assert len(thread) == 1 and "Also reported by" in thread[0].text
    incidents = IncidentStore(ctx.redis, ctx.keys).open_incidents()
    assert len(incidents) == 1 and incidents[0].reports == 2
    rendered = metrics.render(ctx.redis, ctx.keys)
    assert 'reewatch_pages_total{target="primary"} 1' in rendered
    assert 'reewatch_incidents{state="triggered"} 1' in rendered
