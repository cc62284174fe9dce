"""The Slack stand-in answers slack_sdk's real WebClient the way slack.com does."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from tests.conftest import TEST_BOT_TOKEN
from tests.fakes.slack_api import Call, SlackStandIn


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(channel_rate=1000.0, channel_burst=1000) as standin:
        yield standin


def client(slack: SlackStandIn, token: str = TEST_BOT_TOKEN) -> WebClient:
    return WebClient(token=token, base_url=slack.api_url, retry_handlers=[])


def test_auth_test_checks_the_bearer_token(slack: SlackStandIn) -> None:
    assert client(slack).auth_test()["user_id"]
    with pytest.raises(SlackApiError) as err:
        client(slack, "xoxb-wrong").auth_test()
    assert err.value.response["error"] == "invalid_auth"
    assert [c.error for c in slack.calls] == [None, "invalid_auth"]


def test_post_thread_update_and_queries(slack: SlackStandIn) -> None:
    web = client(slack)
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hello*"}}]
    first = web.chat_postMessage(channel="C1", text="hello", blocks=blocks, unfurl_links=False,
                                 metadata={"event_type": "t", "event_payload": {"k": "v"}})
    ts = first["ts"]
    assert len(ts.split(".")[1]) == 6 and float(ts) > 1_700_000_000
    reply = web.chat_postMessage(channel="C1", text="more", thread_ts=ts)
    web.chat_update(channel="C1", ts=ts, text="hello (edited)", blocks=blocks)

    top = slack.messages("C1")
    assert [m.text for m in top] == ["hello (edited)"]
    assert top[0].edits == 1 and top[0].unfurl_links is False and top[0].metadata == {
        "event_type": "t", "event_payload": {"k": "v"}}
    assert [m.ts for m in slack.thread("C1", ts)] == [reply["ts"]]
    assert slack.channels() == ["C1"]
    history = web.conversations_history(channel="C1", oldest=str(float(ts) - 1), include_all_metadata=True)
    assert [m["ts"] for m in history["messages"]] == [ts]
    replies = web.conversations_replies(channel="C1", ts=ts)
    assert [m["text"] for m in replies["messages"]] == ["hello (edited)", "more"]
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="x", thread_ts="1.000001")
    assert err.value.response["error"] == "thread_not_found"


def test_block_kit_limits_are_enforced(slack: SlackStandIn) -> None:
    web = client(slack)
    too_many = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="x", blocks=too_many)
    assert err.value.response["error"] == "invalid_blocks"
    long_header = [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]
    with pytest.raises(SlackApiError):
        web.chat_postMessage(channel="C1", text="x", blocks=long_header)
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="x" * 40_001)
    assert err.value.response["error"] == "msg_too_long"
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="")
    assert err.value.response["error"] == "no_text"
    assert slack.messages("C1") == []


def test_channel_rate_limit_answers_429_with_retry_after() -> None:
    with SlackStandIn(channel_rate=0.5, channel_burst=2) as slack:
        web = client(slack)
        web.chat_postMessage(channel="C1", text="1")
        web.chat_postMessage(channel="C1", text="2")
        with pytest.raises(SlackApiError) as err:
            web.chat_postMessage(channel="C1", text="3")
        assert err.value.response.status_code == 429
        assert err.value.response["error"] == "ratelimited"
        assert int(err.value.response.headers["Retry-After"]) >= 1
        web.chat_postMessage(channel="C2", text="other channel has its own allowance")
        assert len(slack.rate_limited()) == 1 and len(slack.messages("C1")) == 2


def test_fail_next_outage_and_channel_errors(slack: SlackStandIn) -> None:
    web = client(slack)
    slack.fail_next("chat.postMessage", "http_500", times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            web.chat_postMessage(channel="C1", text="x")
        assert err.value.response.status_code == 500
    web.chat_postMessage(channel="C1", text="x")
    with slack.outage(503), pytest.raises(SlackApiError) as err:
        web.auth_test()
    assert err.value.response.status_code == 503
    slack.set_channel_error("C9", "is_archived")
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C9", text="x")
    assert err.value.response["error"] == "is_archived"


def test_other_methods(slack: SlackStandIn) -> None:
    web = client(slack)
    slack.add_user("U1", name="ana", real_name="Ana Ng", tz="Europe/Berlin")
    assert web.users_info(user="U1")["user"]["tz"] == "Europe/Berlin"
    dm = web.conversations_open(users="U1")["channel"]["id"]
    assert dm.startswith("D") and dm == web.conversations_open(users=["U1"])["channel"]["id"]
    web.usergroups_users_update(usergroup="S1", users=["U1", "U2"])
    assert slack.usergroups == {"S1": ["U1", "U2"]}
    web.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert slack.ephemerals[0]["user"] == "U1"
    view = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "home"}}]}
    web.views_publish(user_id="U1", view=view)
    assert slack.home_views["U1"]["blocks"] == view["blocks"]
    with pytest.raises(SlackApiError):
        web.views_publish(user_id="U1", view={"type": "home", "blocks": view["blocks"] * 101})


def test_response_url_and_listeners_and_threads(slack: SlackStandIn) -> None:
    seen: list[Call] = []
    slack.on_call(seen.append)
    result = WebhookClient(slack.response_url("r1")).send(text="done", response_type="ephemeral")
    assert result.status_code == 200 and result.body == "ok"
    assert slack.responses["r1"] == [{"text": "done", "response_type": "ephemeral"}]

    def post(n: int) -> None:
        client(slack).chat_postMessage(channel="C1", text=str(n))

    workers = [threading.Thread(target=post, args=(n,)) for n in range(20)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    ts = [m.ts for m in slack.messages("C1")]
    assert len(set(ts)) == 20 and ts == sorted(ts, key=float)
    assert [c.method for c in seen].count("chat.postMessage") == 20 and seen[0].method == "respond"
    assert set(slack.snapshot()["channels"]) == {"C1"}
