"""The Bolt app end to end in-process: signed requests in, Slack payloads out."""

from __future__ import annotations

from slack_bolt import App

from bot.commands import REGISTRY
from core.blockkit import validate_message
from tests.fakes.slack_api import SlackStandIn
from tests.slackreq import ack_json, dispatch, drain, forged, slash

pytest_plugins = ("tests.slackreq",)  # the app, app_settings and slack fixtures


def test_help_lists_every_subcommand_ephemerally(app: App) -> None:
    reply = ack_json(dispatch(app, slash("help")))
    assert reply["response_type"] == "ephemeral"
    assert validate_message(reply["text"], reply.get("blocks")) == []
    shown = "\n".join(b["text"]["text"] for b in reply["blocks"] if b["type"] == "section")
    for entry in REGISTRY.values():
        assert f"/ree {entry.usage}" in reply["text"]
        assert entry.help and entry.help in shown


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
    assert {"commands", "chat:write"} <= set(manifest["oauth_config"]["scopes"]["bot"])
