"""`reewatch deadletters list|replay`: deliveries that could not be made, and putting them back."""

from __future__ import annotations

import argparse
import time
from typing import Any

from bot.cli.common import add, settings_with_redis
from core.errors import UsageError


def register(sub: Any) -> None:
    dead = add(sub, "deadletters", cmd_deadletters, "list or replay deliveries that could not be made")
    dead.add_argument("action", choices=("list", "replay"))
    dead.add_argument("ids", nargs="*", metavar="ID", help="dead letters to replay (see `list`)")
    dead.add_argument("--all", action="store_true", help="replay every dead letter")
    dead.add_argument("--inline", action="store_true",
                      help="deliver in this process now instead of queueing for a worker")


def cmd_deadletters(args: argparse.Namespace) -> int:
    if args.action == "replay" and not args.ids and not args.all:
        raise UsageError("say which: `reewatch deadletters replay ID [ID ...]` or `--all`")
    if args.action == "list" and (args.ids or args.all or args.inline):
        raise UsageError("`reewatch deadletters list` takes no arguments")
    with settings_with_redis() as settings:
        from core.deadletters import DeadLetterStore
        from workers import context, deliver

        ctx = context.install(settings)
        store = DeadLetterStore(ctx.redis, ctx.keys)
        if args.action == "list":
            letters = store.list()
            for d in letters:
                age = _age(time.time() - d.at)
                print(f"{d.id}  {age:>5} ago  {d.channel or '-':<12} {d.summary:<32} {d.reason}")
            if not letters:
                print("no dead letters")
            return 0
        missing = [i for i in args.ids if store.get(i) is None]
        if missing:
            raise UsageError(f"no dead letter {', '.join(missing)} (see `reewatch deadletters list`)")
        results = deliver.replay(ctx, None if args.all else list(args.ids), inline=args.inline)
        for letter, outcome in results:
            print(f"{letter.id}  {letter.summary}: {outcome}")
        return 1 if any(outcome in ("dead_letter", "retry") for _, outcome in results) else 0


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"
