"""`subscribe`, `unsubscribe`, `subscriptions`: what the current channel receives.

    subscribe all|FEED_ID|ELEMENT...|"keyword" [min=SEVERITY] [digest=HH:MM]

Quoted words are keywords; a bare word is `all`, a feed id or an element (a near miss of an element
name is refused with a suggestion rather than silently watched as a keyword).
"""

from __future__ import annotations

import re

from bot.commands import Invocation, Reply, subcommand
from bot.commands.lookup import element
from bot.deps import Deps
from core.cards import context, header, sections
from core.errors import UsageError
from core.text import escape

_TOKEN = re.compile(r'"([^"]*)"|“([^”]*)”|(\S+)')


@subcommand("subscribe", usage='subscribe all|FEED_ID|ELEMENT...|"keyword" [min=SEVERITY] [digest=HH:MM]')
def subscribe(inv: Invocation, deps: Deps) -> Reply:
    """This channel gets matching updates: without `min=` every matching event as it happens, easing and info
    included; `digest=09:00` gathers them into one post a day (time in REEWATCH_TIMEZONE, UTC by default)."""
    wanted, options = parse(inv.raw.split(None, 1)[1] if " " in inv.raw.strip() else "", deps)
    unknown = set(options) - {"min", "digest"}
    if unknown:
        raise UsageError(f"Unknown option `{sorted(unknown)[0]}=`: use min= and digest=.")
    if not wanted:
        raise UsageError("Say what to subscribe to.")
    store = deps.subscriptions
    made = [store.add(inv.channel_id, kind, values, min_severity=options.get("min"), digest=options.get("digest"),
                      created_by=inv.user_id) for kind, values in wanted.items()]
    lines = [escape(s.describe()) for s in made]
    return Reply(text=f"<@{inv.user_id}> subscribed this channel: " + "; ".join(lines) +
                      f". `{inv.command} unsubscribe ID` stops one.", ephemeral=False)


@subcommand("unsubscribe", usage="unsubscribe ID")
def unsubscribe(inv: Invocation, deps: Deps) -> Reply:
    """Stop one of this channel's subscriptions (ids are listed by `subscriptions`)."""
    if len(inv.args) != 1:
        raise UsageError("Give one subscription id.")
    if not deps.subscriptions.remove(inv.channel_id, inv.args[0]):
        raise UsageError(f"This channel has no subscription `{escape(inv.args[0])}` "
                         f"(see `{inv.command} subscriptions`).")
    return Reply(text=f"<@{inv.user_id}> removed subscription {escape(inv.args[0].lstrip('#'))} from this channel.",
                 ephemeral=False)


@subcommand("subscriptions", usage="subscriptions")
def subscriptions(inv: Invocation, deps: Deps) -> Reply:
    """This channel's subscriptions, with their filters, digest time, and broken ones flagged."""
    subs = deps.subscriptions.for_channel(inv.channel_id)
    lines = [(":warning: " if s.broken else "• ") + escape(s.describe()) for s in subs]
    if not lines:
        return Reply(text=f"This channel has no subscriptions. Try `{inv.command} subscribe Dy min=high`.",
                     shareable=True)
    broken = sum(1 for s in subs if s.broken)
    note = (f"{broken} broken: posts failed; subscribing again (or inviting the bot) retries." if broken
            else "All delivering.")
    return Reply(text=f"This channel's subscriptions: {len(subs)}", shareable=True,
                 blocks=[header("This channel's subscriptions"), *sections(lines), context(note)])


def parse(text: str, deps: Deps) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Filter values grouped by kind, and key=value options."""
    wanted: dict[str, list[str]] = {}
    options: dict[str, str] = {}
    feed_ids: set[str] | None = None
    for match in _TOKEN.finditer(text):
        quoted = match[1] if match[1] is not None else match[2]
        if quoted is not None:
            if quoted.strip():
                wanted.setdefault("keyword", []).append(quoted.strip())
            continue
        word = match[3]
        key, eq, value = word.partition("=")
        if eq:
            options[key.lower()] = value
        elif word.lower() == "all":
            wanted["all"] = []
        else:
            if feed_ids is None:
                feed_ids = {f.id for f in deps.feed_registry.all()}
            if word in feed_ids:
                wanted.setdefault("feed", []).append(word)
            else:
                wanted.setdefault("element", []).append(element(word))
    return wanted, options
