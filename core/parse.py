"""Feed bytes -> normalized items: `parse_feed(body, headers, feed_id=..., ...) -> ParsedFeed`.

feedparser reads the bytes with the response headers (so declared encodings work); an ill-formed
feed that still yields entries is accepted (`bozo` records why), a body that is not a feed (HTML
page, JSON, empty) raises ParseError. The body is always handed over as a stream: feedparser treats
a bytes *string* as a possible file name and would read a local file whose path a server sent.
Entity tricks are defused by feedparser (it strips ENTITY declarations and disables external
entities) and by expat's amplification limit; tests/test_parse_attacks.py proves both.
"""

from __future__ import annotations

import calendar
import io
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import feedparser

from core.errors import ParseError
from core.htmltext import collapse, html_to_text
from core.identity import Entry, ItemKeys, canonical_link, identify
from core.models import Item

log = logging.getLogger(__name__)

MAX_TITLE = 500
MAX_TEXT = 4000
#: Dates before this are feed bugs (epoch zero, year 1), not news.
EARLIEST = calendar.timegm((1995, 1, 1, 0, 0, 0))
#: A date this far in the future is a time-zone or clock bug: the fetch time is used instead.
FUTURE_SLACK = 86400.0

_CJK = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af]")
_LATIN = re.compile(r"[A-Za-z]")


@dataclass(slots=True)
class ParsedFeed:
    """One parsed body: feed-level facts and its items in document order with their identity keys."""

    title: str
    link: str
    items: list[Item] = field(default_factory=list)
    keys: list[ItemKeys] = field(default_factory=list)
    bozo: str | None = None  # why the XML was ill-formed, when it was and items were still recovered
    version: str = ""


def _not_a_feed(body: bytes, detail: str) -> ParseError:
    head = body[:2048].lstrip().lower()
    if not head:
        return ParseError("empty body: the server sent no feed")
    if head.startswith((b"{", b"[")):
        return ParseError("JSON, not an RSS or Atom feed")
    if b"<html" in head or b"<!doctype html" in head:
        return ParseError("an HTML page, not an RSS or Atom feed (look for the page's feed link)")
    return ParseError(f"not an RSS or Atom feed ({detail})")


def _timestamp(entry: Any, fetched_at: float) -> float | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        parsed = entry.get(name)
        if parsed:
            try:
                when = float(calendar.timegm(parsed))
            except (TypeError, ValueError, OverflowError):
                continue
            if when < EARLIEST:
                return None
            return min(when, fetched_at) if when > fetched_at + FUTURE_SLACK else when
    return None


def _primary_language(tag: str | None) -> str | None:
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def detect_language(title: str, declared: str | None, default: str) -> str:
    """Script first (CJK titles are zh/ja/ko whatever the feed says), then the declared language."""
    if _KANA.search(title):
        return "ja"
    if _HANGUL.search(title):
        return "ko"
    if _CJK.search(title):
        return "zh"
    language = declared or default
    if language in ("zh", "ja", "ko") and _LATIN.search(title):
        return "en"  # a Latin-script headline in a Chinese feed is not Chinese
    return language


def _entry_text(entry: Any) -> str:
    candidates = [c.get("value", "") for c in entry.get("content", []) or []]
    candidates.append(entry.get("summary", "") or "")
    best = max(candidates, key=len, default="")
    return html_to_text(best, max_chars=MAX_TEXT)


def parse_feed(body: bytes, headers: Mapping[str, str] | None = None, *, feed_id: str, tier: str = "other",
               language: str = "en", fetched_at: float | None = None, source: str | None = None) -> ParsedFeed:
    """Parse and normalize a feed body; raise ParseError when it is not a feed."""
    fetched_at = time.time() if fetched_at is None else fetched_at
    result = feedparser.parse(io.BytesIO(body), response_headers=dict(headers or {}),
                              sanitize_html=False, resolve_relative_uris=False)
    entries = result.get("entries", [])
    bozo = result.get("bozo_exception")
    if not result.get("version") and not entries:
        raise _not_a_feed(body, str(bozo or "no feed elements found"))
    meta = result.get("feed", {})
    feed_title = collapse(html_to_text(meta.get("title", ""))) or source or feed_id
    declared = _primary_language(meta.get("language"))
    parsed = ParsedFeed(title=feed_title, link=canonical_link(meta.get("link", "")),
                        bozo=f"{type(bozo).__name__}: {bozo}" if bozo else None,
                        version=str(result.get("version") or ""))
    prepared: list[tuple[Entry, Item]] = []
    for entry in entries:
        title = html_to_text(entry.get("title", ""), max_chars=MAX_TITLE)
        text = _entry_text(entry)
        link = canonical_link(entry.get("link", ""))
        if not link.startswith(("http://", "https://")):  # feedparser turns a bare GUID into a "link"
            link = ""
        if not (title or text or link):
            continue
        title_lang = _primary_language((entry.get("title_detail") or {}).get("language"))
        guid = str(entry.get("id") or "").strip()
        item = Item(
            id="", feed_id=feed_id, title=title or text[:120] or link, link=link, text=text,
            published=_timestamp(entry, fetched_at), fetched_at=fetched_at,
            language=detect_language(title or text[:200], title_lang or declared, language),
            guid=guid or None, tier=tier, source=source or feed_title,
        )
        prepared.append((Entry(guid, link, title, text), item))
    for (_, item), keys in zip(prepared, identify([e for e, _ in prepared]), strict=True):
        if keys is None:  # the same entry twice in one document
            continue
        item.id = keys.item_id(feed_id)
        parsed.items.append(item)
        parsed.keys.append(keys)
    return parsed


def oldest_first(items: list[tuple[Item, ItemKeys]]) -> list[tuple[Item, ItemKeys]]:
    """Order for handing items on: by date, undated ones by reverse document order (feeds list newest first)."""
    indexed = list(enumerate(items))
    return [pair for _, pair in sorted(
        indexed, key=lambda p: (p[1][0].published if p[1][0].published is not None else float("inf"), -p[0]))]
