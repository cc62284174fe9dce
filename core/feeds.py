"""feeds.yaml: the models (feeds, routes, watchlist, oncall) and a loader that reports each mistake
with its line, as `FILE:LINE: message`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import time as dtime
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from core import elements
from core.durations import parse_duration
from core.errors import ConfigError
from core.models import Severity, Tier

FEED_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
SHORT_INTERVAL_PUBLIC = 60.0


def _duration(value: Any) -> float:
    return parse_duration(value)


def _feed_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"bad URL {value!r}: only http:// and https:// feeds are polled")
    if not parts.hostname:
        raise ValueError(f"bad URL {value!r}: no host")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"bad URL {value!r}: bad port") from None
    return value.strip()


def _feed_id(value: str) -> str:
    if not FEED_ID.match(value):
        raise ValueError(f"bad feed id {value!r}: use lower-case letters, digits, '-', '_' or '.'")
    return value


def _element(value: str) -> str:
    symbol = elements.resolve(str(value))
    if symbol is None:
        raise ValueError(f"unknown element {value!r} (use a symbol, English or Chinese name)")
    return symbol


def _hhmm(value: Any) -> str:
    text = str(value).strip()
    if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1 reads 09:00 as 540 (base 60)
        text = f"{value // 60:02d}:{value % 60:02d}"
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match[1]) > 23 or int(match[2]) > 59:
        raise ValueError(f"bad time {value!r}: use HH:MM (24-hour)")
    return f"{int(match[1]):02d}:{match[2]}"


def check_zone(value: str) -> str:
    """`value` if it names an IANA time zone; ValueError with a readable message otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
    return value


def _iso_date(value: Any) -> str:
    from datetime import date

    try:
        return date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(f"bad date {value!r}: use YYYY-MM-DD") from None


def _slack_user(value: str) -> str:
    text = str(value).strip().removeprefix("<@").removesuffix(">").split("|")[0]
    if not re.fullmatch(r"[UW][A-Z0-9]{2,}", text):
        raise ValueError(f"bad Slack user id {value!r}: expected an id such as U012ABCDEF")
    return text


Duration = Annotated[float, BeforeValidator(_duration)]
FeedId = Annotated[str, AfterValidator(_feed_id)]
ElementRef = Annotated[str, AfterValidator(_element)]
HHMM = Annotated[str, BeforeValidator(_hhmm)]
Zone = Annotated[str, AfterValidator(check_zone)]
SlackUser = Annotated[str, BeforeValidator(_slack_user)]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FeedConfig(_Strict):
    """One feed to poll."""

    id: FeedId
    url: Annotated[str, AfterValidator(_feed_url)]
    title: str | None = None
    tier: Tier = "other"
    language: str = Field(default="en", pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")
    interval: Duration = Field(default=900.0, ge=1.0, le=7 * 86400)
    tags: list[str] = Field(default_factory=list)
    enabled: bool = True

    @property
    def name(self) -> str:
        return self.title or self.id


class RouteConfig(_Strict):
    """A static subscription: a channel and what it wants."""

    channel: str = Field(min_length=2)
    all: bool = False
    feeds: list[FeedId] = Field(default_factory=list)
    elements: list[ElementRef] = Field(default_factory=list)
    keywords: list[str] = Field(default_factory=list)
    min_severity: Severity | None = None
    digest: HHMM | None = None

    @model_validator(mode="after")
    def _has_filter(self) -> RouteConfig:
        if not (self.all or self.feeds or self.elements or self.keywords):
            raise ValueError("a route needs `all: true` or at least one of feeds, elements, keywords")
        return self


class Rotation(_Strict):
    """Who is on call: `users` take turns, handing off weekly at `handoff_day` `handoff_time` in `timezone`."""

    users: list[SlackUser] = Field(min_length=1)
    handoff_day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    handoff_time: HHMM = "09:00"
    timezone: Zone = "UTC"
    period: Duration = Field(default=7 * 86400.0, ge=3600)
    start: Annotated[str, BeforeValidator(_iso_date)] | None = Field(
        default=None, description="ISO date (YYYY-MM-DD): the first handoff on or after it starts users[0]'s shift")


class Step(_Strict):
    """One escalation step: wait `after`, then notify a target."""

    after: Duration = Field(default=0.0, ge=0)
    notify: str

    @model_validator(mode="after")
    def _target(self) -> Step:
        ok = self.notify in ("primary", "secondary", "channel", "here") or re.fullmatch(
            r"(user:[UW][A-Z0-9]{2,}|usergroup:S[A-Z0-9]{2,})", self.notify)
        if not ok:
            raise ValueError(
                f"bad step target {self.notify!r}: use primary, secondary, channel, here, "
                "user:U..., or usergroup:S..."
            )
        return self


class Trigger(_Strict):
    min_severity: Severity = Severity.HIGH
    watchlist_only: bool = True
    official_only: bool = False


class QuietHours(_Strict):
    """Non-critical pages wait until `end`."""

    start: HHMM
    end: HHMM
    timezone: Zone = "UTC"


class OncallConfig(_Strict):
    channel: str = Field(min_length=2)
    rotation: Rotation
    steps: list[Step] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=10)
    repeat_after: Duration | None = Field(default=None, ge=0, description="wait between the last step and a "
                                          "repeat; default: the last step's wait, or 5m")
    trigger: Trigger = Field(default_factory=Trigger)
    quiet_hours: QuietHours | None = None
    usergroup: str | None = Field(default=None, pattern=r"^S[A-Z0-9]{2,}$")


