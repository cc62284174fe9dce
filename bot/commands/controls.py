"""`controls [ELEMENT]`: the export-control timeline and its current state."""

from __future__ import annotations

import time

from bot.commands import Invocation, Reply, subcommand
from bot.commands.lookup import element
from bot.deps import Deps
from bot.views import measures_for
from core import elements
from core.cards import controls_card


@subcommand("controls", usage="controls [ELEMENT]")
def controls(inv: Invocation, deps: Deps) -> Reply:
    """Export-control measures, newest first, with their state and review warnings; all elements without ELEMENT."""
    symbol = element(" ".join(inv.args)) if inv.args else None
    title = (f"{elements.catalogue()[symbol].name_en} ({symbol}) export controls" if symbol
             else "Export controls")
    card = controls_card(title, measures_for(symbol, time.time()))
    return Reply(text=card.text, blocks=card.blocks, shareable=True)
