"""IncidentStore on a real Redis: one incident per cluster, the lifecycle, page claims and their races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import redis as redis_lib

from core import metrics
from core.incidents import IncidentStore, State
from core.keys import Keys
from core.models import Event


def event(n: int = 1, *, source: str = "Reuters", severity: str = "critical") -> Event:
    return Event(id=f"e{n}", feed_id="wire", title=f"China halts dysprosium exports <!channel> {n}",
                 link=f"https://example.org/{n}", source=source, elements=["Dy"], severity=severity,
                 cluster_id="c1")


def test_one_incident_per_cluster_even_when_opened_concurrently(redis: redis_lib.Redis, keys: Keys) -> None:
    store = IncidentStore(redis, keys)
    barrier = threading.Barrier(8)

    def opener(n: int) -> tuple[str, bool]:
        barrier.wait()
        incident, new = IncidentStore(redis, keys).open(event(n), "c1", channel="#oncall")
        return incident.id, new

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(opener, range(8)))
    assert len({incident_id for incident_id, _ in results}) == 1
    assert sum(new for _, new in results) == 1
    incident = store.by_cluster("c1")
    assert incident is not None and incident.state is State.TRIGGERED
    assert [i.id for i in store.open_incidents()] == [incident.id]
    assert [e.kind for e in store.audit(incident.id)] == ["opened"]


def test_lifecycle_records_who_and_when(redis: redis_lib.Redis, keys: Keys) -> None:
    store = IncidentStore(redis, keys)
    incident, _ = store.open(event(), "c1", channel="#oncall", now=1000.0)
    ack = store.acknowledge(incident.id, "U1", now=1010.0)
    assert ack.changed and ack.incident is not None
    assert (ack.incident.state, ack.incident.acked_by, ack.incident.acked_at) == (State.ACKNOWLEDGED, "U1", 1010.0)
    assert store.acknowledge(incident.id, "U2").outcome == "already"
    done = store.resolve(incident.id, "U2", now=1100.0)
    assert done.changed and done.incident is not None
    assert (done.incident.state, done.incident.resolved_by, done.incident.resolved_at) == (State.RESOLVED, "U2", 1100.0)
    assert done.incident.acked_by == "U1"  # history is kept
    assert store.open_incidents() == []
    assert store.acknowledge(incident.id, "U3").outcome == "already"
    assert store.resolve(incident.id, "U3").outcome == "already"
    assert store.acknowledge("999", "U3").outcome == "missing"
    audit = store.audit(incident.id)
    assert [(e.kind, e.by) for e in audit] == [("opened", ""), ("ack", "U1"), ("resolve", "U2")]
    rendered = metrics.render(redis, keys)
    assert 'reewatch_incidents{state="resolved"} 1' in rendered
    assert 'reewatch_incidents{state="triggered"} 0' in rendered


def test_resolve_straight_from_triggered(redis: redis_lib.Redis, keys: Keys) -> None:
    store = IncidentStore(redis, keys)
    incident, _ = store.open(event(), "c1", channel="#oncall")
    assert store.resolve(incident.id, "U1").changed
    assert store.get(incident.id).state is State.RESOLVED  # type: ignore[union-attr]


def test_a_step_pages_once_and_never_after_an_ack(redis: redis_lib.Redis, keys: Keys) -> None:
    store = IncidentStore(redis, keys)
    incident, _ = store.open(event(), "c1", channel="#oncall")
    claim = {"mention": "<@U1>", "text": "paged <@U1>"}
    assert store.claim_page(incident.id, step=0, round_=0, **claim) == "claimed"
    assert store.claim_page(incident.id, step=0, round_=0, **claim) == "duplicate"
    assert store.claim_page(incident.id, step=0, round_=1, **claim) == "claimed"  # a repeat is its own page
    store.acknowledge(incident.id, "U1")
    assert store.claim_page(incident.id, step=1, round_=0, **claim) == "stopped"
    assert store.claim_page("404", step=0, round_=0, **claim) == "missing"
    got = store.get(incident.id)
    assert got is not None and (got.pages, got.last_target) == (2, "<@U1>")


def test_a_failed_page_can_be_claimed_again(redis: redis_lib.Redis, keys: Keys) -> None:
    store = IncidentStore(redis, keys)
    incident, _ = store.open(event(), "c1", channel="#oncall")
    assert store.claim_page(incident.id, step=0, round_=0, mention="<@U1>", text="x") == "claimed"
    store.unclaim_page(incident.id, step=0, round_=0, error="ratelimited")
    assert store.claim_page(incident.id, step=0, round_=0, mention="<@U1>", text="x") == "claimed"
    assert [e.kind for e in store.audit(incident.id)] == ["opened", "page", "page_failed", "page"]


def test_holds_stop_pages_until_released(redis: redis_lib.Redis, keys: Keys) -> None:
    store = IncidentStore(redis, keys)
    incident, _ = store.open(event(), "c1", channel="#oncall", now=1000.0, held_until=5000.0)
    assert store.claim_page(incident.id, step=0, round_=0, mention="m", text="t", now=1001.0) == "held"
    assert store.claim_page(incident.id, step=0, round_=0, mention="m", text="t", now=5000.0) == "claimed"
    other, _ = store.open(event(2), "c2", channel="#oncall", held_until=9e12)
    assert store.release(other.id)
    assert not store.release(other.id)
    assert store.claim_page(other.id, step=0, round_=0, mention="m", text="t") == "claimed"


def test_ack_racing_steps_never_leaves_a_page_after_the_ack(redis: redis_lib.Redis, keys: Keys) -> None:
    store = IncidentStore(redis, keys)
    incidents = [store.open(event(n), f"c{n}", channel="#oncall")[0] for n in range(40)]

    def step(incident_id: str) -> None:
        for s in range(3):
            IncidentStore(redis, keys).claim_page(incident_id, step=s, round_=0, mention="<@U1>", text="page")

    def ack(incident_id: str) -> None:
        IncidentStore(redis, keys).acknowledge(incident_id, "U9")

    with ThreadPoolExecutor(8) as pool:
        futures = []
        for incident in incidents:
            futures.append(pool.submit(step, incident.id))
            futures.append(pool.submit(ack, incident.id))
        for f in futures:
            f.result()
    for incident in incidents:
        kinds = [e.kind for e in store.audit(incident.id)]
        assert "ack" in kinds
        assert "page" not in kinds[kinds.index("ack"):], kinds
        assert store.get(incident.id).pages == kinds.count("page")  # type: ignore[union-attr]


def test_more_reports_of_the_story_are_counted(redis: redis_lib.Redis, keys: Keys) -> None:
    store = IncidentStore(redis, keys)
    incident, _ = store.open(event(), "c1", channel="#oncall")
    assert store.add_report(incident.id, event(2, source="Caixin")) == 2
    assert store.audit(incident.id)[-1].text == "also reported by Caixin"
