"""Escalation end to end: real Redis, real RQ workers (`reewatch worker` processes and burst workers), the
Slack stand-in, and signed requests through the real Bolt app. Steps wait 2-3 s, so a test takes seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis as redis_lib
from rq.job import Job

from core.incident_blocks import ACK_ACTION, RESOLVE_ACTION
from core.incidents import IncidentStore, State
from core.keys import Keys
from core.settings import Settings
from tests.fakes.slack_api import SlackStandIn
from tests.oncall_kit import (
    ADMIN,
    CHANNEL,
    PRIMARY,
    SECONDARY,
    THIRD,
    channel_posts,
    dms,
    kill,
    pages,
    policy_yaml,
    role,
    story,
    wait_for,
)
from tests.slackreq import ack_json, click, dispatch, slash
from workers.context import WorkerContext, install
from workers.enqueue import queue
from workers.escalate import consider
from workers.oncall_policy import step_job_id
from workers.runner import make_worker

THREE_STEPS = """
- notify: primary
- after: 2s
  notify: secondary
- after: 2s
  notify: here
"""


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn() as standin:
        yield standin


@pytest.fixture
def oc(settings: Settings, slack: SlackStandIn) -> Settings:
    """Settings pointed at the stand-in, with ADMIN as the admin; the test writes its policy to feeds_file."""
    return settings.model_copy(update={"slack_api_url": slack.api_url, "admins": [ADMIN]})


def use(oc: Settings, text: str) -> WorkerContext:
    oc.feeds_file.write_text(text, encoding="utf-8")
    return install(oc)


def burst(oc: Settings) -> None:
    make_worker(oc).work(burst=True, with_scheduler=True, logging_level="WARNING")


def fast_forward(ctx: WorkerContext) -> int:
    """Stand in for the clock: move every scheduled escalation job to the queue now."""
    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    registry = q.scheduled_job_registry
    moved = 0
    for job_id in registry.get_job_ids():
        job = Job.fetch(job_id, connection=ctx.rq_redis)
        registry.remove(job)
        q.enqueue_job(job)
        moved += 1
    return moved


def worker_ready(ctx: WorkerContext) -> None:
    """Wait until a real worker runs jobs from the escalate queue (process start-up varies with load)."""
    probe = queue(ctx.keys, "escalate", ctx.rq_redis).enqueue("builtins.len", [1], result_ttl=60)
    wait_for(lambda: probe.get_status(refresh=True) == "finished", what="the worker to start", timeout=90)


def escalation_idle(ctx: WorkerContext) -> bool:
    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    steps = [j for j in q.scheduled_job_registry.get_job_ids() if "-step-" in j]
    return q.count == 0 and not steps and q.started_job_registry.count == 0


def test_no_ack_pages_primary_then_secondary_then_channel_then_repeats(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml(THREE_STEPS, repeat=1, repeat_after="2s"))
    event, cluster = story()
    with role(oc, "worker"):
        worker_ready(ctx)
        opened = time.time()
        incident_id = consider(ctx, event, cluster, True)
        assert incident_id is not None
        wait_for(lambda: len(pages(slack)) >= 6, what="two rounds of three pages", timeout=60)
        wait_for(lambda: escalation_idle(ctx), what="the escalation to finish")
    here = "<!here>"
    assert pages(slack) == [f"<@{PRIMARY}>", f"<@{SECONDARY}>", here, f"<@{PRIMARY}>", f"<@{SECONDARY}>", here]
    top = [m for m in channel_posts(slack) if m.thread_ts is None]
    assert len(top) == 1, "later steps re-mention in the thread, they do not post new pages"
    assert "&lt;!channel&gt;" in top[0].text and "<!channel>" not in top[0].text  # feed text is inert
    replies = slack.thread(CHANNEL, top[0].ts)
    assert len(replies) == 5
    # No step jumped its turn: each went out no earlier than its due time (RQ schedules in whole
    # seconds, so up to 1 s early); a lower bound, which a busy machine cannot break.
    sent = [c.at for c in slack.calls_to("chat.postMessage") if c.params.get("channel") == CHANNEL]
    assert all(at >= opened + due - 1.0 for at, due in zip(sent, (0, 2, 4, 6, 8, 10), strict=True))
    dm_texts = [m.text for m in dms(slack)]
    assert len(dm_texts) == 4 and all(f"incident #{incident_id}" in t for t in dm_texts)  # people, not @here
    store = IncidentStore(ctx.redis, ctx.keys)
    incident = store.get(incident_id)
    assert incident is not None and incident.state is State.TRIGGERED and incident.pages == 6
    assert [e.kind for e in store.audit(incident_id)].count("page") == 6


def test_ack_button_stops_escalation_and_updates_the_page(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml(THREE_STEPS))
    from bot.app import create_app

    app = create_app(oc)
    event, cluster = story()
    with role(oc, "worker"):
        worker_ready(ctx)
        opened = time.time()
        incident_id = consider(ctx, event, cluster, True)
        assert incident_id is not None
        page = wait_for(lambda: list(slack.messages(CHANNEL)), what="the first page", timeout=60)[0]
        actions = next(b for b in page.blocks if b["type"] == "actions")
        assert [e["action_id"] for e in actions["elements"]] == [ACK_ACTION, RESOLVE_ACTION]
        resp = dispatch(app, click(ACK_ACTION, incident_id, user_id=PRIMARY, channel_id=CHANNEL,
                                   message_ts=page.ts, ephemeral=False, response_url=slack.response_url("a1")))
        assert resp.status == 200
        updated = wait_for(lambda: (m := slack.message(CHANNEL, page.ts)) and m.edits and
                           "Acknowledged by" in str(m.blocks) and m, what="the page updated in place")
        assert f"Acknowledged by <@{PRIMARY}>" in str(updated.blocks)
        acts = [b for b in updated.blocks if b["type"] == "actions"]
        assert [e["action_id"] for e in acts[0]["elements"]] == [RESOLVE_ACTION]  # no second Acknowledge
        wait_for(lambda: any(":eyes:" in r.text for r in slack.thread(CHANNEL, page.ts)), what="the ack in the thread")
        # Let both later steps come due (2 s and 4 s after opening) and pass: neither may page.
        time.sleep(max(0.0, opened + 6.5 - time.time()))
        wait_for(lambda: escalation_idle(ctx), what="the escalation to go quiet")
    assert pages(slack) == [f"<@{PRIMARY}>"]
    # A second click changes nothing and says so, only to the clicker.
    again = dispatch(app, click(ACK_ACTION, incident_id, user_id=SECONDARY, channel_id=CHANNEL, message_ts=page.ts,
                                ephemeral=False, response_url=slack.response_url("a2")))
    assert again.status == 200
    told = wait_for(lambda: slack.responses.get("a2"), what="the ephemeral answer")
    assert "already acknowledged" in told[0]["text"] and told[0]["response_type"] == "ephemeral"


def test_an_ack_that_lands_before_a_step_runs_stops_it(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml(THREE_STEPS))
    event, cluster = story()
    incident_id = consider(ctx, event, cluster, True)
    assert incident_id is not None
    assert IncidentStore(ctx.redis, ctx.keys).acknowledge(incident_id, PRIMARY).changed
    assert fast_forward(ctx) == 2
    burst(oc)
    assert slack.messages(CHANNEL) == [] and dms(slack) == []
    results = [Job.fetch(step_job_id(ctx, incident_id, s, 0), connection=ctx.rq_redis).return_value()
               for s in range(3)]
    assert results == ["stopped", "stopped", "stopped"]


def test_a_duplicate_story_does_not_page_twice(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml("- notify: primary"))
    first, cluster = story(1)
    second, _ = story(2, source="Caixin")
    ids = {consider(ctx, first, cluster, True), consider(ctx, second, cluster, False),
           consider(ctx, first, cluster, True)}  # the last: a retried ingest job
    assert len(ids) == 1 and None not in ids
    burst(oc)
    assert pages(slack) == [f"<@{PRIMARY}>"]
    top = slack.messages(CHANNEL)
    assert len(top) == 1
    lines = [r.text for r in slack.thread(CHANNEL, top[0].ts)]
    assert len([t for t in lines if "Also reported by Caixin" in t]) == 1 and len(lines) == 1
    assert "2 reports" in str(slack.message(CHANNEL, top[0].ts).blocks)  # type: ignore[union-attr]
    assert len(dms(slack)) == 1


def test_a_worker_killed_between_steps_loses_no_step_and_doubles_none(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml("""
- notify: primary
- after: 3s
  notify: secondary
