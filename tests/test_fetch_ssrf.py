"""The SSRF guard with REEWATCH_ALLOW_PRIVATE_NETWORKS off: every spelling refused, first hop or redirect."""

from __future__ import annotations

import ipaddress

import pytest

from core.errors import BlockedAddressError, FetchError
from core.fetch import Fetcher
from core.netguard import blocked_reason, check_url, literal_ip
from core.settings import Settings
from tests.fakes.feed_server import FeedServer, Reply, rss

FEED = rss([{"title": "t", "guid": "1"}])


@pytest.fixture
def strict(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_private_networks": False})


def _spellings(port: int) -> list[str]:
    """Loopback and other private targets as attackers write them (port of the test server)."""
    return [
        f"http://127.0.0.1:{port}/feed.xml",
        f"http://0x7f.1:{port}/feed.xml",
        f"http://2130706433:{port}/feed.xml",
        f"http://0177.0.0.1:{port}/feed.xml",
        f"http://0x7f000001:{port}/feed.xml",
        f"http://127.1:{port}/feed.xml",
        f"http://[::1]:{port}/feed.xml",
        f"http://[::ffff:127.0.0.1]:{port}/feed.xml",
        f"http://[::ffff:7f00:1]:{port}/feed.xml",
        f"http://[64:ff9b::7f00:1]:{port}/feed.xml",
        f"http://[2002:7f00:1::1]:{port}/feed.xml",
        f"http://localhost:{port}/feed.xml",
        f"http://LOCALHOST:{port}/feed.xml",
        f"http://0.0.0.0:{port}/feed.xml",
        f"http://0:{port}/feed.xml",
        "http://10.0.0.1/feed.xml",
        "http://172.16.5.4/feed.xml",
        "http://192.168.1.1/feed.xml",
        "http://100.64.0.1/feed.xml",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/feed.xml",
        "http://[fc00::1]/feed.xml",
        "http://224.0.0.1/feed.xml",
        "http://[ff02::1]/feed.xml",
        "http://240.0.0.1/feed.xml",
        "http://255.255.255.255/feed.xml",
    ]


def test_every_spelling_is_refused_before_any_request(feed_server: FeedServer, strict: Settings) -> None:
    feed_server.route("/feed.xml", Reply(body=FEED))
    with Fetcher(strict) as fetcher:
        for url in _spellings(feed_server.port):
            with pytest.raises(BlockedAddressError) as err:
                fetcher.fetch(url)
            assert err.value.reason == "blocked_address", url
    assert feed_server.hits("/feed.xml") == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/feed", "gopher://127.0.0.1:70/",
                                 "dict://127.0.0.1:11211/", "javascript:alert(1)"])
def test_other_schemes_are_refused(url: str, strict: Settings) -> None:
    with Fetcher(strict) as fetcher, pytest.raises(BlockedAddressError):
        fetcher.fetch(url)


def _redirect_targets(port: int) -> list[str]:
    # The first hop (127.0.0.1) is exempted below, so targets point at *other* private addresses.
    return [
        f"http://0x7f.2:{port}/secret",
        f"http://2130706434:{port}/secret",
        f"http://0177.0.0.2:{port}/secret",
        f"http://127.2:{port}/secret",
        f"http://[::1]:{port}/secret",
        f"http://[::ffff:127.0.0.2]:{port}/secret",
        f"http://localhost:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.1.2.3/secret",
        "file:///etc/passwd",
    ]


def test_every_spelling_is_refused_via_redirect(feed_server: FeedServer, strict: Settings) -> None:
    feed_server.route("/secret", Reply(body=b"internal data"))
    with Fetcher(strict, exempt=frozenset({"127.0.0.1"})) as fetcher:
        assert fetcher.fetch(feed_server.route("/ok", Reply(body=FEED))).body == FEED  # the exemption works
        for i, target in enumerate(_redirect_targets(feed_server.port)):
            for status in (301, 302, 307):
                start = feed_server.route(f"/hop{i}-{status}", Reply(status, headers={"Location": target}))
                with pytest.raises(BlockedAddressError):
                    fetcher.fetch(start)
    assert feed_server.hits("/secret") == []


