"""`status [ELEMENT]` (the element card, or the board), `history ELEMENT`, and `set ELEMENT LEVEL
REASON` (admins: a manual status override with an audit trail)."""

from __future__ import annotations

import time

from bot.commands import Invocation, Reply, subcommand
from bot.commands.lookup import element
from bot.deps import Deps
from bot.views import board_rows, element_facts, measures_for, oncall_now
from core import elements
from core.cards import LEVEL_ICON, board, context, element_card, header, sections
from core.errors import UsageError
from core.models import Level
from core.text import escape

LATEST = 20  # events read for the card; it shows the 5 most important stories


@subcommand("status", usage="status [ELEMENT]")
def status(inv: Invocation, deps: Deps) -> Reply:
    """An element's card (symbol, English or Chinese name: `Dy`, `dysprosium`, `镝`); no argument: the board."""
    if not inv.args:
        card = board(board_rows(deps))
        return Reply(text=card.text, blocks=card.blocks, shareable=True)
    symbol = element(" ".join(inv.args))
    now = time.time()
    st = deps.status.get(symbol)
    # The newest LATEST ids straight from the element's index, then one MGET: EventStore.recent() reads
    # pages of 200 events whatever the limit, which costs ~10x more here (reported to its owner, issue 3).
    ids = deps.redis.zrevrange(deps.keys.events_by_element(symbol), 0, LATEST - 1)
    events = deps.events.get_many(ids)
    counts = deps.events.daily_counts(symbol, days=14)
    uses, supply = element_facts(symbol)
    current = oncall_now(deps, now)
    card = element_card(elements.catalogue()[symbol], level=st.level.value, why=st.reason,
                        measures=measures_for(symbol, now), uses=uses, supply=supply, events=events, counts=counts,
                        oncall=f"<@{current.primary}>" if current else None, now=now)
    return Reply(text=card.text, blocks=card.blocks, shareable=True)


@subcommand("history", usage="history ELEMENT")
def history(inv: Invocation, deps: Deps) -> Reply:
    """An element's status changes, newest first, with who or what changed it and why."""
    if not inv.args:
        raise UsageError("Name an element.")
    symbol = element(" ".join(inv.args))
    changes = deps.status.history(symbol, limit=20)
    name = elements.catalogue()[symbol].name_en
    lines = [f"`{time.strftime('%Y-%m-%d %H:%M', time.gmtime(c.at))}` {LEVEL_ICON.get(str(c.old), '⚪')} {c.old} → "
             f"{LEVEL_ICON.get(str(c.new), '⚪')} *{c.new}*" + (f" by <@{c.author}>" if c.author else " (automatic)")
             + (f": {escape(c.reason)}" if c.reason else "") for c in changes]
    title = f"{name} ({symbol}) status history"
    blocks = [header(title), *(sections(lines) or sections(["No status changes recorded yet."])),
              context("Times are UTC.")]
    return Reply(text=f"{title}: {len(changes)} changes", blocks=blocks, shareable=True)


@subcommand("set", usage="set ELEMENT normal|watch|elevated|critical|auto REASON", admin=True)
def set_(inv: Invocation, deps: Deps) -> Reply:
    """Override an element's status level by hand, with a reason (recorded in its history)."""
    if len(inv.args) < 3:
        raise UsageError("Give the element, the level and a reason.")
    symbol = element(inv.args[0])
    word = inv.args[1].lower()
    try:
        level = None if word in ("auto", "clear") else Level(word)
    except ValueError:
        raise UsageError(f"`{inv.args[1]}` is not a level: use normal, watch, elevated, critical, or auto "
                         "(back to the computed level).") from None
    reason = " ".join(inv.args[2:])
    change = deps.status.set_override(symbol, level, reason, inv.user_id)
    name = elements.catalogue()[symbol].name_en
    shown = level.value if level else "its computed level"
    if change is None:
        return Reply(text=f"<@{inv.user_id}> set {name} ({symbol}) to {shown}; it already was, and the reason "
                          f"is recorded in `{inv.command} history {symbol}`: {escape(reason)}", ephemeral=False)
    return Reply(text=f"{LEVEL_ICON.get(change.new.value, '⚪')} <@{inv.user_id}> set {name} ({symbol}) from "
                      f"{change.old.value} to *{change.new.value}*: {escape(reason)}", ephemeral=False)
