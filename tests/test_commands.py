"""Every subcommand through the real Bolt app: signed slash commands in, validated Block Kit out."""

from __future__ import annotations

import time

import pytest
import redis as redis_lib
from slack_bolt import App

from bot.deps import Deps
from core.blockkit import validate_message
from core.keys import Keys
from core.models import Event
from core.settings import Settings
from tests.fakes.feed_server import FeedServer, Reply, rss
from tests.fakes.slack_api import SlackStandIn
from tests.slackreq import ack_json, dispatch, drain, slash

ADMIN = "U0ADMIN"

pytest_plugins = ("tests.slackreq",)  # the app, app_settings and slack fixtures


def ask(app: App, text: str, **fields: str) -> dict:  # type: ignore[type-arg]
    reply = ack_json(dispatch(app, slash(text, **fields)))
    assert validate_message(reply.get("text"), reply.get("blocks")) == [], reply
    return reply


def shares(reply: dict) -> bool:  # type: ignore[type-arg]
    return any(b.get("block_id") == "reewatch_share" for b in reply.get("blocks", []))


@pytest.fixture
def seeded(app_settings: Settings) -> Deps:
    deps = Deps(app_settings)
    now = time.time()
    for i, (sev, els, title) in enumerate([
        ("critical", ["Dy", "Tb"], "China halts dysprosium & terbium exports <!channel>"),
        ("high", ["Dy"], "Dysprosium licence delays hit magnet makers"),
        ("info", ["Nd"], "Neodymium prices steady"),
    ]):
        deps.events.add(Event(id=f"e{i}", feed_id="wire", title=title, link=f"https://news.example/{i}",
                              published=now - 3600 * (i + 1), fetched_at=now, source="Wire", elements=els,
                              severity=sev, cluster_id=f"c{i}"), now=now)
    deps.status.recompute(["Dy", "Tb", "Nd"], now=now)
    return deps


@pytest.mark.parametrize("name", ["Dy", "dy", "dysprosium", "DYSPROSIUM", "镝"])
def test_status_card_by_symbol_english_or_chinese_name(app: App, seeded: Deps, name: str) -> None:
    reply = ask(app, f"status {name}")
    assert reply["response_type"] == "ephemeral" and shares(reply)
    body = str(reply["blocks"])
    assert "Dysprosium (Dy) · 镝" in body
    assert "Export controls" in body and "Uses and supply" in body and "USGS" in body
    assert "China halts dysprosium &amp; terbium exports &lt;!channel&gt;" in body  # feed text escaped
    assert "<!channel>" not in body


def test_status_near_miss_suggests_the_element(app: App) -> None:
    reply = ask(app, "status dysprosim")
    assert "Did you mean `dysprosium`?" in reply["text"]
    assert "Usage: `/ree status [ELEMENT]`" in reply["text"]


def test_status_unknown_element_gets_usage_not_traceback(app: App) -> None:
    reply = ask(app, "status unobtainium")
    assert "I don't know the element `unobtainium`" in reply["text"] and "Traceback" not in reply["text"]


def test_status_without_argument_is_the_watchlist_board(app: App, seeded: Deps, app_settings: Settings) -> None:
    app_settings.feeds_file.write_text("feeds: []\nwatchlist: [Dy, Nd]\n", encoding="utf-8")
    reply = ask(app, "status")
    body = str(reply["blocks"])
    assert "*Dy* Dysprosium" in body and "*Nd* Neodymium" in body and "Tb" not in body


def test_events_one_line_per_story_most_severe_first(app: App, seeded: Deps) -> None:
    reply = ask(app, "events Dy 7d")
    body = reply["blocks"][1]["text"]["text"]
    lines = body.split("\n")
    assert len(lines) == 2 and lines[0].startswith("🔴 *critical*") and "licence delays" in lines[1]
    keyword = ask(app, 'events "prices" 24h')
    assert "Neodymium prices steady" in str(keyword["blocks"])
    bad = ask(app, "events Dy 3y")["text"]
    assert "`3y` is not a window" in bad and "Usage: `/ree events" in bad


