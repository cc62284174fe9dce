"""`feeds`: the feed list with health; `feeds add URL [tier=...]` (validated by a real fetch through
the SSRF guard, after the ack) and `feeds remove ID`, for admins."""

from __future__ import annotations

import time

from pydantic import ValidationError

from bot.commands import Invocation, Reply, subcommand
from bot.commands.dispatch import refused_text
from bot.deps import Deps
from core.cards import FeedRow, feeds_list
from core.errors import UsageError
from core.feeds import FeedConfig
from core.models import TIERS


@subcommand("feeds", usage="feeds | feeds add URL [tier=official|wire|trade|aggregator|other] | feeds remove ID")
def feeds(inv: Invocation, deps: Deps) -> Reply:
    """Feeds with their health (last success, failures, disabled and why); admins add and remove them."""
    action = inv.args[0].lower() if inv.args else ""
    if action == "add":
        return add(inv, deps)
    if action in ("remove", "rm", "delete"):
        return remove(inv, deps)
    if action:
        raise UsageError(f"`{action}` is not a feeds action.")
    now = time.time()
    configs = deps.feed_registry.all()
    states = deps.feed_state.get_many([f.id for f in configs])
    rows = []
    for f in configs:
        st = states.get(f.id)
        rows.append(FeedRow(id=f.id, name=f.name, url=f.url, tier=f.tier, enabled=f.enabled,
                            last_success=st.last_success if st else None, failures=st.failures if st else 0,
                            disabled=bool(st and st.disabled), disabled_reason=(st.disabled_reason or "") if st else "",
                            last_error=(st.last_error or "") if st else ""))
    card = feeds_list(rows, now)
    return Reply(text=card.text, blocks=card.blocks, shareable=True)


def add(inv: Invocation, deps: Deps) -> Reply:
    if not inv.is_admin:
        return Reply(text=refused_text(inv, "feeds add", deps))
    url, options = _url_and_options(inv.args[1:])
    tier = options.pop("tier", "other")
    if tier not in TIERS:
        raise UsageError(f"Unknown tier `{tier}`: use one of {', '.join(TIERS)}.")
    if options:
        raise UsageError(f"Unknown option `{next(iter(options))}=`.")
    try:
        FeedConfig(id="probe", url=url, tier=tier)
    except ValidationError as exc:
        raise UsageError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from None

    def validate_and_add() -> Reply:
        from workers.pipeline import validate_feed

        probe = validate_feed(deps.settings, url)
        if not probe.ok:
            return Reply(text=f":x: Not added: {url} is not a usable feed ({probe.error}).")
        feed = FeedConfig(id=deps.feed_registry.suggest_id(url, probe.title), url=url, tier=tier,
                          title=probe.title or None)
        try:
            deps.feed_registry.add(feed)
        except UsageError as exc:
            return Reply(text=f":x: Not added: {exc}.")
        return Reply(text=f":white_check_mark: Added feed `{feed.id}` ({feed.name}, {tier}) with "
                          f"{probe.items} items; its first poll seeds without posting.", ephemeral=False)

    return Reply(text=f":hourglass_flowing_sand: Checking {url} (a real fetch); I'll answer here in a moment.",
                 later=validate_and_add)


def remove(inv: Invocation, deps: Deps) -> Reply:
    if not inv.is_admin:
        return Reply(text=refused_text(inv, "feeds remove", deps))
    if len(inv.args) != 2:
        raise UsageError("Name one feed id (see `feeds`).")
    feed_id = inv.args[1]
    if not deps.feed_registry.remove(feed_id):
        raise UsageError(f"No feed has the id `{feed_id}`.")
    return Reply(text=f":wastebasket: Feed `{feed_id}` removed by <@{inv.user_id}>; it is no longer polled.",
                 ephemeral=False)


def _url_and_options(args: list[str]) -> tuple[str, dict[str, str]]:
    url = ""
    options: dict[str, str] = {}
    for arg in args:
        key, eq, value = arg.partition("=")
        if eq and not key.startswith(("http", "<")):
            options[key.lower()] = value.lower()
        elif not url:
            url = arg.strip("<>").split("|")[0]  # Slack wraps pasted links as <url> or <url|label>
        else:
            raise UsageError("Give one URL.")
    if not url:
        raise UsageError("Give the feed's URL.")
    return url, options
