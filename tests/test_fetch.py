"""core.fetch against a real loopback HTTP server: conditional GET, caps, deadlines, redirects, headers."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import pytest

from core.errors import FetchError
from core.fetch import USER_AGENT, Fetcher, _Inflater, freshness
from core.settings import Settings
from tests.fakes.feed_server import FeedServer, Reply, Seen, rss

FEED = rss([{"title": "Dysprosium exports suspended", "guid": "a1", "link": "https://example.com/a1"}])


@pytest.fixture
def fetcher(settings: Settings) -> Iterator[Fetcher]:
    with Fetcher(settings) as f:
        yield f


def _small(settings: Settings, **changes: object) -> Fetcher:
    return Fetcher(settings.model_copy(update=changes))


def test_plain_fetch_names_the_project_and_hashes_the_body(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/feed.xml", Reply(body=FEED, headers={"ETag": '"v1"'}))
    result = fetcher.fetch(url)
    assert result.status == 200 and result.body == FEED
    assert result.etag == '"v1"' and len(result.content_hash) == 32
    seen = feed_server.hits("/feed.xml")[0]
    assert seen.headers["user-agent"] == USER_AGENT and "reewatch" in USER_AGENT
    assert "if-none-match" not in seen.headers


def test_conditional_get_sends_validators_and_304_has_no_body(feed_server: FeedServer, fetcher: Fetcher) -> None:
    def reply(seen: Seen) -> Reply:
        if seen.headers.get("if-none-match") == '"v1"':
            return Reply(304, b"", headers={"ETag": '"v1"'})
        return Reply(body=FEED, headers={"ETag": '"v1"', "Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"})

    url = feed_server.route("/c.xml", reply)
    first = fetcher.fetch(url)
    second = fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified and second.body == b""
    sent = feed_server.hits("/c.xml")[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Wed, 21 Oct 2026 07:28:00 GMT"


def test_gzip_body_is_decoded(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/gz.xml", Reply(body=FEED, gzip=True))
    assert fetcher.fetch(url).body == FEED
    assert "gzip" in feed_server.hits("/gz.xml")[0].headers["accept-encoding"]


def test_gzip_bomb_is_refused_after_decompression(feed_server: FeedServer, settings: Settings) -> None:
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024), compresslevel=9)  # 40 MiB in ~40 KiB
    assert len(bomb) < 100_000
    url = feed_server.route("/bomb.xml", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    with _small(settings, fetch_max_bytes=1024 * 1024) as f, pytest.raises(FetchError) as err:
        f.fetch(url)
    assert err.value.reason == "too_large"
    assert "after decompression" in str(err.value)


def test_inflater_never_produces_more_than_the_room_left() -> None:
    bomb = gzip.compress(b"\0" * (20 * 1024 * 1024))
    out = _Inflater("gzip").feed(bomb, 4096)  # the whole bomb in one chunk
    assert len(out) == 4097  # one byte over the room: enough to say "too large", no more


def test_raw_deflate_and_zlib_deflate_both_decode() -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_body = raw.compress(FEED) + raw.flush()
    assert _Inflater("deflate").feed(raw_body, 10_000) == FEED
    assert _Inflater("deflate").feed(zlib.compress(FEED), 10_000) == FEED


def test_corrupt_gzip_is_a_clear_error(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/bad.gz", Reply(body=b"\x1f\x8b not gzip at all", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError) as err:
        fetcher.fetch(url)
    assert err.value.reason == "bad_encoding"


def test_declared_oversize_body_is_refused_before_reading(feed_server: FeedServer, settings: Settings) -> None:
    url = feed_server.route("/big.xml", Reply(body=b"x" * 200_000))
    with _small(settings, fetch_max_bytes=100_000) as f, pytest.raises(FetchError) as err:
        f.fetch(url)
    assert err.value.reason == "too_large"


def test_undeclared_oversize_stream_is_cut_off(feed_server: FeedServer, settings: Settings) -> None:
    url = feed_server.route("/stream.xml", Reply(body=[b"y" * 10_000] * 50))  # no Content-Length
    with _small(settings, fetch_max_bytes=100_000) as f, pytest.raises(FetchError) as err:
        f.fetch(url)
    assert err.value.reason == "too_large"


def test_slow_drip_hits_the_total_deadline(feed_server: FeedServer, settings: Settings) -> None:
    # Each chunk arrives well inside the read timeout; only the total deadline can stop this.
    url = feed_server.route("/drip.xml", Reply(body=[b"<rss>"] + [b" "] * 200, drip_delay=0.05))
    with _small(settings, fetch_timeout=1.0) as f, pytest.raises(FetchError) as err:
        f.fetch(url)
    assert err.value.reason == "timeout"
    assert "slow server" in str(err.value)


def test_redirect_loop_is_refused(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/a", Reply(302, headers={"Location": "/b"}))
    url = feed_server.route("/b", Reply(302, headers={"Location": "/a"}))
    with pytest.raises(FetchError) as err:
        fetcher.fetch(url)
    assert err.value.reason == "redirect_loop"


def test_too_many_redirects_are_refused(feed_server: FeedServer, fetcher: Fetcher) -> None:
    for i in range(10):
        feed_server.route(f"/r{i}", Reply(307, headers={"Location": f"/r{i + 1}"}))
    with pytest.raises(FetchError) as err:
        fetcher.fetch(feed_server.url("/r0"))
    assert err.value.reason == "too_many_redirects"


def test_permanent_redirect_reports_the_new_address(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/old", Reply(301, headers={"Location": "/new"}))
    new = feed_server.route("/new", Reply(body=FEED))
    result = fetcher.fetch(feed_server.url("/old"))
    assert result.permanent_url == new and result.url == new and result.body == FEED


def test_a_temporary_hop_makes_the_move_temporary(feed_server: FeedServer, fetcher: Fetcher) -> None:
    feed_server.route("/t1", Reply(302, headers={"Location": "/t2"}))
    feed_server.route("/t2", Reply(301, headers={"Location": "/t3"}))
    feed_server.route("/t3", Reply(body=FEED))
    assert fetcher.fetch(feed_server.url("/t1")).permanent_url is None


@pytest.mark.parametrize(("status", "reason"), [(410, "gone"), (404, "http_404"), (500, "http_500"),
                                                (403, "http_403")])
def test_error_statuses_carry_reason_and_status(feed_server: FeedServer, fetcher: Fetcher, status: int,
                                                reason: str) -> None:
    url = feed_server.route("/e", Reply(status, b"nope", content_type="text/plain"))
    with pytest.raises(FetchError) as err:
        fetcher.fetch(url)
    assert (err.value.reason, err.value.status) == (reason, status)


def test_429_carries_retry_after(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/limited", Reply(429, b"slow down", headers={"Retry-After": "120"}))
    with pytest.raises(FetchError) as err:
        fetcher.fetch(url)
    assert err.value.reason == "rate_limited" and err.value.retry_after == 120


def test_connection_refused_is_a_connect_error(settings: Settings) -> None:
    with FeedServer() as server:
        url = server.url("/gone")
    with Fetcher(settings) as f, pytest.raises(FetchError) as err:
        f.fetch(url)
    assert err.value.reason == "connect_error"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"cache-control": "public, max-age=600"}, 600.0),
    ({"cache-control": "max-age=600", "age": "100"}, 500.0),
    ({"cache-control": "no-cache"}, 0.0),
    ({"expires": "Thu, 01 Jan 2026 01:00:00 GMT", "date": "Thu, 01 Jan 2026 00:00:00 GMT"}, 3600.0),
    ({"expires": "0"}, 0.0),
    ({}, None),
])
def test_freshness(headers: dict[str, str], expected: float | None) -> None:
    assert freshness(headers, now=0.0) == expected


def test_fetch_result_reports_freshness(feed_server: FeedServer, fetcher: Fetcher) -> None:
    url = feed_server.route("/fresh", Reply(body=FEED, headers={"Cache-Control": "max-age=900"}))
    assert fetcher.fetch(url).fresh_for == 900
