"""Handlers of `reewatch poll`, `reewatch preview` and `reewatch opml` (registered in bot/cli/feeds.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.cli.common import settings_for_command, settings_with_redis
from core.errors import UsageError
from core.feeds import FeedConfig
from core.opml import OpmlFeed, read_opml, write_opml
from core.registry import FeedRegistry, static_feeds
from core.settings import Settings


def _require_redis_url(settings: Settings, what: str) -> None:
    if not settings.redis_url:
        raise UsageError(f"{what} needs the deployment's Redis: set REDIS_URL (without it the data would be "
                         "written to a throw-away embedded server)")


def cmd_poll(args: argparse.Namespace) -> int:
    """Poll feeds now: in this process with --inline, else as jobs for the running workers."""
    from core.feedstate import FeedStateStore
    from workers import context
    from workers.enqueue import enqueue_once, queue
    from workers.pipeline import poll_feeds
    from workers.tasks import POLL_BATCH, poll_batch

    if not args.inline:
        _require_redis_url(settings_for_command(), "`reewatch poll` without --inline")
    with settings_with_redis() as settings:
        ctx = context.install(settings)
        known = {f.id: f for f in FeedRegistry(settings, ctx.redis, ctx.keys).all()}
        unknown = [fid for fid in args.feed_ids if fid not in known]
        if unknown:
            raise UsageError(f"unknown feed id(s): {', '.join(unknown)} (known: {', '.join(sorted(known)) or 'none'})")
        ids = list(args.feed_ids) or [fid for fid, f in known.items() if f.enabled]
        batches = [ids[i:i + POLL_BATCH] for i in range(0, len(ids), POLL_BATCH)]
        if not args.inline:
            q = queue(ctx.keys, "poll", ctx.rq_redis)
            for batch in batches:
                enqueue_once(q, poll_batch, batch, job_id=ctx.keys.job_id("pollnow", *batch[:3], str(len(batch))),
                             result_ttl=60, failure_ttl=86400, job_timeout=300)
            print(f"enqueued {len(ids)} feed(s) in {len(batches)} poll job(s)")
            return 0
        outcomes: dict[str, str] = {}
        for batch in batches:
            outcomes.update(poll_feeds(ctx, batch))
        states = FeedStateStore(ctx.redis, ctx.keys).get_many(list(outcomes))
        for feed_id, outcome in outcomes.items():
            state = states[feed_id]
            detail = state.disabled_reason if outcome == "disabled" else state.last_error if outcome == "error" else ""
            print(f"{feed_id}: {outcome}" + (f" - {detail}" if detail else ""))
        return 1 if any(o in ("error", "disabled") for o in outcomes.values()) else 0


def _read_source(settings: Settings, source: str) -> tuple[bytes, dict[str, str], str]:
    path = Path(source)
    if path.is_file():
        return path.read_bytes(), {}, path.stem
    if "://" not in source:
        raise UsageError(f"{source!r} is neither a file nor a URL")
    from core.fetch import fetch_once

    result = fetch_once(settings, source)  # the worker's guards: SSRF, size, deadline
    return result.body, result.headers, "preview"


def cmd_preview(args: argparse.Namespace) -> int:
    """Render what a feed would post, without storing or posting anything."""
    from core.blockkit import validate_message
    from core.blocks import event_message
    from core.errors import ParseError
    from core.intel import analyze
    from core.parse import parse_feed
    from core.summarize import summarize
    from workers.ingest import to_event

    settings = settings_for_command()
    body, headers, name = _read_source(settings, args.source)
    try:
        parsed = parse_feed(body, headers, feed_id=name)
    except ParseError as exc:
        raise UsageError(f"{args.source}: {exc}") from None
    items = parsed.items[: args.limit] if args.limit > 0 else parsed.items
    if not args.json:
        print(f"{parsed.title}: {len(parsed.items)} item(s)" + (f" (ill-formed: {parsed.bozo})" if parsed.bozo else ""))
    for item in items:
        analysis = analyze(item.title, item.text, tier=item.tier, language=item.language)
        summary = summarize(settings, item.title, item.text, item.language)
        event = to_event(item, elements=list(analysis.elements), topics=list(analysis.topics),
                         severity=analysis.severity.value, summary=summary.text, summary_original=summary.original)
        message = event_message(event)
        for problem in validate_message(message.text, message.blocks):
            print(f"warning: {item.id}: {problem}", file=sys.stderr)
        if args.json:
            record = {"item": {**event.to_dict(), "guid": item.guid},
                      "message": {"text": message.text, "blocks": message.blocks}}
            print(json.dumps(record, ensure_ascii=False))
        else:
            tags = ", ".join(event.elements) or "-"
            print(f"\n--- [{event.severity}] {tags}\n{message.text}\n    {event.summary}\n    {event.link}")
    return 0


def cmd_opml(args: argparse.Namespace) -> int:
    """`opml import FILE` adds run-time feeds; `opml export [FILE]` writes every feed as OPML."""
    from workers import context

    if args.action == "export":
        settings = settings_for_command()
        if settings.redis_url:
            ctx = context.install(settings)
            feeds = FeedRegistry(settings, ctx.redis, ctx.keys).all()
        else:
            print("note: REDIS_URL is unset; exporting feeds.yaml only", file=sys.stderr)
            feeds = static_feeds(settings.feeds_file)
        document = write_opml(feeds)
        if args.file:
            args.file.write_text(document, encoding="utf-8")
            print(f"wrote {len(feeds)} feed(s) to {args.file}", file=sys.stderr)
        else:
            sys.stdout.write(document)
        return 0
    if args.file is None:
        raise UsageError("usage: reewatch opml import FILE")
    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    found = read_opml(data)
    _require_redis_url(settings_for_command(), "`reewatch opml import`")
    with settings_with_redis() as settings:
        ctx = context.install(settings)
        registry = FeedRegistry(settings, ctx.redis, ctx.keys)
        added, skipped = _import(registry, found, args.tier)
    for line in skipped:
        print(f"skipped: {line}", file=sys.stderr)
    print(f"added {len(added)} feed(s): {', '.join(added) or 'none'}; skipped {len(skipped)}")
    return 0


def _import(registry: FeedRegistry, found: list[OpmlFeed], default_tier: str) -> tuple[list[str], list[str]]:
    """Add each OPML feed not yet polled; returns (added ids, skip reasons)."""
    added: list[str] = []
    skipped: list[str] = []
    taken = {f.id for f in registry.all()}
    for entry in found:
        feed_id = entry.id if entry.id and entry.id not in taken else registry.suggest_id(entry.url, entry.title)
        fields: dict[str, object] = {"id": feed_id, "url": entry.url, "title": entry.title,
                                     "tier": entry.tier or default_tier}
        if entry.language:
            fields["language"] = entry.language
        if entry.interval:
            fields["interval"] = entry.interval
        try:
            feed = FeedConfig.model_validate(fields)
            registry.add(feed)
        except (ValidationError, UsageError) as exc:
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            skipped.append(f"{entry.url}: {message}")
            continue
        taken.add(feed.id)
        added.append(feed.id)
    return added, skipped
