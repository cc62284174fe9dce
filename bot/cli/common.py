"""Helpers shared by CLI commands: settings with logging configured, and Redis for one-shot commands."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from core.errors import UsageError
from core.logs import configure_logging
from core.redisconn import redis_url_or_embedded
from core.settings import Settings, load_settings

Handler = Callable[[argparse.Namespace], int | None]


def settings_for_command() -> Settings:
    settings = load_settings()
    configure_logging(fmt=settings.log_format, level=settings.log_level)
    return settings


@contextmanager
def settings_with_redis() -> Iterator[Settings]:
    """Settings whose redis_url is real: REDIS_URL, or an embedded server for this command's life."""
    settings = settings_for_command()
    with redis_url_or_embedded(settings.redis_url) as url:
        yield settings.model_copy(update={"redis_url": url})


def not_yet(issue: str) -> Handler:
    def handler(args: argparse.Namespace) -> int:
        raise UsageError(f"`reewatch {args.command}` is not available in this build yet ({issue})")

    return handler


def add(sub: Any, name: str, handler: Handler, help: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(handler=handler)
    return parser
