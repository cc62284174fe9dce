"""The `/ree` subcommand registry. A subcommand is one function plus one decorator line; its
docstring's first paragraph is its help text, so `/ree help` is generated from the handlers.

    @subcommand("status", usage="status [ELEMENT]")
    def status(inv: Invocation, deps: Deps) -> Reply:
        \"\"\"An element's card, or the board of watched elements.\"\"\"

Handlers are fast: they read Redis (pipelined) and render; anything slow is enqueued as a job.
Modules holding subcommands are listed in SUBCOMMAND_MODULES and imported by `load_all()`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from bot.deps import Deps

#: Modules under bot/commands/ that define subcommands, in the order `/ree help` lists them.
SUBCOMMAND_MODULES: tuple[str, ...] = ("help", "status", "events", "controls", "subscriptions", "feeds", "oncall")


@dataclass(frozen=True)
class Invocation:
    """One slash command as the handler sees it."""

    command: str  # "/ree"
    name: str  # the subcommand, lower-cased ("status")
    args: list[str]  # the rest, shell-like split (quotes keep "rare earth" together)
    raw: str  # everything after the command, as typed
    user_id: str
    channel_id: str
    team_id: str = ""
    is_admin: bool = False
    response_url: str | None = None


@dataclass
class Reply:
    """What a handler answers. Lookups are ephemeral with a "Share in channel" button by default."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)
    ephemeral: bool = True
    shareable: bool = False
    #: Slow work (a feed fetch, a Slack call) run after the ack; its Reply goes out via response_url.
    later: Callable[[], Reply] | None = None
    #: Optional hashable key standing for `text` and `blocks` (equal keys mean equal content), so the
    #: listener can reuse the JSON body it serialized for an earlier identical reply.
    memo: Hashable | None = None


Handler = Callable[[Invocation, Deps], Reply]


@dataclass(frozen=True)
class Subcommand:
    name: str
    usage: str
    handler: Handler
    admin: bool = False  # mutations: refused politely unless the user is in REEWATCH_ADMINS
    aliases: tuple[str, ...] = ()

    @property
    def help(self) -> str:
        doc = inspect.getdoc(self.handler) or ""
        return doc.split("\n\n")[0].replace("\n", " ").strip()


REGISTRY: dict[str, Subcommand] = {}


def subcommand(name: str, *, usage: str, admin: bool = False,
               aliases: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        entry = Subcommand(name=name, usage=usage, handler=handler, admin=admin, aliases=aliases)
        for key in (name, *aliases):
            if key in REGISTRY and REGISTRY[key].handler is not handler:
                raise ValueError(f"subcommand {key!r} registered twice")
            REGISTRY[key] = entry
        return handler

    return register


_loaded = False


def load_all() -> dict[str, Subcommand]:
    """The registry with every subcommand module imported (imports once; later calls just return it)."""
    global _loaded
    if not _loaded:
        for module in SUBCOMMAND_MODULES:
            importlib.import_module(f"bot.commands.{module}")
        _loaded = True
    return REGISTRY
