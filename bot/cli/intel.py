"""`explain`: what the tagger and scorer see in a text."""

from __future__ import annotations

from typing import Any

from bot.cli.common import add, not_yet


def register(sub: Any) -> None:
    explain = add(sub, "explain", not_yet("element intelligence, issue 4"),
                  "show the elements, severity and matched terms the tagger and scorer find in TEXT")
    explain.add_argument("text", metavar="TEXT")
    explain.add_argument("--json", action="store_true")
