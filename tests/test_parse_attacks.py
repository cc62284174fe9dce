"""Entity tricks in feed bodies neither blow memory nor read local files."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from core.errors import ParseError
from core.parse import parse_feed

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
<!ENTITY lol "lol">
<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>Laughs</title>
<item><title>&lol9;</title><description>&lol9;</description><guid>1</guid></item>
<item><title>Real item</title><guid>2</guid></item>
</channel></rss>"""

#: 10^9 "lol"s would be 3 GB; anything near that shows the expansion happened.
MEMORY_CEILING = 64 * 1024 * 1024


def _secret(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text("TOP-SECRET-CONTENT-42", encoding="utf-8")
    return path


def _all_text(body: bytes) -> str:
    parsed = parse_feed(body, feed_id="evil", fetched_at=0.0)
    return "\n".join(f"{i.title}\n{i.text}\n{i.link}" for i in parsed.items) + parsed.title


def test_billion_laughs_does_not_expand() -> None:
    tracemalloc.start()
    try:
        parsed = parse_feed(BILLION_LAUGHS, feed_id="lol", fetched_at=0.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_CEILING
    assert all("lollollol" not in f"{i.title}{i.text}" for i in parsed.items)
    assert "Real item" in [i.title for i in parsed.items]  # the honest item survives


def test_quadratic_blowup_stays_bounded() -> None:
    # One big entity referenced many times: no nesting, still a memory attack on naive parsers.
    big = "A" * 50_000
    body = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "{big}">]><rss version="2.0"><channel>'
            f'<title>q</title><item><title>x</title><description>{"&a;" * 5000}</description><guid>1</guid>'
            "</item></channel></rss>").encode()
    tracemalloc.start()
    try:
        parse_feed(body, feed_id="q", fetched_at=0.0)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_CEILING  # 250 MB if expanded


@pytest.mark.parametrize("template", [
    '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file://{path}">]>',
    '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "{path}">]>',
    '<!DOCTYPE rss [<!ENTITY % p SYSTEM "file://{path}"> %p;]>',
    '<!DOCTYPE rss SYSTEM "file://{path}">',
])
def test_external_entities_do_not_read_local_files(tmp_path: Path, template: str) -> None:
    secret = _secret(tmp_path)
    body = ('<?xml version="1.0"?>' + template.format(path=secret) +
            '<rss version="2.0"><channel><title>x &xxe;</title><item><title>leak &xxe;</title>'
            "<description>&xxe;</description><guid>1</guid></item></channel></rss>").encode()
    try:
        text = _all_text(body)
    except ParseError:
        return  # refusing the document outright is just as safe
    assert "TOP-SECRET" not in text


def test_etc_passwd_entity_is_not_read() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
            b'<rss version="2.0"><channel><title>t</title><item><title>&xxe;</title><guid>1</guid>'
            b"</item></channel></rss>")
    assert "root:" not in _all_text(body)


def test_a_body_that_is_a_file_path_is_not_opened(tmp_path: Path) -> None:
    # feedparser.parse(bytes) treats short bytes as a file name; we must hand it a stream.
    feed_file = tmp_path / "local-feed.xml"
    feed_file.write_text("<rss version='2.0'><channel><title>LOCAL FILE</title><item><title>from disk"
                         "</title><guid>1</guid></item></channel></rss>", encoding="utf-8")
    with pytest.raises(ParseError):
        parse_feed(str(feed_file).encode(), feed_id="p", fetched_at=0.0)
