"""The sandbox's routes on the Slack stand-in: state for the page, and the user's commands and clicks
sent to the bot as real signed Slack requests."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.signed import TEAM_ID, app_home_opened, signed, slash_command
from tests.fakes.slack_api import SlackStandIn

log = logging.getLogger(__name__)

Answer = tuple[int, str, bytes]
STATIC = {"/": ("index.html", "text/html; charset=utf-8"),
          "/sandbox/app.js": ("app.js", "text/javascript; charset=utf-8"),
          "/sandbox/style.css": ("style.css", "text/css; charset=utf-8")}


@dataclass(frozen=True)
class DemoUser:
    id: str
    name: str
    real_name: str
    title: str = ""


@dataclass
class _Pending:
    """Where a response_url reply belongs: the command or the clicked message that gave it out."""

    kind: str  # "command" | "action"
    channel: str
    user: str
    ts: str = ""
    handled: int = 0


@dataclass
class _Local:
    """A message only the sandbox knows: the ack reply to a command, or a response_url reply."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    visible_to: str | None  # None: everyone (in_channel)
    kind: str  # "invocation" | "reply"
    user: str = ""


@dataclass
class Sandbox:
    """Routes for the sandbox page on `standin`; commands and clicks go to `bot_url` + /slack/events."""

    standin: SlackStandIn
    bot_url: str
    signing_secret: str
    users: list[DemoUser] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    command: str = "/ree"
    timeout: float = 15.0
    _pending: dict[str, _Pending] = field(default_factory=dict)
    _local: list[_Local] = field(default_factory=list)
    _overlay: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    _version: int = 0
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def attach(self) -> Sandbox:
        for user in self.users:
            self.standin.add_user(user.id, name=user.name, real_name=user.real_name, title=user.title)
        for path, (name, ctype) in STATIC.items():
            self.standin.add_page(path, lambda _s, _q, name=name, ctype=ctype: _static_page(name, ctype))
        self.standin.add_page("/sandbox/state", lambda _s, query: self._json(self.state(query.get("user", ""),
                                                                                       query.get("since"))))
        self.standin.add_action("/sandbox/command", lambda _s, p: self._json(self.run_command(p)))
        self.standin.add_action("/sandbox/action", lambda _s, p: self._json(self.click(p)))
        self.standin.add_action("/sandbox/home", lambda _s, p: self._json(self.open_home(str(p.get("user", "")))))
        return self

    @property
    def url(self) -> str:
        return self.standin.base_url + "/"

    # --- what the page draws -------------------------------------------------------------------
    def version(self) -> int:
        with self._lock:
            return len(self.standin.calls) + self._version

    def state(self, user: str, since: str | None = None) -> dict[str, Any]:
        """Channels with messages and threads, DMs, the App Home of `user`, and a version number."""
        self._take_responses()
        version = self.version()
        if since is not None and since == str(version):
            return {"version": version}
        names = {self._dm_id(u.id): u for u in self.users}
        seen = self.standin.channels()
        channels = []
        for ch in [*self.channels, *[c for c in seen if c not in self.channels]]:
            dm = names.get(ch)
            channels.append({
                "id": ch, "name": f"{dm.real_name}" if dm else ch.lstrip("#"),
                "kind": "dm" if ch.startswith("D") else "channel", "dm_user": dm.id if dm else None,
                "messages": self._channel_messages(ch, user),
            })
        home = self.standin.home_views.get(user)
        return {"version": version, "command": self.command, "bot_url": self.bot_url,
                "users": [u.__dict__ for u in self.users], "channels": channels, "home": home}

    def _channel_messages(self, channel: str, user: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for msg in self.standin.messages(channel):
            overlay = self._overlay.get((channel, msg.ts), {})
            if overlay.get("deleted"):
                continue
            api = msg.to_api()
            out.append({
                "ts": msg.ts, "author": "bot", "text": overlay.get("text", msg.text),
                "blocks": overlay.get("blocks", msg.blocks), "attachments": msg.params.get("attachments") or [],
                "edited": bool(msg.edits or overlay), "ephemeral": False,
                "replies": [{"ts": r.ts, "author": "bot", "text": r.text, "blocks": r.blocks, "edited": bool(r.edits),
                             "attachments": r.params.get("attachments") or []}
                            for r in self.standin.thread(channel, msg.ts)],
                "reply_count": api.get("reply_count", 0),
            })
        for eph in list(self.standin.ephemerals):
            if eph["channel"] == channel and eph["user"] == user:
                out.append({"ts": eph["ts"], "author": "bot", "text": eph.get("text") or "",
                            "blocks": eph.get("blocks") or [], "ephemeral": True, "replies": []})
        with self._lock:
            for loc in self._local:
                if loc.channel == channel and loc.visible_to in (None, user):
                    out.append({"ts": loc.ts, "author": loc.user if loc.kind == "invocation" else "bot",
                                "kind": loc.kind, "text": loc.text, "blocks": loc.blocks,
                                "ephemeral": loc.visible_to is not None, "replies": []})
        return sorted(out, key=lambda m: float(m["ts"]))

    def _take_responses(self) -> None:
        """Fold replies posted to our response_urls into the view, as Slack would show them."""
        with self._lock:
            for rid, pending in self._pending.items():
                posted = self.standin.responses.get(rid, [])
                for payload in posted[pending.handled:]:
                    self._apply_response(pending, payload)
                pending.handled = len(posted)

    def _apply_response(self, pending: _Pending, payload: dict[str, Any]) -> None:
        blocks = payload.get("blocks") or []
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        flag = lambda name: payload.get(name) in (True, "true", "1", 1)  # noqa: E731
        if pending.kind == "action" and pending.ts and flag("delete_original"):
            self._overlay[(pending.channel, pending.ts)] = {"deleted": True}
        elif pending.kind == "action" and pending.ts and flag("replace_original"):
            self._overlay[(pending.channel, pending.ts)] = {"text": str(payload.get("text") or ""), "blocks": blocks}
            for loc in self._local:  # an ephemeral reply being replaced is one of ours
                if loc.ts == pending.ts:
                    loc.text, loc.blocks = str(payload.get("text") or ""), blocks
        else:
            visible = None if payload.get("response_type") == "in_channel" else pending.user
            self._add_local(pending.channel, str(payload.get("text") or ""), blocks, visible, "reply")
        self._version += 1

    def _add_local(self, channel: str, text: str, blocks: list[dict[str, Any]], visible_to: str | None,
                   kind: str, user: str = "") -> _Local:
        loc = _Local(channel, f"{time.time():.6f}", text, blocks, visible_to, kind, user)
        with self._lock:
            self._local.append(loc)
            self._version += 1
        return loc

    # --- what the user does ----------------------------------------------------------------------
    def run_command(self, params: dict[str, Any]) -> dict[str, Any]:
        """`/ree TEXT` typed by `user` in `channel`: a signed slash command; its ack reply is shown."""
        user, channel = str(params.get("user") or ""), str(params.get("channel") or "")
        text = str(params.get("text") or "").strip()
        if text.startswith(self.command):
            text = text[len(self.command):].strip()
        rid = uuid.uuid4().hex
        with self._lock:
            self._pending[rid] = _Pending("command", channel, user)
        self._add_local(channel, f"{self.command} {text}".strip(), [], user, "invocation", user)
        req = slash_command(text, secret=self.signing_secret, command=self.command, user_id=user,
                            channel_id=channel, response_url=self.standin.response_url(rid),
                            trigger_id=f"{int(time.time())}.{rid[:8]}")
        status, reply = self._post(req.body, req.headers)
        if status != 200:
            self._add_local(channel, f":warning: the bot answered HTTP {status}", [], user, "reply")
        elif reply.get("text") or reply.get("blocks"):
            visible = None if reply.get("response_type") == "in_channel" else user
            self._add_local(channel, str(reply.get("text") or ""), reply.get("blocks") or [], visible, "reply")
        return {"ok": status == 200, "status": status, "reply": reply, "response_url": self.standin.response_url(rid)}

    def click(self, params: dict[str, Any]) -> dict[str, Any]:
        """A button click on a message (or the App Home): a signed block_actions payload."""
        user, channel, ts = str(params.get("user") or ""), str(params.get("channel") or ""), str(params.get("ts") or "")
        rid = uuid.uuid4().hex
        action = {"action_id": str(params.get("action_id") or ""), "block_id": str(params.get("block_id") or ""),
                  "type": "button", "action_ts": f"{time.time():.6f}",
                  "text": {"type": "plain_text", "text": str(params.get("text") or ""), "emoji": True}}
        if params.get("value") is not None:
            action["value"] = str(params["value"])
        payload: dict[str, Any] = {
            "type": "block_actions", "api_app_id": "A0REEWATCH", "token": "deprecated",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
            "team": {"id": TEAM_ID, "domain": "reewatch"}, "trigger_id": f"{int(time.time())}.{rid[:8]}",
            "response_url": self.standin.response_url(rid), "actions": [action], "state": {"values": {}},
        }
        if params.get("view"):
            view = self.standin.home_views.get(user) or {}
            payload["container"] = {"type": "view", "view_id": view.get("id", "")}
            payload["view"] = view
            channel, ts = "", ""
        else:
            message = self.standin.message(channel, ts)
            ephemeral = message is None
            body = message.to_api() if message else self._local_message(ts)
            payload["container"] = {"type": "message", "message_ts": ts, "channel_id": channel,
                                    "is_ephemeral": ephemeral}
            payload["channel"] = {"id": channel, "name": channel.lstrip("#")}
            payload["message"] = body
        with self._lock:
            self._pending[rid] = _Pending("action", channel, user, ts)
        req = signed(urlencode({"payload": json.dumps(payload)}), secret=self.signing_secret,
                     content_type="application/x-www-form-urlencoded")
        status, reply = self._post(req.body, req.headers)
        if status != 200 and channel:
            self._add_local(channel, f":warning: the bot answered HTTP {status}", [], user, "reply")
        return {"ok": status == 200, "status": status, "reply": reply, "response_url": self.standin.response_url(rid)}

    def open_home(self, user: str) -> dict[str, Any]:
        """The user opened the App Home tab: a signed app_home_opened event."""
        req = app_home_opened(user, secret=self.signing_secret, event_id=f"Ev{uuid.uuid4().hex[:12].upper()}")
        status, _reply = self._post(req.body, req.headers)
        return {"ok": status == 200, "status": status}

    def _local_message(self, ts: str) -> dict[str, Any]:
        with self._lock:
            loc = next((m for m in self._local if m.ts == ts), None)
        return {"type": "message", "ts": ts, "text": loc.text if loc else "", "blocks": loc.blocks if loc else []}

    def _post(self, body: str, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        try:
            resp = httpx.post(self.bot_url.rstrip("/") + "/slack/events", content=body.encode("utf-8"),
                              headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            log.warning("the bot did not answer: %s", exc)
            return 502, {"error": f"the bot did not answer: {exc}"}
        try:
            reply = resp.json() if resp.content else {}
        except ValueError:
            reply = {"text": resp.text}
        return resp.status_code, reply if isinstance(reply, dict) else {}

    # --- plumbing ----------------------------------------------------------------------------------
    @staticmethod
    def _dm_id(user: str) -> str:
        """The DM channel id the stand-in's conversations.open gives for one user."""
        return "D" + format(zlib.crc32(user.encode()), "08X")

    @staticmethod
    def _json(body: dict[str, Any]) -> Answer:
        return 200, "application/json; charset=utf-8", json.dumps(body, ensure_ascii=False).encode("utf-8")


def _static_page(name: str, ctype: str) -> Answer:
    """Read on every request, so an edit to the page shows on reload."""
    body = resources.files(__package__).joinpath("static", name).read_bytes()
    return 200, ctype, body
