"""`reewatch deadletters list|replay` through the real CLI entry point."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.cli import main
from core.deadletters import DeadLetterStore
from core.settings import Settings
from core.subscriptions import SubscriptionStore
from tests.conftest import TEST_BOT_TOKEN
from tests.fakes.slack_api import SlackStandIn
from tests.test_deliver import make_event, route
from workers import context


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(channel_rate=200.0, channel_burst=50) as standin:
        yield standin


@pytest.fixture
def settings(settings: Settings, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in {"REDIS_URL": settings.redis_url, "REEWATCH_REDIS_PREFIX": settings.redis_prefix,
                        "SLACK_API_URL": slack.api_url, "SLACK_BOT_TOKEN": TEST_BOT_TOKEN,
                        "REEWATCH_FEEDS_FILE": str(settings.feeds_file), "REEWATCH_LOG_LEVEL": "WARNING"}.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.chdir(settings.feeds_file.parent)  # no stray .env
    return settings.model_copy(update={"slack_api_url": slack.api_url})


def test_list_and_replay(settings: Settings, slack: SlackStandIn, burst_worker: Callable[[], bool],
                         capsys: pytest.CaptureFixture[str]) -> None:
    ctx = context.install(settings)
    SubscriptionStore(ctx.redis, ctx.keys).add("C7", "all")
    slack.set_channel_error("C7", "is_archived")
    event, cluster = make_event(ctx, "Vietnam raises rare earth export tax")
    route(ctx, event, cluster)
    burst_worker()
    [letter] = DeadLetterStore(ctx.redis, ctx.keys).list()

    assert main(["deadletters", "list"]) == 0
    out = capsys.readouterr().out
    assert letter.id in out and "is_archived" in out and "C7" in out

    assert main(["deadletters", "replay"]) == 2
    assert "--all" in capsys.readouterr().err
    assert main(["deadletters", "replay", "nosuch"]) == 2

    slack.set_channel_error("C7", None)
    assert main(["deadletters", "replay", letter.id, "--inline"]) == 0
    assert f"{letter.id}  event {event.id}: posted" in capsys.readouterr().out
    assert len(slack.messages("C7")) == 1
    assert main(["deadletters", "list"]) == 0
    assert "no dead letters" in capsys.readouterr().out
