"""A loopback feed server that publishes sample feeds over time, for the demo and its tests.

Each feed file is ordinary RSS 2.0 or Atom whose items carry `<demo:at>SECONDS</demo:at>`
(namespace `urn:reewatch:demo`): when the item is published, counted from the first request the
server gets. Items at 0 or before are the feed's back catalogue. A feed's first response holds only
its back catalogue, so the poller's first poll (which seeds silently) never swallows a story.

Responses are what a publisher sends: `<demo:at>` stripped, publication dates set to the moment of
release, an ETag and Last-Modified, and 304 for a matching If-None-Match.
"""

from __future__ import annotations

import copy
import hashlib
import io
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from tests.fakes.feed_server import FeedServer, Reply, Seen

DEMO_NS = "urn:reewatch:demo"
ATOM_NS = "http://www.w3.org/2005/Atom"
_AT = f"{{{DEMO_NS}}}at"


@dataclass(frozen=True)
class Story:
    """One item of a sample feed: when it is published and its title (for logs and tests)."""

    index: int
    at: float
    title: str
    element: ET.Element


class TimedFeed:
    """One sample feed document, rendered with the stories released so far."""

    def __init__(self, xml: bytes, name: str = "feed") -> None:
        self.name = name
        prefixes: dict[str, str] = {}
        for _event, (prefix, uri) in ET.iterparse(io.BytesIO(xml), events=("start-ns",)):
            prefixes.setdefault(uri, prefix)
        self._prefixes = prefixes
        self.root = ET.fromstring(xml)
        self.atom = self.root.tag == f"{{{ATOM_NS}}}feed"
        self.container = self.root if self.atom else self._find(self.root, "channel")
        self.stories: list[Story] = []
        for el in list(self.container):
            if el.tag in (f"{{{ATOM_NS}}}entry", "item"):
                at_el = el.find(_AT)
                if at_el is None or not (at_el.text or "").strip():
                    raise ValueError(f"{name}: every item needs <demo:at> (seconds after the first poll)")
                el.remove(at_el)
                title = el.findtext(f"{{{ATOM_NS}}}title" if self.atom else "title") or ""
                self.stories.append(Story(len(self.stories), float(at_el.text or 0), title.strip(), el))
                self.container.remove(el)

    @classmethod
    def from_file(cls, path: Path) -> TimedFeed:
        return cls(path.read_bytes(), name=path.name)

    @staticmethod
    def _find(root: ET.Element, tag: str) -> ET.Element:
        found = root.find(tag)
        if found is None:
            raise ValueError(f"not an RSS 2.0 or Atom document (no <{tag}>)")
        return found

    def visible(self, elapsed: float | None) -> list[Story]:
        """Stories published by `elapsed` seconds (None: only the back catalogue), newest first."""
        shown = [s for s in self.stories if s.at <= 0 or (elapsed is not None and s.at <= elapsed)]
        return sorted(shown, key=lambda s: s.at, reverse=True)

    def render(self, elapsed: float | None, start_wall: float, speed: float = 1.0) -> bytes:
        """The document as a publisher would serve it `elapsed` (scaled) seconds after `start_wall`."""
        stories = self.visible(elapsed)
        root = copy.deepcopy(self.root)
        container = root if self.atom else self._find(root, "channel")
        newest = start_wall
        for story in stories:
            published = start_wall + (story.at / speed if story.at > 0 else story.at)
            newest = max(newest, published) if story.at > 0 else newest
            el = copy.deepcopy(story.element)
            self._stamp(el, published)
            container.append(el)
        self._stamp_feed(container, newest)
        for uri, prefix in self._prefixes.items():
            if prefix and uri not in (DEMO_NS, ATOM_NS):
                ET.register_namespace(prefix, uri)
        ET.register_namespace("atom", ATOM_NS)
        body = ET.tostring(root, encoding="unicode")
        if self.atom:  # ElementTree cannot write a default namespace next to plain attributes
            body = body.replace("<atom:", "<").replace("</atom:", "</").replace(f'xmlns:atom="{ATOM_NS}"',
                                                                                f'xmlns="{ATOM_NS}"')
        return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode("utf-8")

    def _stamp(self, el: ET.Element, when: float) -> None:
        if self.atom:
            for tag in ("updated", "published"):
                _set_child(el, f"{{{ATOM_NS}}}{tag}", _iso(when))
        else:
            _set_child(el, "pubDate", _rfc822(when))

    def _stamp_feed(self, container: ET.Element, when: float) -> None:
        if self.atom:
            _set_child(container, f"{{{ATOM_NS}}}updated", _iso(when), append=False)
        else:
            _set_child(container, "lastBuildDate", _rfc822(when), append=False)