def test_a_name_resolving_to_loopback_is_refused_at_connect(feed_server: FeedServer, strict: Settings) -> None:
    import socket

    name = socket.gethostname()
    resolved = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    if not any(blocked_reason(ipaddress.ip_address(a)) for a in resolved):
        pytest.skip(f"{name} resolves to public addresses here ({resolved})")
    check_url(f"http://{name}/", allow_private=False)  # the name itself passes the first layer...
    feed_server.route("/feed.xml", Reply(body=FEED))
    with Fetcher(strict) as fetcher, pytest.raises(BlockedAddressError) as err:
        fetcher.fetch(f"http://{name}:{feed_server.port}/feed.xml")  # ...the resolved address does not
    assert "blocked" in str(err.value)
    assert feed_server.hits("/feed.xml") == []


def test_allowed_private_networks_reach_loopback(feed_server: FeedServer, settings: Settings) -> None:
    assert settings.allow_private_networks
    url = feed_server.route("/feed.xml", Reply(body=FEED))
    with Fetcher(settings) as fetcher:
        assert fetcher.fetch(url).body == FEED


def test_unresolvable_name_is_a_connect_error(strict: Settings) -> None:
    with Fetcher(strict) as fetcher, pytest.raises(FetchError) as err:
        fetcher.fetch("http://no-such-host.invalid/feed.xml")
    assert err.value.reason == "connect_error"


@pytest.mark.parametrize(("host", "ip"), [
    ("0x7f.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("[::1]", "::1"), ("::ffff:127.0.0.1", "::ffff:7f00:1"), ("example.com", None), ("deadbeef.com", None),
    ("abc", None), ("1.2.3.4.5", None),
])
def test_literal_ip(host: str, ip: str | None) -> None:
    found = literal_ip(host)
    assert (str(found) if found else None) == ip


@pytest.mark.parametrize(("ip", "blocked"), [
    ("8.8.8.8", False), ("1.1.1.1", False), ("2606:4700:4700::1111", False),
    ("127.0.0.1", True), ("10.0.0.1", True), ("100.64.0.1", True), ("169.254.1.1", True), ("0.0.0.0", True),
    ("224.0.0.251", True), ("239.255.255.250", True), ("240.0.0.1", True), ("::", True), ("::1", True),
    ("fe80::1", True), ("fd12::1", True), ("ff05::2", True), ("::ffff:10.0.0.1", True),
    ("64:ff9b::a00:1", True), ("64:ff9b::808:808", False), ("2002:c0a8:101::1", True),
    ("2001:db8::1", True),
])
def test_blocked_reason(ip: str, blocked: bool) -> None:
    assert (blocked_reason(ipaddress.ip_address(ip)) is not None) is blocked


def test_a_hanging_resolver_costs_no_more_than_the_connect_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # The OS resolver cannot be made to hang from here, so this one stands in for it.
    import socket
    import threading

    import httpcore

    from core import netguard

    release = threading.Event()

    def hanging(*args: object, **kwargs: object) -> list[object]:
        release.wait(10)
        return []

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        with pytest.raises(httpcore.ConnectTimeout, match=r"resolving feeds\.example took longer than 0\.2s"):
            netguard._resolve("feeds.example", 443, 0.2)
    finally:
        release.set()


def test_lookups_work_in_a_forked_child_after_the_parent_used_the_pool() -> None:
    # RQ forks a work horse per job: the child inherits the pool object but none of its threads.
    import os

    from core import netguard

    assert netguard._resolve("localhost", 80, 5.0)
    pid = os.fork()
    if pid == 0:
        try:
            ok = bool(netguard._resolve("localhost", 80, 2.0))
        except Exception:
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
