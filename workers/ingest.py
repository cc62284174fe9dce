"""New items -> stored, routed events, in the order docs/ARCHITECTURE.md fixes:

    analyze -> summarize -> cluster -> store -> recompute status -> route (+ status changes) -> escalate

`ingest_items(ctx, feed, items) -> list[Event]` is called by the poll pipeline with items already
claimed as new, oldest first. Every step is idempotent (routing and escalation claim per cluster),
so a retry after a failure part-way through neither loses nor doubles anything.
"""

from __future__ import annotations

import logging

from core import metrics
from core.clusters import ClusterStore
from core.events import EventStore
from core.feeds import FeedConfig
from core.intel import analyze
from core.models import Event, Item
from core.status import StatusStore
from core.summarize import summarize
from workers import deliver, escalate
from workers.context import WorkerContext

log = logging.getLogger(__name__)


def to_event(item: Item, *, elements: list[str], topics: list[str], severity: str, summary: str = "",
             summary_original: str = "") -> Event:
    """The event an item becomes once analysed (cluster id is set by the cluster store)."""
    return Event(
        id=item.id, feed_id=item.feed_id, title=item.title, link=item.link, text=item.text,
        published=item.published, fetched_at=item.fetched_at, language=item.language, tier=item.tier,
        source=item.source, elements=elements, topics=topics, severity=severity,
        summary=summary, summary_original=summary_original,
    )


def ingest_items(ctx: WorkerContext, feed: FeedConfig, items: list[Item]) -> list[Event]:
    """Analyse, summarize, cluster, store, re-score status, route and escalate each item, in order."""
    retention = ctx.settings.retention_days * 86400
    events = EventStore(ctx.redis, ctx.keys, retention)
    clusters = ClusterStore(ctx.redis, ctx.keys, retention=retention)
    statuses = StatusStore(ctx.redis, ctx.keys)
    out: list[Event] = []
    for item in items:
        analysis = analyze(item.title, item.text, tier=item.tier, language=item.language)
        summary = summarize(ctx.settings, item.title, item.text, item.language)
        event = to_event(item, elements=list(analysis.elements), topics=list(analysis.topics),
                         severity=analysis.severity.value, summary=summary.text,
                         summary_original=summary.original)
        cluster, new_cluster = clusters.assign(event)
        events.add(event)
        # cause: an easing story may lower an element's level, never raise it (issue 4, core/status.py)
        changes = statuses.recompute(event.elements, cause=event.severity) if event.elements else []
        deliver.route(ctx, event, cluster, new_cluster)
        for change in changes:
            deliver.route_status_change(ctx, change)
        escalate.consider(ctx, event, cluster, new_cluster)
        metrics.inc(ctx.redis, ctx.keys, "reewatch_items_total", {"result": "new" if new_cluster else "clustered"})
        metrics.inc(ctx.redis, ctx.keys, "reewatch_events_total", {"severity": event.severity})
        log.info("event stored", extra={"feed_id": feed.id, "event_id": event.id, "severity": event.severity,
                                        "cluster_id": event.cluster_id, "new_cluster": new_cluster})
        out.append(event)
    return out
