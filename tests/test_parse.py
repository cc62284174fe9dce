"""Parsing and normalization: plain text from HTML, canonical links, dates, language, bozo, non-feeds."""

from __future__ import annotations

import calendar

import pytest

from core.errors import ParseError
from core.htmltext import html_to_text
from core.identity import canonical_link
from core.parse import detect_language, oldest_first, parse_feed
from tests.fakes.feed_server import rss

NOW = float(calendar.timegm((2026, 11, 26, 12, 0, 0)))


@pytest.mark.parametrize(("html", "text"), [
    ("<p>Hello <b>world</b></p>", "Hello world"),
    ("<p>One</p><p>Two</p>", "One\nTwo"),
    ("A<br>B<br/>C", "A\nB\nC"),
    ("Before<script>alert('x')</script>After", "BeforeAfter"),
    ("<style>p{color:red}</style><p>Styled</p>", "Styled"),
    ("<p>Pic <img src='x.png' alt='alt text'> here</p>", "Pic here"),
    ("<table><tr><td>price</td><td>1</td></tr></table><p>Body</p>", "Body"),
    ("Tom &amp; Jerry &lt;3 &#x4E2D;&#25991; &nbsp;end", "Tom & Jerry <3 中文 end"),
    ("  lots \t of\n\n\n   space  ", "lots of\nspace"),
    ("&lt;p&gt;Escaped &lt;b&gt;twice&lt;/b&gt;&lt;/p&gt;", "Escaped twice"),
    ("zero\u200bwidth", "zerowidth"),
    ("<ul><li>one</li><li>two</li></ul>", "one\ntwo"),
    ("plain text stays", "plain text stays"),
    ("", ""),
])
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def test_html_to_text_cuts_at_a_word() -> None:
    out = html_to_text("word " * 100, max_chars=52)
    assert out.endswith("…") and len(out) <= 53 and "wor…" not in out


@pytest.mark.parametrize(("url", "canonical"), [
    ("https://Example.COM/a?utm_source=x&id=3&utm_medium=rss#frag", "https://example.com/a?id=3"),
    ("HTTP://example.com:80/path?fbclid=1", "http://example.com/path"),
    ("https://example.com:443", "https://example.com/"),
    ("https://example.com:8443/x?b=2&a=1", "https://example.com:8443/x?b=2&a=1"),
    ("https://example.com/x?gclid=1&mc_cid=2&ref_src=twsrc", "https://example.com/x"),
    ("  https://example.com/x  ", "https://example.com/x"),
    ("", ""),
])
def test_canonical_link(url: str, canonical: str) -> None:
    assert canonical_link(url) == canonical


def test_item_normalization() -> None:
    body = rss([{
        "title": "China &amp; rare earths: <b>export</b> curbs",
        "link": "https://news.example.com/story?utm_campaign=feed&id=9#top",
        "guid": "story-9",
        "description": "<p>MOFCOM said <script>track()</script>licences are <em>suspended</em>.</p>",
        "pubDate": "Wed, 25 Nov 2026 08:00:00 GMT",
    }], title="Example News")
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, feed_id="ex", tier="wire", fetched_at=NOW)
    [item] = parsed.items
    assert item.title == "China & rare earths: export curbs"
    assert item.link == "https://news.example.com/story?id=9"
    assert item.text == "MOFCOM said licences are suspended."
    assert item.published == calendar.timegm((2026, 11, 25, 8, 0, 0))
    assert item.guid == "story-9" and item.feed_id == "ex" and item.tier == "wire"
    assert item.source == "Example News" and item.fetched_at == NOW
    assert item.id.startswith("ex:") and item.id == parse_feed(body, feed_id="ex", fetched_at=NOW).items[0].id


@pytest.mark.parametrize(("date", "expected"), [
    ("Wed, 25 Nov 2026 08:00:00 GMT", calendar.timegm((2026, 11, 25, 8, 0, 0))),
    ("Wed, 25 Nov 2026 08:00:00 +0800", calendar.timegm((2026, 11, 25, 0, 0, 0))),
    ("Thu, 01 Jan 1970 00:00:00 GMT", None),  # epoch zero: a feed bug, not news
    ("Sun, 01 Jan 2040 00:00:00 GMT", NOW),  # far future: clamped to the fetch time
    ("not a date", None),
])
def test_dates(date: str, expected: float | None) -> None:
    body = rss([{"title": "t", "guid": "g", "pubDate": date}])
    assert parse_feed(body, feed_id="f", fetched_at=NOW).items[0].published == expected


