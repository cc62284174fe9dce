"""One poll, top to bottom: lock, fetch, skip if unchanged, parse, claim new items, seed or ingest,
record state. `poll_feeds(ctx, feed_ids) -> {feed_id: outcome}` polls a batch concurrently.

Outcomes (also the `reewatch_polls_total` label): ok, not_modified, unchanged, error, skipped (another
worker holds the feed, or the id is unknown), disabled.

Failures while every feed of a batch fails to connect at once, across at least two hosts, are our
network's fault, not the feeds': they are recorded but do not extend the feeds' failure runs.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from core import metrics
from core.errors import FetchError, ParseError
from core.feeds import FeedConfig
from core.feedstate import FeedState, FeedStateStore, backoff_delay, disable_reason, success_delay
from core.fetch import Fetcher, FetchResult, fetch_once
from core.identity import SeenStore
from core.parse import ParsedFeed, oldest_first, parse_feed
from core.registry import FeedRegistry
from core.settings import Settings
from workers.context import WorkerContext
from workers.deliver import announce_feed_disabled
from workers.ingest import ingest_items

log = logging.getLogger(__name__)

#: Reasons that mean "we could not reach anyone" when every feed of a batch reports one.
_NETWORK_REASONS = frozenset({"connect_error", "timeout"})
_RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass(slots=True)
class _Attempt:
    feed: FeedConfig
    state: FeedState
    url: str
    result: FetchResult | None = None
    error: FetchError | None = None


@dataclass(slots=True)
class FeedProbe:
    """What a trial fetch of a URL found: a feed's title and item count, or a one-line error."""

    url: str
    title: str | None = None
    items: int = 0
    error: str | None = None
    final_url: str | None = None
    sample: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None


