"""SlackOut against the Slack stand-in and the real Redis: pacing, 429s, retries, final errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis as redis_lib
from pydantic import SecretStr

from core import metrics
from core.errors import SlackDeliveryError
from core.keys import Keys
from core.settings import Settings
from tests.fakes.slack_api import SlackStandIn
from workers.context import WorkerContext
from workers.slack_out import SlackOut, SlackUnavailable


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(channel_rate=1000.0, channel_burst=1000) as standin:
        yield standin


def out_for(settings: Settings, slack: SlackStandIn, **overrides: object) -> SlackOut:
    s = settings.model_copy(update={"slack_api_url": slack.api_url, **overrides})
    return SlackOut(WorkerContext(s), backoff=0.01)


def counter(redis: redis_lib.Redis, keys: Keys, name: str, field: str = "") -> int:
    return int(redis.hget(keys.metrics(name), field) or 0)


def test_post_update_dm_usergroup(settings: Settings, slack: SlackStandIn, redis: redis_lib.Redis,
                                  keys: Keys) -> None:
    out = out_for(settings, slack)
    ts = out.post("C1", "hello", [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}],
                  metadata={"event_type": "reewatch_delivery", "event_payload": {"key": "k1"}})
    reply = out.post("C1", "reply", thread_ts=ts)
    out.update("C1", ts, "hello again", [{"type": "section", "text": {"type": "mrkdwn", "text": "again"}}])
    msg = slack.message("C1", ts)
    assert msg is not None and msg.text == "hello again" and msg.edits == 1
    assert msg.unfurl_links is False and msg.unfurl_media is False
    assert [m.ts for m in slack.thread("C1", ts)] == [reply]
    assert out.history("C1", oldest=float(ts) - 1)[0]["metadata"]["event_payload"] == {"key": "k1"}
    assert [m["ts"] for m in out.replies("C1", ts)] == [ts, reply]
    assert out.open_dm("U1").startswith("D")
    out.usergroup_update("S1", ["U1", "U2"])
    assert slack.usergroups["S1"] == ["U1", "U2"]
    assert counter(redis, keys, "reewatch_posts_total", 'outcome="posted"') == 2
    assert counter(redis, keys, "reewatch_posts_total", 'outcome="updated"') == 1


def test_429_retry_after_is_honoured(settings: Settings, slack: SlackStandIn, redis: redis_lib.Redis,
                                     keys: Keys) -> None:
    slept: list[float] = []
    out = out_for(settings, slack)
    out._sleep = slept.append
    slack.fail_next("chat.postMessage", "ratelimited", times=2)
    out.post("C1", "after two 429s")
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [429, 429, 200]
    assert slept == [1.0, 1.0]  # the stand-in's Retry-After
    assert counter(redis, keys, "reewatch_slack_ratelimited_total") == 2
    assert [m.text for m in slack.messages("C1")] == ["after two 429s"]


def test_server_errors_retry_then_give_up(settings: Settings, slack: SlackStandIn) -> None:
    out = out_for(settings, slack)
    slack.fail_next("chat.postMessage", "http_503", times=2)
    out.post("C1", "third time lucky")
    assert [c.status for c in slack.calls_to("chat.postMessage")] == [503, 503, 200]
    with slack.outage(500), pytest.raises(SlackUnavailable):
        out.post("C1", "never")
    assert len(slack.calls_to("chat.postMessage")) == 3 + out.attempts


def test_connection_errors_are_retried_then_unavailable(settings: Settings) -> None:
    s = settings.model_copy(update={"slack_api_url": "http://127.0.0.1:9/api/"})
    with pytest.raises(SlackUnavailable) as err:
        SlackOut(WorkerContext(s), backoff=0.001).post("C1", "x")
    assert err.value.reason.startswith("connection")


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
def test_final_errors_raise_without_retrying(settings: Settings, slack: SlackStandIn, error: str) -> None:
    slack.set_channel_error("C9", error)
    with pytest.raises(SlackDeliveryError) as err:
        out_for(settings, slack).post("C9", "x")
    assert err.value.error == error
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_bad_token_is_final(settings: Settings, slack: SlackStandIn) -> None:
    with pytest.raises(SlackDeliveryError) as err:
        out_for(settings, slack, slack_bot_token=SecretStr("xoxb-revoked")).post("C1", "x")
    assert err.value.error == "invalid_auth"


def test_pacing_is_shared_between_clients(settings: Settings, redis: redis_lib.Redis, keys: Keys) -> None:
    """Four independent clients (own Redis connections) posting to one channel stay within its allowance.

    The stand-in allows one message more in a burst than the clients use, which absorbs loopback
    jitter; without shared pacing 4 x 10 messages at once would far exceed a burst of 4.
    """
    with SlackStandIn(channel_rate=25.0, channel_burst=4) as slack:
        outs = [out_for(settings, slack, slack_channel_rate=25.0, slack_channel_burst=3) for _ in range(4)]

        def send(out: SlackOut, n: int) -> None:
            for i in range(10):
                out.post("C1", f"{n}-{i}")

        threads = [threading.Thread(target=send, args=(out, n)) for n, out in enumerate(outs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(slack.messages("C1")) == 40
        assert slack.rate_limited() == []
        assert counter(redis, keys, "reewatch_slack_ratelimited_total") == 0


def test_faster_client_meets_429s_and_still_delivers(settings: Settings) -> None:
    with SlackStandIn(channel_rate=20.0, channel_burst=1) as slack:
        out = out_for(settings, slack, slack_channel_rate=100.0, slack_channel_burst=5)
        for i in range(6):
            out.post("C1", str(i))
        assert [m.text for m in slack.messages("C1")] == [str(i) for i in range(6)]
        assert slack.rate_limited(), "a client faster than the channel allowance must meet 429s"


def test_metrics_names_exist() -> None:
    assert "reewatch_posts_total" in metrics.CATALOGUE
