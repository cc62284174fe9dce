"""`help`: every subcommand, generated from the handlers' usage lines and docstrings."""

from __future__ import annotations

from bot.commands import REGISTRY, Invocation, Reply, subcommand
from bot.deps import Deps
from core.cards import context, header, sections


@subcommand("help", usage="help")
def help_(inv: Invocation, deps: Deps) -> Reply:
    """Every subcommand and what it does."""
    seen: list[str] = []
    lines = []
    for entry in REGISTRY.values():
        if entry.name in seen:
            continue
        seen.append(entry.name)
        admin = " _(admins)_" if entry.admin else ""
        lines.append(f"`{inv.command} {entry.usage}`{admin}\n      {entry.help}")
    text = "reewatch commands:\n" + "\n".join(f"{inv.command} {REGISTRY[n].usage}" for n in seen)
    blocks = [header("reewatch commands"), *sections(lines),
              context("Answers are shown only to you; use *Share in channel* to post one for everyone.")]
    return Reply(text=text, blocks=blocks)
