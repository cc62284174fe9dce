"""`events [ELEMENT|KEYWORD] [24h|7d|30d]`: recent events, one line per story cluster, most severe
and newest first."""

from __future__ import annotations

import re
import time

from bot.commands import Invocation, Reply, subcommand
from bot.commands.lookup import maybe_element, suggest
from bot.deps import Deps
from core import elements
from core.cards import event_list
from core.errors import UsageError

DEFAULT_WINDOW = "7d"
MAX_WINDOW_DAYS = 30
_WINDOW = re.compile(r"(\d{1,3})([hd])")
_WINDOWISH = re.compile(r"\d+[a-z]{1,3}")  # "3y" or "2wk" is a mistyped window, not a keyword


@subcommand("events", usage="events [ELEMENT|KEYWORD] [24h|7d|30d]")
def events(inv: Invocation, deps: Deps) -> Reply:
    """Recent events for an element or a keyword (default: everything, last 7 days), one line per story."""
    words = list(inv.args)
    window = DEFAULT_WINDOW
    if words and _WINDOWISH.fullmatch(words[-1].lower()):
        window = words.pop().lower()
    seconds = window_seconds(window)
    query = " ".join(words)
    symbol = maybe_element(query) if query else None
    if query and symbol is None and len(words) == 1 and suggest(query) and not query.startswith('"'):
        # A near-miss of an element name is more likely a typo than a keyword search.
        close = elements.catalogue()[suggest(query)[0]].name_en.lower()
        if close != query.lower():
            found = deps.events.recent(keyword=query, since=time.time() - seconds, limit=1)
            if not found:
                raise UsageError(f"No events mention `{query}`. Did you mean `{close}`?")
    now = time.time()
    found = deps.events.recent(element=symbol, keyword=None if symbol else (query or None), since=now - seconds,
                               limit=50)
    subject = (f"{elements.catalogue()[symbol].name_en} ({symbol})" if symbol else f'"{query}"' if query
               else "All elements")
    card = event_list(f"{subject}: events, last {window}", found, now,
                      empty=f"Nothing in the last {window}.")
    return Reply(text=card.text, blocks=card.blocks, shareable=True)


def window_seconds(window: str) -> float:
    match = _WINDOW.fullmatch(window)
    if not match:
        raise UsageError(f"`{window}` is not a window: use 24h, 7d or 30d.")
    n, unit = int(match[1]), match[2]
    seconds = n * (3600 if unit == "h" else 86400)
    if not 0 < seconds <= MAX_WINDOW_DAYS * 86400:
        raise UsageError(f"The window must be between 1h and {MAX_WINDOW_DAYS}d.")
    return float(seconds)