class _HostLimits:
    """At most `per_host` requests in flight to one host."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._sems: dict[str, threading.BoundedSemaphore] = {}

    def for_url(self, url: str) -> threading.BoundedSemaphore:
        host = (urlsplit(url).hostname or "").lower()
        with self._lock:
            return self._sems.setdefault(host, threading.BoundedSemaphore(self.per_host))


def _fetch(fetcher: Fetcher, limits: _HostLimits, attempt: _Attempt) -> _Attempt:
    state = attempt.state
    with limits.for_url(attempt.url):
        try:
            attempt.result = fetcher.fetch(attempt.url, etag=state.etag, last_modified=state.last_modified)
        except FetchError as exc:
            attempt.error = exc
        except Exception as exc:  # a bug met on one feed must not sink the rest of the batch
            log.exception("unexpected error fetching a feed", extra={"feed_id": attempt.feed.id})
            attempt.error = FetchError("internal_error", f"{type(exc).__name__}: {exc}")
    return attempt


def _network_down(attempts: list[_Attempt]) -> bool:
    hosts = {urlsplit(a.url).netloc for a in attempts}
    return len(hosts) >= 2 and all(a.error is not None and a.error.reason in _NETWORK_REASONS for a in attempts)


def poll_feeds(ctx: WorkerContext, feed_ids: list[str], *, now: float | None = None) -> dict[str, str]:
    """Poll these feeds now; returns feed id -> outcome. `now` overrides the clock for state decisions."""
    settings = ctx.settings
    feeds = {f.id: f for f in FeedRegistry(settings, ctx.redis, ctx.keys).all()}
    store = FeedStateStore(ctx.redis, ctx.keys)
    outcomes: dict[str, str] = {}
    lock_ttl = int(max(300.0, settings.fetch_timeout * 3 + 120))  # the poll job's own timeout, at least
    with _locks(ctx, [fid for fid in feed_ids if fid in feeds], lock_ttl) as held:
        states = store.get_many([fid for fid in feed_ids if fid in feeds])  # read under the lock: fresh
        attempts: list[_Attempt] = []
        for feed_id in feed_ids:
            feed, state = feeds.get(feed_id), states.get(feed_id)
            if feed is None or state is None:
                outcomes[feed_id] = "skipped"
                log.warning("poll of unknown feed skipped", extra={"feed_id": feed_id})
            elif not feed.enabled or state.disabled:
                outcomes[feed_id] = "disabled"
            elif feed_id not in held:
                outcomes[feed_id] = "skipped"  # another worker is polling it right now
            else:
                attempts.append(_Attempt(feed, state, state.effective_url(feed.url)))
        limits = _HostLimits(settings.poll_per_host)
        with Fetcher(settings, max_connections=settings.poll_concurrency * 2) as fetcher, \
                ThreadPoolExecutor(max_workers=settings.poll_concurrency, thread_name_prefix="poll") as pool:
            fetched = list(pool.map(lambda a: _fetch(fetcher, limits, a), attempts))
        outage = _network_down(fetched)
        if outage:
            log.warning("every feed of the batch failed to connect; treating it as our network being down",
                        extra={"feeds": len(fetched)})
        for attempt in fetched:
            clock = time.time() if now is None else now
            outcomes[attempt.feed.id] = _settle(ctx, store, attempt, clock, counted=not outage)
    for outcome in outcomes.values():
        metrics.inc(ctx.redis, ctx.keys, "reewatch_polls_total", {"outcome": outcome})
    return outcomes


@contextmanager
def _locks(ctx: WorkerContext, feed_ids: list[str], ttl: int) -> Iterator[set[str]]:
    key_token = {}
    for feed_id in feed_ids:
        token = uuid.uuid4().hex
        if ctx.redis.set(ctx.keys.feed_lock(feed_id), token, nx=True, ex=ttl):
            key_token[feed_id] = token
    try:
        yield set(key_token)
    finally:
        for feed_id, token in key_token.items():
            ctx.redis.eval(_RELEASE, 1, ctx.keys.feed_lock(feed_id), token)


def _settle(ctx: WorkerContext, store: FeedStateStore, attempt: _Attempt, now: float, *, counted: bool) -> str:
    """Turn one fetch into stored state (and new items into events); returns the outcome."""
    feed, state, settings = attempt.feed, attempt.state, ctx.settings
    extra = {"feed_id": feed.id}
    if attempt.error is not None:
        return _failed(ctx, store, attempt, now, attempt.error.reason, str(attempt.error),
                       attempt.error.status, attempt.error.retry_after, counted=counted)
    result = attempt.result
    assert result is not None
    moved_to, moved_from = (result.permanent_url, feed.url) if result.permanent_url else (None, None)
    if result.permanent_url:
        log.warning("feed moved permanently; polling the new address (update feeds.yaml)",
                    extra={**extra, "url": result.permanent_url})
        FeedRegistry(settings, ctx.redis, ctx.keys).update_url(feed.id, result.permanent_url)
    next_due = now + success_delay(feed.interval, result.fresh_for, settings.feed_cache_max)
    if result.not_modified or (state.seeded and result.content_hash == state.body_hash):
        store.record_success(feed.id, now=now, next_due=next_due, etag=result.etag,
                             last_modified=result.last_modified, url=moved_to, moved_from=moved_from)
        return "not_modified" if result.not_modified else "unchanged"
    try:
        parsed = parse_feed(result.body, result.headers, feed_id=feed.id, tier=feed.tier,
                            language=feed.language, fetched_at=now, source=feed.title)
    except ParseError as exc:
        return _failed(ctx, store, attempt, now, "not_a_feed", str(exc), None, None, counted=True)
    if parsed.bozo:
        log.info("ill-formed feed, items recovered", extra={**extra, "detail": parsed.bozo})
    ingested_all, new_count = _take_items(ctx, feed, parsed, now, seeding=not state.seeded)
    if not ingested_all:
        # Something downstream failed: keep no validators or body hash, so the next poll re-reads
        # the body and offers the released items again. Nothing is silently dropped.
        store.record_success(feed.id, now=now, next_due=now + feed.interval, title=parsed.title,
                             url=moved_to, moved_from=moved_from)
        return "error"
    store.record_success(feed.id, now=now, next_due=next_due, etag=result.etag, last_modified=result.last_modified,
                         body_hash=result.content_hash, title=parsed.title, new_items=new_count > 0,
                         url=moved_to, moved_from=moved_from)
    log.info("feed polled", extra={**extra, "items": len(parsed.items), "new": new_count,
                                   "seeded": not state.seeded})
    return "ok"


def _take_items(ctx: WorkerContext, feed: FeedConfig, parsed: ParsedFeed, now: float, *,
                seeding: bool) -> tuple[bool, int]:
    """Claim the parsed items; seed silently or ingest the new ones oldest first. Returns (all ok, new)."""
    seen = SeenStore(ctx.redis, ctx.keys, ctx.settings.retention_days * 86400)
    flags = seen.claim(feed.id, parsed.keys, now=now)
    if seeding:
        metrics.inc(ctx.redis, ctx.keys, "reewatch_items_total", {"result": "seeded"}, by=len(flags))
        return True, 0
    too_old = now - seen.retention
    fresh = [(item, keys) for item, keys, new in zip(parsed.items, parsed.keys, flags, strict=True)
             if new and (item.published is None or item.published >= too_old)]
    duplicates = len(flags) - len(fresh)
    if duplicates:
        metrics.inc(ctx.redis, ctx.keys, "reewatch_items_total", {"result": "duplicate"}, by=duplicates)
    ordered = oldest_first(fresh)
    for position, (item, _keys) in enumerate(ordered):
        try:
            ingest_items(ctx, feed, [item])
        except Exception:
            log.exception("ingesting an item failed; it will be offered again",
                          extra={"feed_id": feed.id, "item_id": item.id})
            for _item, later_keys in ordered[position:]:
                seen.release(feed.id, later_keys)
            return False, position
    return True, len(ordered)


def _failed(ctx: WorkerContext, store: FeedStateStore, attempt: _Attempt, now: float, reason: str, message: str,
            status: int | None, retry_after: float | None, *, counted: bool) -> str:
    feed, settings = attempt.feed, ctx.settings
    failures = attempt.state.failures + (1 if counted else 0)
    delay = backoff_delay(feed.interval, failures, settings.feed_backoff_max, retry_after, settings.feed_cache_max)
    if not counted:
        delay = min(delay, max(feed.interval, 60.0))
        message = f"{message} (not counted: every feed failed at once)"
    state = store.record_failure(feed.id, now=now, reason=reason, message=message, next_due=now + delay,
                                 counted=counted)
    log.warning("feed poll failed", extra={"feed_id": feed.id, "reason": reason, "error": message,
                                           "failures": state.failures})
    why = disable_reason(state, reason=reason, status=status, message=message, now=now, settings=settings) \
        if counted else None
    if why is None:
        return "error"
    if store.disable(feed.id, why, now=now):
        log.error("feed disabled", extra={"feed_id": feed.id, "reason": why})
        announce_feed_disabled(ctx, feed.id, why)
    return "disabled"


def validate_feed(settings: Settings, url: str) -> FeedProbe:
    """Fetch `url` through every guard and parse it: the check behind `/ree feeds add`."""
    try:
        result = fetch_once(settings, url)
        parsed = parse_feed(result.body, result.headers, feed_id="probe")
    except FetchError as exc:
        return FeedProbe(url, error=f"cannot fetch it: {exc}")
    except ParseError as exc:
        return FeedProbe(url, error=str(exc))
    return FeedProbe(url, title=parsed.title if parsed.title != "probe" else None, items=len(parsed.items),
                     final_url=result.permanent_url or result.url, sample=[i.title for i in parsed.items[:3]])
