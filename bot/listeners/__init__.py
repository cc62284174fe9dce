"""Listener groups of the Bolt app. Each module has `register(app, deps)`; adding a group is one line."""

from __future__ import annotations

import importlib

from slack_bolt import App

from bot.deps import Deps

#: Registered in this order: global middleware first, then commands, buttons and events.
GROUPS: tuple[str, ...] = ("middleware", "commands", "actions", "events")


def register_all(app: App, deps: Deps) -> None:
    for group in GROUPS:
        importlib.import_module(f"bot.listeners.{group}").register(app, deps)
