"""`ask`: run a slash command through the real Bolt app (a locally signed request) and print the reply."""

from __future__ import annotations

import argparse
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import SecretStr

from bot.cli.common import add, settings_with_redis
from core.errors import ReewatchError, UsageError


def register(sub: Any) -> None:
    ask = add(sub, "ask", cmd_ask,
              'run a slash command through the real Bolt app, e.g. reewatch ask "/ree status Dy"')
    ask.add_argument("command_line", metavar="COMMAND", help='the slash command as typed, e.g. "/ree status Dy"')
    ask.add_argument("--json", action="store_true", help="print the reply payload(s) as JSON")
    ask.add_argument("--user", default="U0CLI", help="Slack user id to ask as (admins: REEWATCH_ADMINS)")
    ask.add_argument("--channel", default="C0CLI", help="channel id to ask in")


def cmd_ask(args: argparse.Namespace) -> int:
    from bot.app import create_app
    from bot.deps import Deps
    from bot.signed import slash_command

    with settings_with_redis() as settings:
        command, _, text = args.command_line.strip().partition(" ")
        if not command.startswith("/"):
            command, text = settings.command, args.command_line.strip()
        if command != settings.command:
            raise UsageError(f"this app answers {settings.command}, not {command}")
        # A throw-away secret when none is configured: the request is signed and verified all the same.
        secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
        secret = secret or secrets.token_hex(16)
        settings = settings.model_copy(update={"slack_signing_secret": SecretStr(secret)})
        deps = Deps(settings)
        app = create_app(settings, deps=deps)
        with _response_catcher() as (url, follow_ups):
            req = slash_command(text, secret=secret, command=command, user_id=args.user, channel_id=args.channel,
                                response_url=url)
            resp = app.dispatch(req.bolt())
            deps.background.shutdown(wait=True)  # follow-ups (e.g. `feeds add`) post to the catcher
            deps.timer.flush()
        if resp.status != 200:
            raise ReewatchError(f"the app answered HTTP {resp.status}: {resp.body}")
        replies = [json.loads(resp.body) if resp.body else {}, *follow_ups]
        for reply in replies:
            print(json.dumps(reply, ensure_ascii=False) if args.json else as_text(reply))
    return 0


@contextmanager
def _response_catcher() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A loopback response_url that collects what the app posts to it."""
    caught: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            caught.append(json.loads(body or b"{}"))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/respond", caught
    finally:
        server.shutdown()
        server.server_close()


def as_text(reply: dict[str, Any]) -> str:
    """A reply as a terminal shows it: headers, sections, fields and context lines; buttons as [labels]."""
    blocks = reply.get("blocks") or []
    if not blocks:
        return str(reply.get("text", ""))
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines += ["", block["text"]["text"].upper()]
        elif kind == "section":
            if block.get("text"):
                lines.append(_plain(block["text"]["text"]))
            lines += [_plain(f["text"]) for f in block.get("fields") or []]
        elif kind == "context":
            lines.append("  " + " · ".join(_plain(e.get("text", "")) for e in block["elements"]))
        elif kind == "actions":
            lines.append(" ".join(f"[{e['text']['text']}]" for e in block["elements"] if e.get("text")))
        elif kind == "divider":
            lines.append("-" * 40)
    return "\n".join(lines).strip()


def _plain(mrkdwn: str) -> str:
    import re

    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", mrkdwn)
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]+)>", r"\1", text)
    text = re.sub(r"<[@#]([A-Z0-9]+)(\|[^>]*)?>", r"@\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
