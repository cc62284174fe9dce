"""The Bolt app end to end in-process: signed requests in, Slack payloads out."""

from __future__ import annotations

import logging

import pytest
from slack_bolt import App

from bot.commands import REGISTRY
from core.blockkit import validate_message
from core.settings import Settings
from tests.fakes.slack_api import SlackStandIn
from tests.slackreq import ack_json, click, dispatch, drain, forged, slash

pytest_plugins = ("tests.slackreq",)  # the app, app_settings and slack fixtures


def test_help_lists_every_subcommand_ephemerally(app: App) -> None:
    reply = ack_json(dispatch(app, slash("help")))
    assert reply["response_type"] == "ephemeral"
    assert validate_message(reply["text"], reply.get("blocks")) == []
    # The rendered mrkdwn of the sections (not the repr of the blocks): each usage line with its help under it.
    shown = "\n".join(b["text"]["text"] for b in reply["blocks"] if b["type"] == "section")
    for entry in REGISTRY.values():
        assert f"/ree {entry.usage}" in reply["text"].splitlines()
        admin = " _(admins)_" if entry.admin else ""
        assert entry.help and f"`/ree {entry.usage}`{admin}\n      {entry.help}" in shown


def test_no_argument_is_help(app: App) -> None:
    assert ack_json(dispatch(app, slash("")))["text"].startswith("reewatch commands:")


def test_unknown_subcommand_gets_a_suggestion_and_the_help_pointer(app: App) -> None:
    reply = ack_json(dispatch(app, slash("hlep")))
    assert "I don't know `hlep`" in reply["text"]
    assert "Did you mean `/ree help`?" in reply["text"]
    assert "Traceback" not in reply["text"]


def test_forged_and_stale_signatures_are_refused(app: App) -> None:
    assert dispatch(app, forged(slash("help"))).status == 401
    assert dispatch(app, slash("help", stale=True)).status == 401
    assert dispatch(app, slash("help")).status == 200


def test_configured_command_name_is_the_one_answered(app_settings) -> None:  # type: ignore[no-untyped-def]
    from bot.app import create_app

    other = create_app(app_settings.model_copy(update={"command": "/rare"}))
    assert ack_json(dispatch(other, slash("help", command="/rare")))["text"].startswith("reewatch commands:")
    assert dispatch(other, slash("help", command="/ree")).status == 404


def test_retried_event_delivery_acts_once(app: App, slack: SlackStandIn) -> None:
    from tests.slackreq import home_opened

    assert dispatch(app, home_opened("U0USER", event_id="Ev1")).status == 200
    retry = dispatch(app, home_opened("U0USER", event_id="Ev1", retry_num=1))
    assert retry.status == 200
    assert retry.headers.get("x-slack-no-retry") == ["1"]
    assert dispatch(app, home_opened("U0USER", event_id="Ev2")).status == 200
    drain(app)
    assert [c.params["user_id"] for c in slack.calls_to("views.publish")] == ["U0USER", "U0USER"]


def test_command_latency_reaches_the_shared_histogram(app_settings) -> None:  # type: ignore[no-untyped-def]
    from bot.app import create_app
    from bot.deps import Deps
    from core import metrics

    deps = Deps(app_settings)
    app = create_app(app_settings, deps=deps)
    for text in ("help", "help", "no-such-thing"):
        dispatch(app, slash(text))
    deps.timer.flush()
    text = metrics.render(deps.redis, deps.keys)
    assert 'reewatch_command_latency_seconds_count{command="help"} 2' in text
    assert 'reewatch_command_latency_seconds_count{command="unknown"} 1' in text


def test_manifest_matches_the_app(app: App) -> None:
    from pathlib import Path

    import yaml

    manifest = yaml.safe_load(Path("deploy/slack-manifest.yaml").read_text(encoding="utf-8"))
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/ree" and command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["event_subscriptions"]["bot_events"] == ["app_home_opened"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    assert command["should_escape"] is True  # `/ree oncall override @maria 4h` arrives as <@U…|maria>
    # What the code calls: posts, delivery's reconciliation by history, App Home's users.conversations,
    # on-call DMs and the on-call user group.
    assert {"commands", "chat:write", "channels:history", "groups:history", "channels:read", "groups:read",
            "im:write", "usergroups:write"} <= set(manifest["oauth_config"]["scopes"]["bot"])


def test_open_article_button_is_acked(app: App) -> None:
    from core.blocks import OPEN_LINK_ACTION

    resp = dispatch(app, click(OPEN_LINK_ACTION, "", ephemeral=False))
    assert resp.status == 200  # unacked, Bolt would answer 404 and Slack show the user a warning
    assert dispatch(app, forged(click(OPEN_LINK_ACTION, "", ephemeral=False))).status == 401


def test_no_token_unused_warning_with_slack_bot_token_in_the_environment(
        app_settings: Settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from bot.app import create_app

    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")  # as in production: Bolt reads it by itself
    with caplog.at_level(logging.WARNING):
        create_app(app_settings)
    assert [r.getMessage() for r in caplog.records if "token" in r.getMessage()] == []
