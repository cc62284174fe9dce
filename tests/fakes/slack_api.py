"""A Slack Web API stand-in: a real HTTP server on loopback that behaves like slack.com/api for the
methods reewatch calls, for tests, benchmarks and the demo.

    with SlackStandIn() as slack:
        settings.slack_api_url = slack.api_url      # http://127.0.0.1:PORT/api/
        ... post ...
        slack.messages("C1")                        # top-level messages, oldest first
        slack.thread("C1", ts)                      # replies under a message

It checks the bearer token (`invalid_auth` / `not_authed`), Block Kit limits (`invalid_blocks`, via
core.blockkit), answers HTTP 429 with Retry-After when a channel is posted to faster than its
per-channel allowance (a token bucket: `channel_rate` messages/s with bursts of `channel_burst`),
can be told to fail (`fail_next`, `outage`, `set_channel_error`), and records every call (`calls`,
`on_call` listeners). `POST /respond/<id>` stands in for a `response_url`. Bodies are read as
slack_sdk sends them: JSON for chat.* and views.*, form or query string for the rest.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from core.blockkit import MAX_TEXT, validate_message, validate_view

DEFAULT_TOKEN = "xoxb-test-token"
TEAM_ID = "T0REEWATCH"
BOT_USER_ID = "U0REEBOT"
BOT_ID = "B0REEBOT"


@dataclass
class Call:
    """One request the stand-in answered."""

    method: str  # "chat.postMessage", or "respond" for response_url posts
    params: dict[str, Any]
    status: int
    response: dict[str, Any]
    at: float
    token: str | None = None
    retry_after: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        return None if self.ok else str(self.response.get("error", f"http_{self.status}"))


@dataclass
class Message:
    """A message as the stand-in stores it (edits replace text and blocks, keeping `edits`)."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    metadata: dict[str, Any] | None = None
    unfurl_links: bool | None = None
    unfurl_media: bool | None = None
    edits: int = 0
    reply_ts: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        msg: dict[str, Any] = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": self.ts,
                               "text": self.text, "blocks": copy.deepcopy(self.blocks)}
        if self.thread_ts:
            msg["thread_ts"] = self.thread_ts
        if self.reply_ts:
            msg["thread_ts"] = self.ts
            msg["reply_count"] = len(self.reply_ts)
        if self.metadata:
            msg["metadata"] = copy.deepcopy(self.metadata)
        if self.edits:
            msg["edited"] = {"user": BOT_USER_ID, "ts": self.ts}
        return msg


@dataclass
class _Failure:
    error: str
    times: int
    status: int


class _Bucket:
    """Token bucket: `burst` messages at once, refilled at `rate` per second."""

    __slots__ = ("at", "burst", "rate", "tokens")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate, self.burst, self.tokens, self.at = rate, burst, float(burst), now

    def take(self, now: float) -> float:
        """0.0 when a token was taken, else seconds until one is available."""
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


Listener = Callable[[Call], None]
Page = Callable[["SlackStandIn", dict[str, str]], tuple[int, str, bytes]]


