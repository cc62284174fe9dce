"""From slash-command text to a Reply: split the arguments, find the subcommand, check admin rights,
run the handler, and turn a UsageError into a usage line. The one boundary where handler errors stop.
"""

from __future__ import annotations

import difflib
import logging
import re
import shlex
from typing import Any

from bot.commands import Invocation, Reply, Subcommand, load_all
from bot.deps import Deps
from core.errors import UsageError

log = logging.getLogger(__name__)

#: What makes shlex differ from splitting on its whitespace (space, tab, CR, LF): quotes and escapes.
_SHELL_CHARS = frozenset("\"'\\")
_SPACES = re.compile(r"[ \t\r\n]+")
#: Typographic quotes that phones and macOS substitute for `"`; shlex only knows ASCII quotes.
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "「": '"', "」": '"'})


def split_args(text: str) -> list[str]:
    """Shell-like split that keeps "rare earth" together and never fails on an unbalanced quote."""
    text = text.translate(_QUOTES).strip()
    if not _SHELL_CHARS.intersection(text):  # nothing shlex would treat specially: split on its whitespace
        return _SPACES.split(text) if text else []
    try:
        return shlex.split(text)
    except ValueError:  # unbalanced quote: fall back to whitespace
        return text.replace('"', " ").split()


def invocation(command: dict[str, Any], deps: Deps) -> Invocation:
    """An Invocation from Bolt's `command` payload (form fields of a slash command)."""
    raw = (command.get("text") or "").strip()
    words = split_args(raw)
    user = str(command.get("user_id") or "")
    return Invocation(
        command=str(command.get("command") or deps.settings.command),
        name=words[0].lower() if words else "",
        args=words[1:],
        raw=raw,
        user_id=user,
        channel_id=str(command.get("channel_id") or ""),
        team_id=str(command.get("team_id") or ""),
        is_admin=deps.settings.is_admin(user),
        response_url=command.get("response_url"),
    )


def dispatch(inv: Invocation, deps: Deps) -> Reply:
    """The Reply for one invocation; never raises (an unexpected error becomes a short apology)."""
    registry = load_all()
    if not inv.name:
        inv = Invocation(**{**inv.__dict__, "name": "help"})
    entry = registry.get(inv.name)
    if entry is None:
        return unknown_subcommand(inv, registry)
    if entry.admin and not inv.is_admin:
        return refused(inv, entry, deps)
    try:
        return entry.handler(inv, deps)
    except UsageError as exc:
        return usage(inv, entry, str(exc))
    except Exception:
        log.exception("subcommand failed", extra={"subcommand": entry.name, "channel": inv.channel_id})
        return Reply(text=f":warning: `{inv.command} {entry.name}` failed on our side; the error is logged. "
                          "Please try again in a minute.")


def usage(inv: Invocation, entry: Subcommand, problem: str = "") -> Reply:
    line = f"Usage: `{inv.command} {entry.usage}`"
    return Reply(text=f"{problem}\n{line}" if problem else line)


def unknown_subcommand(inv: Invocation, registry: dict[str, Subcommand]) -> Reply:
    close = difflib.get_close_matches(inv.name, list(registry), n=1, cutoff=0.6)
    hint = f" Did you mean `{inv.command} {registry[close[0]].name}`?" if close else ""
    return Reply(text=f"I don't know `{inv.name}`.{hint} `{inv.command} help` lists every subcommand.")


def refused(inv: Invocation, entry: Subcommand, deps: Deps) -> Reply:
    return Reply(text=refused_text(inv, entry.name, deps))


def refused_text(inv: Invocation, what: str, deps: Deps) -> str:
    """The polite refusal for a non-admin mutation, naming who can do it."""
    admins = deps.settings.admins
    who = ", ".join(f"<@{a}>" for a in admins[:5]) if admins else "nobody yet (REEWATCH_ADMINS is empty)"
    return (f"Sorry, `{inv.command} {what}` changes shared settings, so only reewatch admins can run it. "
            f"Admins: {who}.")