class FeedsFile(_Strict):
    feeds: list[FeedConfig] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    watchlist: list[ElementRef] = Field(default_factory=list)
    oncall: OncallConfig | None = None

    def feed(self, feed_id: str) -> FeedConfig | None:
        return next((f for f in self.feeds if f.id == feed_id), None)


def handoff_clock(rotation: Rotation) -> dtime:
    hh, mm = rotation.handoff_time.split(":")
    return dtime(int(hh), int(mm))


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    message: str
    warning: bool = False

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {'warning: ' if self.warning else ''}{self.message}"


class _Located:
    """The composed YAML tree, to find the line of a pydantic error location."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.root = root

    def line(self, loc: tuple[int | str, ...]) -> int:
        node, line = self.root, 1
        if node is not None:
            line = node.start_mark.line + 1
        for part in loc:
            if isinstance(node, yaml.MappingNode):
                match = next(((k, v) for k, v in node.value if k.value == part), None)
                if match is None:
                    break
                line = match[0].start_mark.line + 1
                node = match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = node.start_mark.line + 1
            else:
                break
        return line


def _duplicate_keys(node: yaml.Node | None, name: str) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                problems.append(Problem(name, key.start_mark.line + 1, f"duplicate key {key.value!r}"))
            seen.add(key.value)
            problems += _duplicate_keys(value, name)
    elif isinstance(node, yaml.SequenceNode):
        for child in node.value:
            problems += _duplicate_keys(child, name)
    return problems


def _message(err: Any) -> str:
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key {str(err['loc'][-1])!r}" + (f" in {'.'.join(map(str, err['loc'][:-1]))}"
                                                          if len(err["loc"]) > 1 else "")
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "string_type" and isinstance(err.get("input"), bool):
        msg += " (YAML reads yes/no/on/off as true/false: put the value in quotes)"
    return f"{where}: {msg}" if where else msg


def _is_public_host(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host in ("localhost",) or host.endswith(".localhost"):
        return False
    try:
        return ipaddress.ip_address(host).is_global
    except ValueError:
        return True


def check_text(text: str, name: str = "feeds.yaml") -> tuple[FeedsFile | None, list[Problem]]:
    """Parse and validate feeds.yaml text. Returns the model (None when invalid) and every problem."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        return None, [Problem(name, line, f"not valid YAML: {getattr(exc, 'problem', exc)}")]
    problems = _duplicate_keys(root, name)
    data = yaml.safe_load(text) if root is not None else {}
    located = _Located(root)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return None, [Problem(name, 1, "top level must be a mapping with feeds:, routes:, watchlist:, oncall:")]
    try:
        model = FeedsFile.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            problems.append(Problem(name, located.line(tuple(err["loc"])), _message(err)))
        return None, sorted(problems, key=lambda p: p.line)
    seen: dict[str, int] = {}
    for i, feed in enumerate(model.feeds):
        if feed.id in seen:
            problems.append(Problem(name, located.line(("feeds", i, "id")),
                                    f"duplicate feed id {feed.id!r} (first at index {seen[feed.id]})"))
        seen.setdefault(feed.id, i)
        if feed.interval < SHORT_INTERVAL_PUBLIC and _is_public_host(feed.url):
            problems.append(Problem(name, located.line(("feeds", i, "interval")),
                                    f"feed {feed.id!r} polls a public host every {feed.interval:g}s; "
                                    "be kind to publishers (60s or more)", warning=True))
    for i, route in enumerate(model.routes):
        for j, feed_id in enumerate(route.feeds):
            if feed_id not in seen:
                problems.append(Problem(name, located.line(("routes", i, "feeds", j)),
                                        f"route for {route.channel} names unknown feed {feed_id!r}"))
    problems.sort(key=lambda p: p.line)
    return (None if any(not p.warning for p in problems) else model), problems


def check_file(path: Path) -> tuple[FeedsFile | None, list[Problem]]:
    """check_text on a file; a missing or unreadable file is one problem at line 1."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [Problem(str(path), 1, f"cannot read: {exc.strerror or exc}")]
    except UnicodeDecodeError:
        return None, [Problem(str(path), 1, "not UTF-8 text")]
    return check_text(text, str(path))


def load_feeds(path: Path) -> FeedsFile:
    """The validated feeds file, or ConfigError listing every problem."""
    model, problems = check_file(path)
    if model is None:
        raise ConfigError("\n".join(str(p) for p in problems if not p.warning))
    return model
