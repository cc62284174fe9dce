"""App Home and the Share button through the real app, with the Slack stand-in."""

from __future__ import annotations

from pathlib import Path

from slack_bolt import App

from bot.deps import Deps
from core.blockkit import validate_message, validate_view
from core.settings import Settings
from tests.fakes.slack_api import SlackStandIn
from tests.slackreq import ack_json, click, dispatch, drain, home_opened, slash

ONCALL = """
watchlist: [Dy, Ga]
oncall:
  channel: "#ree-oncall"
  rotation: {users: [U0ALICE, U0BOB], handoff_day: monday, handoff_time: "09:00", timezone: UTC}
  steps: [{after: 0, notify: primary}]
"""

pytest_plugins = ("tests.slackreq",)  # the app, app_settings and slack fixtures


def test_app_home_shows_board_oncall_and_incidents(app: App, slack: SlackStandIn, app_settings: Settings) -> None:
    Path(app_settings.feeds_file).write_text("feeds: []\n" + ONCALL, encoding="utf-8")
    assert dispatch(app, home_opened("U0USER", event_id="EvHome")).status == 200
    drain(app)
    (call,) = slack.calls_to("views.publish")
    assert call.ok, call.response
    view = call.params["view"]
    view = view if isinstance(view, dict) else __import__("json").loads(view)
    assert validate_view(view) == []
    body = str(view["blocks"])
    assert "*Dy* Dysprosium" in body and "*Ga* Gallium" in body
    assert "<@U0ALICE>" in body or "<@U0BOB>" in body
    assert "No open incidents." in body


def test_app_home_shows_the_users_channels_subscriptions(app: App, slack: SlackStandIn,
                                                          app_settings: Settings) -> None:
    deps = Deps(app_settings)
    deps.subscriptions.add("C0MINE", "element", ["Dy"], min_severity="high")
    deps.subscriptions.add("C0OTHER", "keyword", ["not my channel"])
    slack.add_channel("C0MINE", "C0OTHER")
    slack.set_member_channels("U0USER", ["C0MINE", "C0EMPTY"])
    assert dispatch(app, home_opened("U0USER", event_id="EvSubs")).status == 200
    drain(app)
    (conversations,) = slack.calls_to("users.conversations")
    assert conversations.ok and conversations.params["user"] == "U0USER"
    view = slack.home_views["U0USER"]
    assert validate_view(view) == []
    texts = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section"]
    assert "<#C0MINE> 1: elements Dy · min high · as it happens" in texts
    assert not any("C0OTHER" in t or "not my channel" in t for t in texts)


def test_share_button_reposts_the_lookup_in_channel(app: App, slack: SlackStandIn) -> None:
    lookup = ack_json(dispatch(app, slash("controls Ga")))
    button = lookup["blocks"][-1]["elements"][0]
    assert button["text"]["text"] == "Share in channel"
    resp = dispatch(app, click(button["action_id"], button["value"], user_id="U0SHARER",
                               response_url=slack.response_url("share1")))
    assert resp.status == 200
    drain(app)
    (posted,) = slack.calls_to("respond")
    params = posted.params
    assert params["response_type"] == "in_channel" and params["replace_original"] is False
    assert params["text"] == lookup["text"]
    assert "Shared by <@U0SHARER>" in str(params["blocks"])
    assert "reewatch_share" not in str(params["blocks"])  # no button on the shared copy
    assert validate_message(params["text"], params["blocks"]) == []


def test_share_of_a_mutation_is_not_replayed(app: App, slack: SlackStandIn, app_settings: Settings) -> None:
    """A crafted Share click carrying a mutation is not run, even for an admin."""
    for value in ("set Dy critical forged", "subscribe all", "feeds remove wire"):
        dispatch(app, click("reewatch_share", value, user_id="U0ADMIN", response_url=slack.response_url("s2")))
    drain(app)
    posted = slack.calls_to("respond")
    assert len(posted) == 3
    for call in posted:
        assert "Only lookups can be shared" in call.params["text"] and call.params["response_type"] == "ephemeral"
    deps = Deps(app_settings)
    assert deps.status.get("Dy").override is None and deps.subscriptions.for_channel("C0CHANNEL") == []
