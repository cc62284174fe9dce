"""Events API listeners. Each module below has `register(app, deps)`."""

from __future__ import annotations

import importlib

from slack_bolt import App

from bot.deps import Deps

EVENT_MODULES: tuple[str, ...] = ("home",)


def register(app: App, deps: Deps) -> None:
    for name in EVENT_MODULES:
        importlib.import_module(f"bot.listeners.events.{name}").register(app, deps)
