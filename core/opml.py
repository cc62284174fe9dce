"""Feeds in and out as OPML 2.0: `read_opml(data) -> list[OpmlFeed]`, `write_opml(feeds) -> str`.

Every `<outline>` with an `xmlUrl` is a feed, however deeply nested in folders. reewatch's own
settings (id, tier, language, interval) round-trip as attributes in the reewatch namespace, so an
export imports back unchanged; other readers ignore them. Documents that declare entities are
refused outright: an OPML file has no use for them and they are the usual XML attack vector.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime

from core.durations import parse_duration
from core.errors import UsageError
from core.feeds import FeedConfig

NS = "https://github.com/reewatch/opml"
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    """One feed found in an OPML document; only `url` is certain."""

    url: str
    title: str | None = None
    id: str | None = None
    tier: str | None = None
    language: str | None = None
    interval: float | None = None


def _attr(outline: ET.Element, name: str) -> str | None:
    value = outline.get(name) or outline.get(f"{{{NS}}}{name}")
    return value.strip() if value and value.strip() else None


def read_opml(data: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order, each URL once; UsageError if it is not OPML."""
    if _ENTITY.search(data):
        raise UsageError("OPML files with entity declarations are not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise UsageError(f"not an OPML file: {exc}") from None
    if root.tag != "opml":
        raise UsageError(f"not an OPML file: the root element is <{root.tag}>, not <opml>")
    feeds: list[OpmlFeed] = []
    seen: set[str] = set()
    for outline in root.iter("outline"):
        url = _attr(outline, "xmlUrl") or _attr(outline, "xmlurl")
        if not url or url in seen:
            continue
        seen.add(url)
        interval: float | None = None
        try:
            interval = parse_duration(_attr(outline, "interval") or "") or None
        except ValueError:
            interval = None  # a foreign or broken value: the feed's default applies
        feeds.append(OpmlFeed(
            url=url, title=_attr(outline, "title") or _attr(outline, "text"), id=_attr(outline, "id"),
            tier=_attr(outline, "tier"), language=_attr(outline, "language"),
            interval=interval,
        ))
    return feeds


def write_opml(feeds: list[FeedConfig], *, title: str = "reewatch feeds", now: datetime | None = None) -> str:
    """An OPML 2.0 document listing `feeds` (reewatch attributes included)."""
    ET.register_namespace("reewatch", NS)
    root = ET.Element("opml", {"version": "2.0"})
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    stamp = (now or datetime.now(UTC)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    ET.SubElement(head, "dateCreated").text = stamp
    body = ET.SubElement(root, "body")
    for feed in feeds:
        ET.SubElement(body, "outline", {
            "type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url,
            f"{{{NS}}}id": feed.id, f"{{{NS}}}tier": feed.tier, f"{{{NS}}}language": feed.language,
            f"{{{NS}}}interval": f"{feed.interval:g}s",
        })
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
