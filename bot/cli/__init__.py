"""`reewatch`: the command line. Each module below registers its subcommands; this one dispatches
and turns the project's errors into exit codes (0 ok, 1 runtime failure, 2 bad input or config).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from core.errors import ConfigError, ReewatchError, UsageError

#: Modules that add subcommands, in the order `reewatch --help` lists them.
COMMAND_MODULES = ("processes", "feeds", "intel", "slack", "demo", "ops")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reewatch",
        description="Rare-earth and critical-mineral supply awareness in Slack.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"bot.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result = args.handler(args)
    except (ConfigError, UsageError) as exc:
        print(f"reewatch: {exc}", file=sys.stderr)
        return 2
    except ReewatchError as exc:
        print(f"reewatch: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return int(result or 0)