def test_events_window_is_validated(app: App) -> None:
    assert "The window must be between" in ask(app, "events Dy 90d")["text"]


def test_controls_show_state_and_review_warnings(app: App) -> None:
    reply = ask(app, "controls Dy")
    body = str(reply["blocks"])
    assert "in force" in body and "needs review" in body
    assert shares(reply)


def test_set_by_admin_overrides_and_history_records_it(app: App, seeded: Deps) -> None:
    reply = ask(app, "set Dy normal mine flooded story was retracted", user_id=ADMIN)
    assert reply["response_type"] == "in_channel" and "to *normal*" in reply["text"]
    assert seeded.status.get("Dy").level.value == "normal"
    history = ask(app, "history dysprosium")
    assert "retracted" in str(history["blocks"]) and f"<@{ADMIN}>" in str(history["blocks"])
    assert "is not a level" in ask(app, "set Dy purple why", user_id=ADMIN)["text"]


def test_non_admin_mutations_are_refused_politely(app: App, seeded: Deps, feed_server: FeedServer) -> None:
    for text in ("set Dy critical nope", f"feeds add {feed_server.url('/x.xml')}", "feeds remove wire"):
        reply = ask(app, text, user_id="U0NOBODY")
        assert reply["text"].startswith("Sorry, `/ree") and "only reewatch admins" in reply["text"]
        assert f"<@{ADMIN}>" in reply["text"]
    assert seeded.status.get("Dy").override is None


def test_subscribe_list_unsubscribe(app: App, seeded: Deps) -> None:
    made = ask(app, 'subscribe Dy 镝 Tb "magnet plant" min=high digest=9:00', channel_id="C0SUBS")
    assert made["response_type"] == "in_channel"
    listed = ask(app, "subscriptions", channel_id="C0SUBS")
    body = str(listed["blocks"])
    assert "elements Dy, Tb · min high · digest 09:00 UTC" in body and '"magnet plant"' in body
    seeded.subscriptions.mark_broken("C0SUBS", "not_in_channel")
    assert "BROKEN: not_in_channel" in str(ask(app, "subscriptions", channel_id="C0SUBS")["blocks"])
    sub_id = seeded.subscriptions.for_channel("C0SUBS")[0].id
    assert "removed subscription" in ask(app, f"unsubscribe {sub_id}", channel_id="C0SUBS")["text"]
    assert "has no subscription" in ask(app, "unsubscribe 999", channel_id="C0SUBS")["text"]
    assert "Did you mean `dysprosium`?" in ask(app, "subscribe dysprosim", channel_id="C0SUBS")["text"]
    assert "every severity" in str(ask(app, "subscribe all", channel_id="C0ALL")["text"])


def test_feeds_list_add_remove(app: App, slack: SlackStandIn, feed_server: FeedServer, redis: redis_lib.Redis,
                               keys: Keys) -> None:
    url = feed_server.route("/ree.xml", Reply(body=rss([{"title": "Dy story", "link": "https://x.example/1"}],
                                                       title="Rare Earth Wire")))
    reply = ask(app, f"feeds add {url} tier=wire", user_id=ADMIN, response_url=slack.response_url("add1"))
    assert "Checking" in reply["text"]
    drain(app)
    follow = slack.calls_to("respond")[-1].params
    assert "Added feed `rare-earth-wire`" in follow["text"], follow
    listed = ask(app, "feeds")
    assert "rare-earth-wire" in str(listed["blocks"]) and shares(listed)
    assert "removed" in ask(app, "feeds remove rare-earth-wire", user_id=ADMIN)["text"]
    assert "No feed has the id" in ask(app, "feeds remove rare-earth-wire", user_id=ADMIN)["text"]


def test_feeds_add_refuses_a_non_feed(app: App, slack: SlackStandIn, feed_server: FeedServer) -> None:
    ask(app, f"feeds add {feed_server.url('/missing.xml')}", user_id=ADMIN, response_url=slack.response_url("a2"))
    drain(app)
    assert slack.calls_to("respond")[-1].params["text"].startswith(":x: Not added")
    assert "Usage" in ask(app, "feeds add ftp://example.com/feed", user_id=ADMIN)["text"]