def test_missing_date_is_none_and_item_still_kept() -> None:
    [item] = parse_feed(rss([{"title": "undated", "guid": "u"}]), feed_id="f", fetched_at=NOW).items
    assert item.published is None and item.title == "undated"


@pytest.mark.parametrize(("title", "declared", "default", "language"), [
    ("稀土出口管制新规", None, "en", "zh"),
    ("レアアース輸出", None, "en", "ja"),
    ("희토류 수출", None, "en", "ko"),
    ("Rare earths", None, "en", "en"),
    ("Rare earths", "de", "en", "de"),
    ("Rare earth quotas", None, "zh", "en"),  # a Latin headline in a Chinese feed
])
def test_detect_language(title: str, declared: str | None, default: str, language: str) -> None:
    assert detect_language(title, declared, default) == language


def test_feed_language_and_encoding_from_headers() -> None:
    xml = ("<?xml version='1.0'?><rss version='2.0'><channel><title>稀土</title><language>zh-CN</language>"
           "<item><title>镝价格上涨</title><guid>1</guid></item></channel></rss>")
    body = xml.replace("<?xml version='1.0'?>", "<?xml version='1.0' encoding='gb2312'?>").encode("gb2312")
    [item] = parse_feed(body, {"content-type": "text/xml; charset=gb2312"}, feed_id="zh", fetched_at=NOW).items
    assert item.title == "镝价格上涨" and item.language == "zh"


def test_atom_feed() -> None:
    body = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>
<entry><id>tag:x,2026:1</id><title type="html">Tb &lt;i&gt;oxide&lt;/i&gt;</title>
<link href="https://x.example/1?utm_source=a"/><updated>2026-11-20T10:00:00Z</updated>
<content type="html">&lt;p&gt;Terbium oxide prices rose.&lt;/p&gt;</content></entry></feed>"""
    [item] = parse_feed(body, feed_id="atom", fetched_at=NOW).items
    assert (item.title, item.link, item.text) == ("Tb oxide", "https://x.example/1", "Terbium oxide prices rose.")
    assert item.guid == "tag:x,2026:1"


def test_ill_formed_feed_still_yields_items() -> None:
    body = (b"<?xml version='1.0'?><rss version='2.0'><channel><title>Broken</title>"
            b"<item><title>First & only</title><guid>1</guid><link>https://e.com/1</link></item>"
            b"<item><title>Second <unclosed></title><guid>2</guid></item>")  # bare &, unclosed tags, no end
    parsed = parse_feed(body, feed_id="b", fetched_at=NOW)
    assert parsed.bozo is not None
    assert [i.title for i in parsed.items][:1] == ["First & only"] and len(parsed.items) == 2


@pytest.mark.parametrize(("body", "message"), [
    (b"", "empty body"),
    (b"   \n ", "empty body"),
    (b"<!DOCTYPE html><html><head><title>Home</title></head><body>Welcome</body></html>", "HTML page"),
    (b'{"items": [{"title": "x"}]}', "JSON"),
    (b"\x89PNG\r\n\x1a\n\x00\x00binary", "not an RSS or Atom feed"),
])
def test_non_feed_bodies_are_parse_errors(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed(body, feed_id="x", fetched_at=NOW)


def test_empty_but_valid_feed_has_no_items() -> None:
    parsed = parse_feed(rss([], title="Quiet"), feed_id="q", fetched_at=NOW)
    assert parsed.items == [] and parsed.title == "Quiet"


def test_repeated_entry_in_one_document_is_kept_once() -> None:
    entry = {"title": "Same story", "guid": "g1", "link": "https://e.com/1"}
    assert len(parse_feed(rss([entry, entry]), feed_id="d", fetched_at=NOW).items) == 1


def test_oldest_first_orders_by_date_then_reverse_document_order() -> None:
    body = rss([
        {"title": "newest", "guid": "3", "pubDate": "Wed, 25 Nov 2026 10:00:00 GMT"},
        {"title": "oldest", "guid": "1", "pubDate": "Wed, 25 Nov 2026 08:00:00 GMT"},
        {"title": "middle", "guid": "2", "pubDate": "Wed, 25 Nov 2026 09:00:00 GMT"},
        {"title": "undated-a", "guid": "4"},
        {"title": "undated-b", "guid": "5"},
    ])
    parsed = parse_feed(body, feed_id="o", fetched_at=NOW)
    ordered = oldest_first(list(zip(parsed.items, parsed.keys, strict=True)))
    assert [i.title for i, _ in ordered] == ["oldest", "middle", "newest", "undated-b", "undated-a"]
