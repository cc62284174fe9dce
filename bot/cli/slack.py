"""`ask`: run a slash command through the real Bolt app and print the reply."""

from __future__ import annotations

from typing import Any

from bot.cli.common import add, not_yet


def register(sub: Any) -> None:
    ask = add(sub, "ask", not_yet("the Slack app, issue 6"),
              'run a slash command through the real Bolt app, e.g. reewatch ask "/ree status Dy"')
    ask.add_argument("command_line", metavar="COMMAND")
    ask.add_argument("--json", action="store_true")
