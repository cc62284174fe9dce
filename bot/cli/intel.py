"""`explain`: what the tagger and scorer see in a text."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from bot.cli.common import add
from core.errors import UsageError
from core.models import TIERS


def explain(args: argparse.Namespace) -> int:
    """Print the elements, topics, severity and every matched term of TEXT (first line = headline)."""
    from core.intel import analyze

    raw = " ".join(args.text).strip() if isinstance(args.text, list) else str(args.text).strip()
    if raw == "-":
        raw = sys.stdin.read().strip()
    if not raw:
        raise UsageError("explain needs some text, e.g. reewatch explain \"China bans dysprosium exports\"")
    title, _, body = raw.partition("\n")
    analysis = analyze(title, body, tier=args.tier)
    if args.json:
        print(json.dumps(analysis.to_dict(), ensure_ascii=False))
        return 0
    print(f"severity: {analysis.severity.value}")
    print(f"elements: {', '.join(analysis.elements) or '(none)'}")
    print(f"topics:   {', '.join(analysis.topics) or '(none)'}")
    if analysis.matches:
        print("matches:")
        width = max(len(m.term) for m in analysis.matches)
        for m in analysis.matches:
            print(f"  {m.term:<{width}}  {m.kind:<9} [{m.span[0]}:{m.span[1]}]  {m.detail}")
    else:
        print("matches:  (none)")
    return 0


def register(sub: Any) -> None:
    parser = add(sub, "explain", explain,
                 "show the elements, severity and matched terms the tagger and scorer find in TEXT")
    parser.add_argument("text", metavar="TEXT", nargs="+",
                        help="headline, optionally a newline and body text; '-' reads standard input")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--tier", choices=TIERS, default="other",
                        help="source tier the text comes from (official sources weigh more)")