- after: 3s
  notify: here
"""))
    event, cluster = story()
    with role(oc, "scheduler"):
        with role(oc, "worker") as first_worker:
            worker_ready(ctx)
            opened = time.time()
            incident_id = consider(ctx, event, cluster, True)
            assert incident_id is not None
            step0 = Job.fetch(step_job_id(ctx, incident_id, 0, 0), connection=ctx.rq_redis)
            wait_for(lambda: step0.get_status(refresh=True) == "finished", what="the first step to finish", timeout=60)
            kill(first_worker)  # SIGKILL: worker, its RQ scheduler and any work horse, no goodbye
        assert pages(slack) == [f"<@{PRIMARY}>"]
        time.sleep(max(0.0, opened + 7.0 - time.time()))  # both later steps are now overdue
        assert pages(slack) == [f"<@{PRIMARY}>"], "nothing pages while no worker runs"
        with role(oc, "worker"):
            wait_for(lambda: len(pages(slack)) >= 3, what="the overdue steps after the restart", timeout=60)
            wait_for(lambda: escalation_idle(ctx), what="the escalation to finish")
    assert pages(slack) == [f"<@{PRIMARY}>", f"<@{SECONDARY}>", "<!here>"]
    assert IncidentStore(ctx.redis, ctx.keys).get(incident_id).pages == 3  # type: ignore[union-attr]


def test_an_override_changes_who_is_paged(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml("- notify: primary"))
    from bot.app import create_app

    app = create_app(oc)
    refused = ack_json(dispatch(app, slash(f"oncall override <@{THIRD}|third> 1h", user_id=SECONDARY)))
    assert "only reewatch admins" in refused["text"]
    before = ack_json(dispatch(app, slash("oncall", user_id=SECONDARY)))
    assert before["text"].startswith(f"On call now: <@{PRIMARY}>")
    done = ack_json(dispatch(app, slash(f"oncall override <@{THIRD}|third> 1h", user_id=ADMIN)))
    assert done["response_type"] == "in_channel" and f"<@{THIRD}> is on call until" in done["text"]
    now = ack_json(dispatch(app, slash("oncall", user_id=SECONDARY)))
    assert now["text"].startswith(f"On call now: <@{THIRD}>")
    bad = ack_json(dispatch(app, slash("oncall override @nobody soon", user_id=ADMIN)))
    assert "Usage:" in bad["text"]
    event, cluster = story()
    consider(ctx, event, cluster, True)
    burst(oc)
    assert pages(slack) == [f"<@{THIRD}>"]
    assert [c.params["users"] for c in slack.calls_to("conversations.open")] == [THIRD]


def test_quiet_hours_hold_a_non_critical_page_and_release_it_after(oc: Settings, slack: SlackStandIn,
                                                                   redis: redis_lib.Redis, keys: Keys) -> None:
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")
    ctx = use(oc, policy_yaml("- notify: primary", quiet=f"start: '{start}', end: '{end}', timezone: UTC"))
    held_event, held_cluster = story(1, cluster_id="high1", severity="high")
    incident_id = consider(ctx, held_event, held_cluster, True)
    assert incident_id is not None
    burst(oc)
    assert pages(slack) == [], "a non-critical page waits for the end of quiet hours"
    store = IncidentStore(ctx.redis, ctx.keys)
    incident = store.get(incident_id)
    expected_end = (now + timedelta(hours=1)).replace(second=0, microsecond=0)
    assert incident is not None and incident.held_until == expected_end.timestamp()
    registry = queue(ctx.keys, "escalate", ctx.rq_redis).scheduled_job_registry
    release_id = keys.job_id("inc", incident_id, "release")
    assert registry.get_scheduled_time(release_id) == expected_end
    # A critical story is paged at once, quiet hours or not.
    urgent, urgent_cluster = story(2, cluster_id="crit1", severity="critical")
    consider(ctx, urgent, urgent_cluster, True)
    burst(oc)
    assert pages(slack) == [f"<@{PRIMARY}>"]
    # Quiet hours end: the release job runs (moved forward in place of waiting an hour) and pages.
    assert fast_forward(ctx) == 1
    burst(oc)
    assert pages(slack) == [f"<@{PRIMARY}>", f"<@{PRIMARY}>"]
    assert [e.kind for e in store.audit(incident_id)] == ["opened", "hold", "release", "page"]


def test_a_critical_report_releases_a_held_incident_early(oc: Settings, slack: SlackStandIn) -> None:
    now = datetime.now(UTC)
    start, end = (now - timedelta(hours=1)).strftime("%H:%M"), (now + timedelta(hours=1)).strftime("%H:%M")
    ctx = use(oc, policy_yaml("- notify: primary", quiet=f"start: '{start}', end: '{end}', timezone: UTC"))
    first, cluster = story(1, severity="high")
    incident_id = consider(ctx, first, cluster, True)
    worse, _ = story(2, severity="critical", source="Xinhua")
    assert consider(ctx, worse, cluster, False) == incident_id
    burst(oc)
    assert pages(slack) == [f"<@{PRIMARY}>"]
    assert "a critical report arrived" in [e.text for e in IncidentStore(ctx.redis, ctx.keys).audit(str(incident_id))]


def test_commands_list_ack_and_resolve_incidents(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml(THREE_STEPS))
    from bot.app import create_app

    app = create_app(oc)
    assert ack_json(dispatch(app, slash("incidents")))["text"] == "No open incidents."
    event, cluster = story()
    incident_id = consider(ctx, event, cluster, True)
    burst(oc)
    listed = ack_json(dispatch(app, slash("incidents")))
    assert f"*#{incident_id}* critical · triggered" in listed["text"]
    acked = ack_json(dispatch(app, slash(f"ack {incident_id}", user_id=SECONDARY)))
    assert acked["text"] == f"Incident #{incident_id} acknowledged; escalation stopped."
    burst(oc)
    page = slack.messages(CHANNEL)[0]
    assert f"Acknowledged by <@{SECONDARY}>" in str(page.blocks)
    again = ack_json(dispatch(app, slash(f"ack #{incident_id}", user_id=PRIMARY)))
    assert "already acknowledged by" in again["text"]
    done = ack_json(dispatch(app, slash(f"resolve #{incident_id}", user_id=PRIMARY)))
    assert done["text"] == f"Incident #{incident_id} resolved."
    burst(oc)
    page = slack.messages(CHANNEL)[0]
    assert f"Resolved by <@{PRIMARY}>" in str(page.blocks)
    assert not [b for b in page.blocks if b["type"] == "actions"]
    assert ack_json(dispatch(app, slash("incidents")))["text"] == "No open incidents."
    assert "no incident #999" in ack_json(dispatch(app, slash("ack 999")))["text"]
    assert "Usage:" in ack_json(dispatch(app, slash("resolve")))["text"]
    assert fast_forward(ctx) == 0, "the acknowledged incident's later steps were dropped"
    assert pages(slack) == [f"<@{PRIMARY}>"]


def test_resolve_button_closes_the_incident(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml("- notify: primary"))
    from bot.app import create_app

    app = create_app(oc)
    event, cluster = story()
    incident_id = consider(ctx, event, cluster, True)
    assert incident_id is not None
    burst(oc)
    page = slack.messages(CHANNEL)[0]
    resp = dispatch(app, click(RESOLVE_ACTION, incident_id, user_id=THIRD, channel_id=CHANNEL, message_ts=page.ts,
                               ephemeral=False))
    assert resp.status == 200
    burst(oc)
    incident = IncidentStore(ctx.redis, ctx.keys).get(incident_id)
    assert incident is not None and (incident.state, incident.resolved_by) == (State.RESOLVED, THIRD)
    assert "Resolved by" in str(slack.message(CHANNEL, page.ts).blocks)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("policy", "event_kwargs"),
    [
        ({"trigger": "min_severity: critical"}, {"severity": "high"}),
        ({}, {"elements": ("Ce",)}),  # not on the watchlist
        ({"trigger": "min_severity: high, official_only: true"}, {"tier": "wire"}),
    ],
)
def test_events_outside_the_trigger_open_nothing(oc: Settings, slack: SlackStandIn, policy: dict[str, str],
                                                 event_kwargs: dict[str, object]) -> None:
    ctx = use(oc, policy_yaml("- notify: primary", **policy))
    event, cluster = story(**event_kwargs)  # type: ignore[arg-type]
    assert consider(ctx, event, cluster, True) is None
    assert IncidentStore(ctx.redis, ctx.keys).open_incidents() == []


def test_official_only_trigger_accepts_official_sources(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml("- notify: primary", trigger="min_severity: high, official_only: true"))
    event, cluster = story(tier="official")
    assert consider(ctx, event, cluster, True) is not None


def test_without_a_policy_nothing_happens(oc: Settings) -> None:
    ctx = use(oc, "feeds: []\n")
    event, cluster = story()
    assert consider(ctx, event, cluster, True) is None


def test_usergroup_follows_the_rotation(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml("- notify: usergroup:S0ONCALL", usergroup="S0ONCALL"))
    from workers.escalate import sync_usergroup

    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    q.enqueue(sync_usergroup)
    q.enqueue(sync_usergroup)
    burst(oc)
    assert slack.usergroups == {"S0ONCALL": [PRIMARY]}
    assert len(slack.calls_to("usergroups.users.update")) == 1  # unchanged rotation: no second call
    event, cluster = story()
    consider(ctx, event, cluster, True)
    burst(oc)
    assert pages(slack) == ["<!subteam^S0ONCALL>"] and dms(slack) == []


def test_sweep_moves_only_overdue_escalation_jobs_once(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml("- notify: primary"))
    from workers.escalate import sweep

    q = queue(ctx.keys, "escalate", ctx.rq_redis)
    q.enqueue_at(datetime.now(UTC) - timedelta(seconds=30), "builtins.len", [1], job_id=ctx.keys.job_id("late"))
    q.enqueue_at(datetime.now(UTC) + timedelta(hours=1), "builtins.len", [1], job_id=ctx.keys.job_id("early"))
    assert sweep() == 1
    assert sweep() == 0
    assert q.job_ids == [ctx.keys.job_id("late")]
    assert q.scheduled_job_registry.get_job_ids() == [ctx.keys.job_id("early")]


def test_a_broken_escalation_channel_still_pages_the_person_by_dm(oc: Settings, slack: SlackStandIn) -> None:
    ctx = use(oc, policy_yaml("- notify: primary\n- after: 1h\n  notify: here"))
    slack.set_channel_error(CHANNEL, "not_in_channel")
    event, cluster = story()
    incident_id = consider(ctx, event, cluster, True)
    assert incident_id is not None
    burst(oc)
    assert slack.messages(CHANNEL) == []
    [dm] = dms(slack)
    assert "refused the page (not_in_channel)" in dm.text and f"/ree ack {incident_id}" in dm.text
    assert [c.params["users"] for c in slack.calls_to("conversations.open")] == [PRIMARY]
    step = Job.fetch(step_job_id(ctx, incident_id, 0, 0), connection=ctx.rq_redis)
    assert step.return_value() == "channel_failed"  # not retried: a missing channel does not come back by itself
    assert len(slack.calls_to("chat.postMessage")) == 2  # the refused page and the DM, nothing more
    # The @here step cannot reach anyone in a broken channel: the primary hears of it directly.
    slack.set_channel_error(CHANNEL, None)
    slack.set_channel_error(CHANNEL, "channel_not_found")
    fast_forward(ctx)
    burst(oc)
    assert len(dms(slack)) == 2 and "channel_not_found" in dms(slack)[-1].text
    audit = IncidentStore(ctx.redis, ctx.keys).audit(incident_id)
    assert [e.kind for e in audit].count("page_failed") == 2
