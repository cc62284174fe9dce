"""Feed commands: `check`, `poll`, `preview`, `opml`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.cli.common import add
from bot.cli.feed_actions import cmd_opml, cmd_poll, cmd_preview
from core.errors import ConfigError
from core.feeds import check_file
from core.settings import load_settings

__all__ = ["cmd_check", "cmd_opml", "cmd_poll", "cmd_preview", "register"]


def register(sub: Any) -> None:
    check = add(sub, "check", cmd_check, "validate settings and feeds.yaml; each problem as FILE:LINE: message")
    check.add_argument("file", nargs="?", type=Path, help="feeds file (default $REEWATCH_FEEDS_FILE or ./feeds.yaml)")
    poll = add(sub, "poll", cmd_poll, "poll feeds now: enqueue, or run here with --inline")
    poll.add_argument("feed_ids", nargs="*", metavar="FEED_ID", help="feeds to poll (default: every enabled feed)")
    poll.add_argument("--inline", action="store_true", help="poll in this process instead of enqueueing")
    preview = add(sub, "preview", cmd_preview,
                  "fetch, parse, tag, score and render one feed; posts and stores nothing")
    preview.add_argument("source", metavar="URL_OR_FILE")
    preview.add_argument("--json", action="store_true", help="one JSON object per line: item and message")
    preview.add_argument("--limit", type=int, default=0, help="render only the first N items")
    opml = add(sub, "opml", cmd_opml, "feeds in and out as OPML")
    opml.add_argument("action", choices=["import", "export"])
    opml.add_argument("file", nargs="?", type=Path, help="import: the OPML file; export: output file (default stdout)")
    opml.add_argument("--tier", default="other", help="import: tier of feeds that do not name one")


def cmd_check(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"settings:1: {exc}", file=sys.stderr)
        return 2
    path = args.file or settings.feeds_file
    model, problems = check_file(path)
    for problem in problems:
        print(problem, file=sys.stderr)
    if model is None:
        return 2
    print(f"{path}: ok ({len(model.feeds)} feeds, {len(model.routes)} routes, "
          f"{len(model.watchlist)} watched elements{', on-call configured' if model.oncall else ''})")
    return 0