class SlackStandIn:
    """The stand-in server. Thread-safe; use as a context manager or `start()`/`stop()`."""

    def __init__(self, *, token: str | tuple[str, ...] = DEFAULT_TOKEN, channel_rate: float = 1.0,
                 channel_burst: int = 3, rate_limit: bool = True, host: str = "127.0.0.1", port: int = 0,
                 resolve_names: bool = False) -> None:
        self.tokens = {token} if isinstance(token, str) else set(token)
        self.channel_rate = channel_rate
        self.channel_burst = channel_burst
        self.rate_limit = rate_limit
        # Like Slack: chat.postMessage takes "#name" and answers with the channel's id; every other
        # method takes ids only. Off by default so the demo's sandbox can show readable names.
        self.resolve_names = resolve_names
        self.channel_ids: dict[str, str] = {}
        self.calls: list[Call] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.home_views: dict[str, dict[str, Any]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.responses: dict[str, list[dict[str, Any]]] = {}
        self.pages: dict[str, Page] = {}
        self.actions: dict[str, Page] = {}  # POST routes of the demo's sandbox page (tests/fakes/sandbox)
        self._messages: dict[str, dict[str, Message]] = {}  # channel -> ts -> message (insertion order)
        self._channel_errors: dict[str, str] = {}
        self._extra_channels: list[str] = []  # add_channel(): channels that exist without messages
        self._member_of: dict[str, list[str]] = {}  # set_member_channels(): users.conversations per user
        self._failures: dict[str, list[_Failure]] = {}
        self._outage: int | None = None
        self._buckets: dict[str, _Bucket] = {}
        self._listeners: list[Listener] = []
        self._last_ts = 0.0
        self._lock = threading.RLock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="slack-standin", daemon=True)

    # --- lifecycle and addresses ------------------------------------------------------------
    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """Use as SLACK_API_URL."""
        return f"{self.base_url}/api/"

    def response_url(self, response_id: str) -> str:
        """A response_url for a slash command or action payload; posts to it land in `responses`."""
        return f"{self.base_url}/respond/{response_id}"

    def start(self) -> SlackStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> SlackStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- steering ------------------------------------------------------------------------------
    def fail_next(self, method: str, error: str, times: int = 1, *, status: int | None = None) -> None:
        """The next `times` calls of `method` fail with `error` (`ratelimited` answers 429, `http_5xx` that status)."""
        if status is None:
            status = 429 if error == "ratelimited" else int(error[5:]) if error.startswith("http_") else 200
        with self._lock:
            self._failures.setdefault(method, []).append(_Failure(error, times, status))

    def set_outage(self, status: int | None = 503) -> None:
        """Every API call answers `status` until `set_outage(None)`."""
        with self._lock:
            self._outage = status

    @contextmanager
    def outage(self, status: int = 503) -> Iterator[None]:
        self.set_outage(status)
        try:
            yield
        finally:
            self.set_outage(None)

    def set_channel_error(self, channel: str, error: str | None) -> None:
        """Posts to `channel` fail with `error` (channel_not_found, not_in_channel, is_archived) until cleared."""
        with self._lock:
            if error is None:
                self._channel_errors.pop(channel, None)
            else:
                self._channel_errors[channel] = error

    def add_user(self, user_id: str, **fields: Any) -> None:
        with self._lock:
            self.users[user_id] = {"id": user_id, "name": fields.pop("name", user_id.lower()), **fields}

    def add_channel(self, *channels: str) -> None:
        """Channels that exist though nothing was posted there yet (e.g. ones with subscriptions); every
        user is in them unless `set_member_channels` says otherwise."""
        with self._lock:
            self._extra_channels += [c for c in channels if c not in self._extra_channels]

    def set_member_channels(self, user_id: str, channels: list[str]) -> None:
        """users.conversations for `user_id` answers exactly `channels` (default: every known channel)."""
        with self._lock:
            self._member_of[user_id] = list(channels)

    def member_channels(self, user_id: str) -> list[str]:
        """The channels `user_id` is in: as set, else those with messages and those added by add_channel."""
        with self._lock:
            if user_id in self._member_of:
                return list(self._member_of[user_id])
            return list(dict.fromkeys([*self._messages, *self._extra_channels]))

    def on_call(self, listener: Listener) -> None:
        """Call `listener(call)` after every recorded call (from the server's request thread)."""
        with self._lock:
            self._listeners.append(listener)

    def add_page(self, path: str, page: Page) -> None:
        """Serve GET `path` with `page(standin, query) -> (status, content_type, body)` (the demo's viewer)."""
        self.pages[path] = page

    def add_action(self, path: str, action: Page) -> None:
        """Serve POST `path` with `action(standin, params) -> (status, content_type, body)`; params are the
        parsed JSON or form body (the demo sandbox's command box and buttons)."""
        self.actions[path] = action

    # --- queries ---------------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def channels(self) -> list[str]:
        with self._lock:
            return list(self._messages)

    def channel_id(self, name: str) -> str:
        """The id a "#name" stands for once resolve_names is on (stable per name); ids map to themselves."""
        if not (self.resolve_names and name.startswith("#")):
            return name
        with self._lock:
            return self.channel_ids.setdefault(name, "C" + format(zlib.crc32(name.encode()), "08X"))

    def messages(self, channel: str, *, replies: bool = False) -> list[Message]:
        """Messages in `channel` (an id, or a name when resolve_names is on), oldest first: top-level
        only unless `replies`."""
        channel = self.channel_id(channel)
        with self._lock:
            msgs = list(self._messages.get(channel, {}).values())
            return [copy.deepcopy(m) for m in msgs if replies or m.thread_ts is None]

    def message(self, channel: str, ts: str) -> Message | None:
        with self._lock:
            msg = self._messages.get(channel, {}).get(ts)
            return copy.deepcopy(msg) if msg else None

    def thread(self, channel: str, ts: str) -> list[Message]:
        """Replies under the message `ts`, oldest first."""
        with self._lock:
            parent = self._messages.get(channel, {}).get(ts)
            if parent is None:
                return []
            return [copy.deepcopy(self._messages[channel][r]) for r in parent.reply_ts]

    def rate_limited(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.status == 429]

    def snapshot(self) -> dict[str, Any]:
        """Everything recorded, JSON-friendly (the demo renders it)."""
        with self._lock:
            return {
                "channels": {ch: [m.to_api() | {"replies": [self._messages[ch][r].to_api() for r in m.reply_ts]}
                                  for m in msgs.values() if m.thread_ts is None]
                             for ch, msgs in self._messages.items()},
                "home_views": copy.deepcopy(self.home_views),
                "ephemerals": copy.deepcopy(self.ephemerals),
                "responses": copy.deepcopy(self.responses),
                "usergroups": copy.deepcopy(self.usergroups),
                "calls": [{"method": c.method, "status": c.status, "error": c.error, "at": c.at} for c in self.calls],
            }

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._messages.clear()
            self._buckets.clear()
            self._failures.clear()
            self.home_views.clear()
            self._extra_channels.clear()
            self._member_of.clear()
            self.ephemerals.clear()
            self.responses.clear()

    # --- request handling ---------------------------------------------------------------------
    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            listeners = list(self._listeners)
        for listener in listeners:
            listener(call)

    def _answer(self, method: str, params: dict[str, Any], token: str | None) -> tuple[int, dict[str, Any], int | None]:
        with self._lock:
            if self._outage is not None:
                return self._outage, {"ok": False, "error": f"http_{self._outage}"}, None
            failures = self._failures.get(method)
            if failures:
                failure = failures[0]
                failure.times -= 1
                if failure.times <= 0:
                    failures.pop(0)
                retry = 1 if failure.status == 429 else None
                return failure.status, {"ok": False, "error": failure.error}, retry
            if not token:
                return 200, {"ok": False, "error": "not_authed"}, None
            if token not in self.tokens:
                return 200, {"ok": False, "error": "invalid_auth"}, None
            handler = _METHODS.get(method)
            if handler is None:
                return 404, {"ok": False, "error": "unknown_method"}, None
            return handler(self, params)

    def _next_ts(self) -> str:
        # Real clock, strictly increasing, six decimals: the shape of Slack's ts ("1700000000.000100").
        now = max(time.time(), self._last_ts + 0.000001)
        self._last_ts = round(now, 6)
        return f"{self._last_ts:.6f}"

    def _pace(self, channel: str) -> float:
        if not self.rate_limit:
            return 0.0
        now = time.monotonic()
        bucket = self._buckets.get(channel)
        if bucket is None:
            bucket = self._buckets[channel] = _Bucket(self.channel_rate, self.channel_burst, now)
        return bucket.take(now)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                page = standin.pages.get(parts.path)
                if page is None:
                    self._send(404, "text/plain", b"not found")
                    return
                status, ctype, body = page(standin, dict(parse_qsl(parts.query)))
                self._send(status, ctype, body)

            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                params: dict[str, Any] = dict(parse_qsl(parts.query))
                ctype = (self.headers.get("Content-Type") or "").lower()
                try:
                    if "json" in ctype or raw.lstrip().startswith(b"{"):
                        body = json.loads(raw or b"{}")
                        params.update(body if isinstance(body, dict) else {})
                    else:
                        params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                except (ValueError, UnicodeDecodeError):
                    self._send_json(200, {"ok": False, "error": "invalid_json"})
                    return
                if parts.path in standin.actions:
                    status, out_type, out = standin.actions[parts.path](standin, params)
                    self._send(status, out_type, out)
                    return
                if parts.path.startswith("/respond/"):
                    self._respond(parts.path.removeprefix("/respond/"), params)
                    return
                if not parts.path.startswith("/api/"):
                    self._send_json(404, {"ok": False, "error": "unknown_method"})
                    return
                method = parts.path.removeprefix("/api/")
                auth = self.headers.get("Authorization") or ""
                token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else params.get("token")
                status, response, retry_after = standin._answer(method, params, token)
                headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
                standin._record(Call(method, params, status, response, time.time(), token, retry_after))
                self._send_json(status, response, headers)

            def _respond(self, response_id: str, params: dict[str, Any]) -> None:
                with standin._lock:
                    standin.responses.setdefault(response_id, []).append(params)
                standin._record(Call("respond", params | {"response_id": response_id}, 200, {"ok": True}, time.time()))
                self._send(200, "text/plain", b"ok")

            def _send_json(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._send(status, "application/json; charset=utf-8", json.dumps(body).encode("utf-8"), headers)

            def _send(self, status: int, ctype: str, body: bytes, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        return Handler


# --- methods: each takes the stand-in (lock held) and params, returns (status, body, retry_after) ----------
Result = tuple[int, dict[str, Any], int | None]


def _ok(**body: Any) -> Result:
    return 200, {"ok": True, **body}, None


def _err(error: str, **extra: Any) -> Result:
    return 200, {"ok": False, "error": error, **extra}, None


def _json_param(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    return value in (True, 1, "1", "true", "True")


def _content_problems(params: dict[str, Any]) -> Result | None:
    text = params.get("text")
    blocks = _json_param(params.get("blocks"))
    if not text and not blocks:
        return _err("no_text")
    if text and len(str(text)) > MAX_TEXT:
        return _err("msg_too_long")
    if blocks is not None:
        problems = [p for p in validate_message(str(text or "-"), blocks) if not p.startswith("text:")]
        if problems:
            return _err("invalid_blocks", errors=problems)
    return None


def _auth_test(s: SlackStandIn, p: dict[str, Any]) -> Result:
    return _ok(url="https://reewatch-test.slack.com/", team="reewatch test", user="reewatch",
               team_id=TEAM_ID, user_id=BOT_USER_ID, bot_id=BOT_ID)


def _post_message(s: SlackStandIn, p: dict[str, Any]) -> Result:
    channel = s.channel_id(str(p.get("channel") or ""))
    if not channel:
        return _err("channel_not_found")
    if channel in s._channel_errors:
        return _err(s._channel_errors[channel])
    bad = _content_problems(p)
    if bad:
        return bad
    thread_ts = p.get("thread_ts") or None
    msgs = s._messages.setdefault(channel, {})
    if thread_ts is not None and thread_ts not in msgs:
        return _err("thread_not_found")
    wait = s._pace(channel)
    if wait > 0:
        return 429, {"ok": False, "error": "ratelimited"}, max(1, math.ceil(wait))
    ts = s._next_ts()
    parent_ts = msgs[thread_ts].thread_ts or thread_ts if thread_ts else None
    msg = Message(channel, ts, str(p.get("text") or ""), _json_param(p.get("blocks")) or [], parent_ts,
                  _json_param(p.get("metadata")), _flag(p.get("unfurl_links")), _flag(p.get("unfurl_media")),
                  params=dict(p))
    msgs[ts] = msg
    if parent_ts:
        msgs[parent_ts].reply_ts.append(ts)
    return _ok(channel=channel, ts=ts, message=msg.to_api())


def _update(s: SlackStandIn, p: dict[str, Any]) -> Result:
    channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
    if s.resolve_names and channel.startswith("#"):
        return _err("channel_not_found")
    if channel in s._channel_errors:
        return _err(s._channel_errors[channel])
    msg = s._messages.get(channel, {}).get(ts)
    if msg is None:
        return _err("message_not_found")
    bad = _content_problems(p)
    if bad:
        return bad
    msg.text = str(p.get("text") or "")
    if "blocks" in p:
        msg.blocks = _json_param(p.get("blocks")) or []
    if "metadata" in p:
        msg.metadata = _json_param(p.get("metadata"))
    msg.edits += 1
    return _ok(channel=channel, ts=ts, text=msg.text, message=msg.to_api())


def _post_ephemeral(s: SlackStandIn, p: dict[str, Any]) -> Result:
    channel, user = str(p.get("channel") or ""), str(p.get("user") or "")
    if not channel or channel in s._channel_errors:
        return _err(s._channel_errors.get(channel, "channel_not_found"))
    if not user:
        return _err("user_not_in_channel")
    bad = _content_problems(p)
    if bad:
        return bad
    ts = s._next_ts()
    s.ephemerals.append({"channel": channel, "user": user, "ts": ts, "text": p.get("text"),
                         "blocks": _json_param(p.get("blocks")) or []})
    return _ok(message_ts=ts)


def _views_publish(s: SlackStandIn, p: dict[str, Any]) -> Result:
    user = str(p.get("user_id") or "")
    view = _json_param(p.get("view"))
    if not user:
        return _err("invalid_arguments")
    if not isinstance(view, dict):
        return _err("invalid_arguments")
    problems = validate_view(view)
    if problems:
        return _err("invalid_arguments", response_metadata={"messages": problems})
    view = copy.deepcopy(view) | {"id": f"V{zlib.crc32(user.encode()):08X}"}
    s.home_views[user] = view
    return _ok(view=view)


def _conversations_open(s: SlackStandIn, p: dict[str, Any]) -> Result:
    users = [u for u in str(p.get("users") or "").split(",") if u]
    if not users:
        return _err("users_list_not_supplied")
    dm = "D" + format(zlib.crc32(",".join(sorted(users)).encode()), "08X")
    return _ok(channel={"id": dm, "is_im": len(users) == 1})


def _usergroup_update(s: SlackStandIn, p: dict[str, Any]) -> Result:
    group = str(p.get("usergroup") or "")
    users = [u for u in str(p.get("users") or "").split(",") if u]
    if not group:
        return _err("no_such_subteam")
    if not users:
        return _err("invalid_users")  # Slack cannot empty a group this way
    s.usergroups[group] = users
    return _ok(usergroup={"id": group, "users": users, "user_count": len(users)})


def _users_info(s: SlackStandIn, p: dict[str, Any]) -> Result:
    user = str(p.get("user") or "")
    info = s.users.get(user)
    if info is None:
        if not user.startswith(("U", "W")):
            return _err("user_not_found")
        info = {"id": user, "name": user.lower()}
    profile = {"real_name": info.get("real_name", info["name"]), "display_name": info["name"]}
    return _ok(user={"tz": "UTC", "is_bot": False, "deleted": False, "profile": profile} | info)


def _users_conversations(s: SlackStandIn, p: dict[str, Any]) -> Result:
    """Like Slack: the user's channels (calling user when `user` is absent), paged by `limit`/`cursor`."""
    user = str(p.get("user") or BOT_USER_ID)
    if not user.startswith(("U", "W")):
        return _err("user_not_found")
    ids = s.member_channels(user)
    start = int(p.get("cursor") or 0)
    limit = max(1, min(int(p.get("limit") or 100), 1000))
    page = ids[start:start + limit]
    cursor = str(start + limit) if start + limit < len(ids) else ""
    channels = [{"id": c, "name": c.lower(), "is_channel": not c.startswith("G"), "is_private": c.startswith("G"),
                 "is_archived": False, "is_member": True} for c in page]
    return _ok(channels=channels, response_metadata={"next_cursor": cursor})


def _history(s: SlackStandIn, p: dict[str, Any]) -> Result:
    channel = str(p.get("channel") or "")
    if s.resolve_names and channel.startswith("#"):
        return _err("channel_not_found")
    if channel in s._channel_errors:
        return _err(s._channel_errors[channel])
    oldest, latest = float(p.get("oldest") or 0), float(p.get("latest") or 1e12)
    limit = int(p.get("limit") or 100)
    found = [m for m in s._messages.get(channel, {}).values()
             if m.thread_ts is None and oldest <= float(m.ts) <= latest]
    found.reverse()  # newest first, like Slack
    return _ok(messages=[m.to_api() for m in found[:limit]], has_more=len(found) > limit)


def _replies(s: SlackStandIn, p: dict[str, Any]) -> Result:
    channel, ts = str(p.get("channel") or ""), str(p.get("ts") or "")
    if s.resolve_names and channel.startswith("#"):
        return _err("channel_not_found")
    if channel in s._channel_errors:
        return _err(s._channel_errors[channel])
    parent = s._messages.get(channel, {}).get(ts)
    if parent is None:
        return _err("thread_not_found")
    msgs = [parent] + [s._messages[channel][r] for r in parent.reply_ts]
    return _ok(messages=[m.to_api() for m in msgs], has_more=False)


_METHODS: dict[str, Callable[[SlackStandIn, dict[str, Any]], Result]] = {
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _post_ephemeral,
    "views.publish": _views_publish,
    "conversations.open": _conversations_open,
    "conversations.history": _history,
    "conversations.replies": _replies,
    "usergroups.users.update": _usergroup_update,
    "users.info": _users_info,
    "users.conversations": _users_conversations,
}
