"""`status [ELEMENT]` (the element card, or the board), `history ELEMENT`, and `set ELEMENT LEVEL
REASON` (admins: a manual status override with an audit trail)."""

from __future__ import annotations

import time
from functools import lru_cache

from bot.commands import Invocation, Reply, subcommand
from bot.commands.lookup import element
from bot.deps import Deps
from bot.views import board_rows, element_facts, measures_for, oncall_now
from core import elements
from core.cards import LEVEL_ICON, Card, board, context, element_card, header, sections
from core.errors import UsageError
from core.events import CardParts
from core.models import Event, Level
from core.oncall_store import OverrideStore
from core.text import escape

LATEST = 20  # events read for the card; it shows the 5 most important stories
DAYS = 14  # the sparkline


@subcommand("status", usage="status [ELEMENT]")
def status(inv: Invocation, deps: Deps) -> Reply:
    """An element's card (symbol, English or Chinese name: `Dy`, `dysprosium`, `镝`); no argument: the board."""
    if not inv.args:
        card = board(board_rows(deps))
        return Reply(text=card.text, blocks=card.blocks, shareable=True)
    symbol = element(" ".join(inv.args))
    now = time.time()
    # Everything the card reads, in one round trip on every request (so it is never stale): status and
    # override, the newest event ids, daily counts and on-call overrides. Events are parsed once per
    # process (core.events caches them by id; one more MGET only for ids it has not seen).
    parts = deps.card_events.card_parts(symbol, latest=LATEST, days=DAYS, now=now, upcoming=deps.keys.oncall_override(),
                                        strings=[deps.keys.status(symbol), deps.keys.status_override(symbol)])
    config = deps.feeds_file().oncall
    read = (symbol, *parts.strings, tuple(parts.ids), tuple(parts.counts), tuple(parts.upcoming))
    hit = _CARDS.get(read)
    if hit is not None and hit[0] is config and hit[1] <= now < hit[2]:
        card, memo = hit[3], hit[4]
    else:
        card, memo, until = _element_card(deps, symbol, parts, now)
        if len(_CARDS) >= CARD_MEMO_SIZE:  # mostly entries of past minutes; clearing now and then bounds it
            _CARDS.clear()
        _CARDS[read] = (config, now, until, card, memo)
    # `memo` stands for the card's content: the listener reuses the JSON body it built for an equal one.
    return Reply(text=card.text, blocks=card.blocks, shareable=True, memo=memo)


#: Cards by what was read for them: (symbol, status, override, event ids, daily counts, on-call overrides)
#: -> (on-call config, valid from, valid until, card, memo key). Valid until the first moment the same read
#: could render differently: the next minute, the override's expiry, the next on-call boundary, the first
#: shown event's expiry. A different read (a new event, a status change, a new override) is another key.
_CARDS: dict[tuple[object, ...], tuple[object, float, float, Card, tuple[object, ...]]] = {}
CARD_MEMO_SIZE = 256


def _element_card(deps: Deps, symbol: str, parts: CardParts, now: float) -> tuple[Card, tuple[object, ...], float]:
    """The card from one card_parts() read, its memo key, and until when the same read renders the same."""
    st = deps.status.from_raw(symbol, parts.strings[0], parts.strings[1], now=now)
    events = deps.card_events.get_many_cached(parts.ids, now=now)
    mention, oncall_until = _oncall_mention(deps, now, parts.upcoming)
    minute = int(now // 60)
    key = (symbol, st.level.value, st.reason, _Shown(events), tuple(parts.counts), mention, minute)
    until = min((minute + 1) * 60.0, oncall_until, *(e.when + deps.card_events.retention for e in events))
    if parts.strings[0] is None:  # no stored status: from_raw derived one from other keys, not part of the read
        until = now
    elif st.override is not None and st.override.expires_at is not None:
        until = min(until, st.override.expires_at)
    return _card(*key), ("status", *key), until


#: (id of the on-call config, override members) -> (config, valid from, valid until, mention)
_ONCALL: dict[tuple[int, tuple[str, ...]], tuple[object, float, float, str]] = {}


def _oncall_mention(deps: Deps, now: float, upcoming: list[str]) -> tuple[str | None, float]:
    """`<@U...>` of who is on call at `now` (None without a rotation), and until when that holds. The answer is
    reused while it cannot change: on_call() gives `until`, the next shift end or override start/end, and a
    new or removed override changes `upcoming` (the zset members not yet ended), hence the key."""
    config = deps.feeds_file().oncall
    if config is None:
        return None, float("inf")
    key = (id(config), tuple(upcoming))
    hit = _ONCALL.get(key)
    if hit is not None and hit[0] is config and hit[1] <= now < hit[2]:
        return hit[3], hit[2]
    current = oncall_now(deps, now, OverrideStore.decode(upcoming))
    if current is None:  # feeds.yaml changed between the two reads
        return None, now
    mention, until = f"<@{current.primary}>", current.until.timestamp()
    if len(_ONCALL) >= 64:  # old overrides' keys; clearing now and then bounds the memo
        _ONCALL.clear()
    _ONCALL[key] = (config, now, until, mention)
    return mention, until


class _Shown:
    """The card's events as a memo key: stored events never change, so their ids stand for them."""

    __slots__ = ("events", "ids")

    def __init__(self, events: list[Event]) -> None:
        self.events, self.ids = events, tuple(e.id for e in events)

    def __hash__(self) -> int:
        return hash(self.ids)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Shown) and other.ids == self.ids


@lru_cache(maxsize=256)
def _card(symbol: str, level: str, why: str, shown: _Shown, counts: tuple[int, ...], oncall: str | None,
          minute: int) -> Card:
    """The rendered card, memoized on exactly what it shows. Times render against the start of the current
    minute (`5m ago`), so the same minute gives the same card; measures follow the day of that minute.
    Callers must not mutate the blocks (reply_payload and Share copy the list before adding to it)."""
    now = minute * 60.0
    uses, supply = element_facts(symbol)
    return element_card(elements.catalogue()[symbol], level=level, why=why, measures=measures_for(symbol, now),
                        uses=uses, supply=supply, events=shown.events, counts=counts, oncall=oncall, now=now)


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