def _set_child(parent: ET.Element, tag: str, text: str, append: bool = True) -> None:
    child = parent.find(tag)
    if child is None:
        child = ET.Element(tag)
        if append:
            parent.append(child)
        else:  # feed-level dates go before the first entry, where readers look for them
            first = next((i for i, c in enumerate(parent) if c.tag in (f"{{{ATOM_NS}}}entry", "item")), len(parent))
            parent.insert(first, child)
    child.text = text


def _iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rfc822(when: float) -> str:
    return format_datetime(datetime.fromtimestamp(when, UTC), usegmt=True)


class TimedFeedServer:
    """Serve sample feeds at `/feeds/<file name>`, releasing their stories as time passes.

    `speed` > 1 runs the timeline faster (tests); `clock`/`wall` are injectable for tests that
    step time by hand. `on_release(feed_name, story)` is called once per story as it first goes out.
    """

    def __init__(
        self,
        feeds: dict[str, TimedFeed],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        on_release: Callable[[str, Story], None] | None = None,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.feeds = feeds
        self.speed = speed
        self._clock, self._wall = clock, wall
        self._on_release = on_release
        self._lock = threading.Lock()
        self._start: tuple[float, float] | None = None  # (clock, wall) at the first request
        self._served: set[str] = set()
        self._released: dict[str, set[int]] = {name: set() for name in feeds}
        self.server = FeedServer(host, port)
        for name in feeds:
            self.server.route(f"/feeds/{name}", self._reply_for(name))

    @classmethod
    def from_dir(cls, folder: Path, **options: object) -> TimedFeedServer:
        """Every `*.xml` file of `folder`, served under its own name."""
        feeds = {p.name: TimedFeed.from_file(p) for p in sorted(folder.glob("*.xml"))}
        return cls(feeds, **options)  # type: ignore[arg-type]

    @property
    def port(self) -> int:
        return self.server.port

    def url(self, name: str) -> str:
        return self.server.url(f"/feeds/{name}")

    def elapsed(self) -> float | None:
        """Timeline seconds since the first request (scaled by speed), or None before it."""
        with self._lock:
            return None if self._start is None else (self._clock() - self._start[0]) * self.speed

    def last_release_at(self) -> float:
        """Timeline second of the last story of all feeds: the demo's story is told by then."""
        return max((s.at for f in self.feeds.values() for s in f.stories), default=0.0)

    def released(self, name: str) -> list[str]:
        """Titles of `name`'s stories sent so far (back catalogue excluded), oldest first."""
        with self._lock:
            sent = set(self._released[name])
        return [s.title for s in sorted(self.feeds[name].stories, key=lambda s: s.at) if s.index in sent]

    def _reply_for(self, name: str) -> Callable[[Seen], Reply]:
        feed = self.feeds[name]

        def reply(seen: Seen) -> Reply:
            with self._lock:
                if self._start is None:
                    self._start = (self._clock(), self._wall())
                elapsed = (self._clock() - self._start[0]) * self.speed if name in self._served else None
                self._served.add(name)
                start_wall = self._start[1]
            stories = [s for s in feed.visible(elapsed) if s.at > 0]
            self._note_released(name, stories)
            body = feed.render(elapsed, start_wall, self.speed)
            etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
            newest = max((start_wall + s.at / self.speed for s in stories), default=start_wall)
            headers = {"ETag": etag, "Last-Modified": _rfc822(newest), "Cache-Control": "no-cache"}
            content_type = "application/atom+xml; charset=utf-8" if feed.atom else "application/rss+xml; charset=utf-8"
            if seen.headers.get("if-none-match") == etag:
                return Reply(304, b"", headers=headers, content_type=content_type)
            return Reply(200, body, headers=headers, content_type=content_type)

        return reply

    def _note_released(self, name: str, stories: list[Story]) -> None:
        with self._lock:
            new = [s for s in stories if s.index not in self._released[name]]
            self._released[name].update(s.index for s in new)
        if self._on_release:
            for story in sorted(new, key=lambda s: s.at):
                self._on_release(name, story)

    def start(self) -> TimedFeedServer:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> TimedFeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
