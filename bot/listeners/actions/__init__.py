"""Button listeners. Each module below has `register(app, deps)`; adding one is one line here.

`share` re-posts a lookup in the channel; `incidents` (the on-call part) acknowledges and resolves
incidents from the escalation message; `links` acks the "Open article" URL button of event posts.
"""

from __future__ import annotations

import importlib

from slack_bolt import App

from bot.deps import Deps

ACTION_MODULES: tuple[str, ...] = ("share", "incidents", "links")


def register(app: App, deps: Deps) -> None:
    for name in ACTION_MODULES:
        importlib.import_module(f"bot.listeners.actions.{name}").register(app, deps)
