"""The SSRF guard: which addresses a feed fetch may reach, checked on the address actually dialled.

Two layers. `check_url` refuses a URL before any I/O: a scheme other than http/https, or a host that
is an IP literal in any spelling the C resolver accepts (`0x7f.1`, `2130706433`, `0177.0.0.1`,
`[::ffff:127.0.0.1]`) and points somewhere private. `GuardedBackend` is an httpcore network backend
that resolves the name itself, dials only allowed addresses, and checks the peer of the connected
socket again, so DNS rebinding and names that resolve to private addresses are refused too. Every
redirect hop goes through both layers because the fetcher follows redirects itself.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

import httpcore

from core.errors import BlockedAddressError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")
#: Characters of an IPv4 literal in the forms inet_aton accepts (decimal, octal, hex, 1 to 4 parts).
_INET_ATON_SHAPE = re.compile(r"[0-9a-fA-FxX.]+\Z")


def blocked_reason(ip: IPAddress) -> str | None:
    """Why a fetch may not connect to `ip` (None when it is a public unicast address)."""
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4 smuggled inside IPv6 (mapped, NAT64, 6to4, Teredo) is judged as the IPv4 it carries.
        embedded: list[ipaddress.IPv4Address] = []
        if ip.ipv4_mapped is not None:
            embedded.append(ip.ipv4_mapped)
        if ip in _NAT64:  # DNS64 on IPv6-only hosts: judge the IPv4 host behind the translator
            inner4 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
            reason = blocked_reason(inner4)
            return f"{reason} (inside IPv6 {ip})" if reason else None
        if ip in _NAT64_LOCAL:
            return "local-use NAT64 address"
        if ip.sixtofour is not None:
            embedded.append(ip.sixtofour)
        if ip.teredo is not None:
            embedded.extend(ip.teredo)
        for inner in embedded:
            reason = blocked_reason(inner)
            if reason:
                return f"{reason} (inside IPv6 {ip})"
    checks = (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    )
    for name, hit in checks:
        if hit:
            return f"{name} address"
    if not ip.is_global:
        return "non-public address"
    return None


def literal_ip(host: str) -> IPAddress | None:
    """The address `host` denotes when it is an IP literal in any spelling, else None (a DNS name)."""
    bare = host.strip("[]")
    try:
        return ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        pass
    if _INET_ATON_SHAPE.match(bare) and not bare.endswith("."):
        try:
            # inet_aton is what getaddrinfo uses for numeric hosts: it reads 0x7f.1 and 2130706433.
            return ipaddress.IPv4Address(socket.inet_aton(bare))
        except OSError:
            return None
    return None


def check_url(url: str, *, allow_private: bool, exempt: frozenset[str] = frozenset()) -> None:
    """Raise BlockedAddressError unless `url` is http(s) with a host that is not a private IP literal.

    `exempt` lists exact addresses allowed anyway (one intranet host; the tests' loopback server)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise BlockedAddressError(f"bad URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise BlockedAddressError(f"refused {url!r}: only http:// and https:// URLs are fetched")
    if not host:
        raise BlockedAddressError(f"refused {url!r}: no host")
    if allow_private:
        return
    ip = literal_ip(host)
    if ip is not None and str(ip) not in exempt:
        reason = blocked_reason(ip)
        if reason:
            raise BlockedAddressError(f"refused {url!r}: {host} is a {reason} ({ip})")
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        raise BlockedAddressError(f"refused {url!r}: {host} is a local name")


#: getaddrinfo cannot be interrupted, so lookups run in a pool and the caller stops waiting at its
#: connect timeout: a resolver that hangs costs a pool thread for a while, never the poll's deadline.
#: One pool per process: a forked RQ work horse inherits the parent's pool object but not its threads.
_resolver: tuple[int, ThreadPoolExecutor] | None = None


def _pool() -> ThreadPoolExecutor:
    global _resolver
    if _resolver is None or _resolver[0] != os.getpid():
        _resolver = (os.getpid(), ThreadPoolExecutor(max_workers=8, thread_name_prefix="resolve"))
    return _resolver[1]


def _resolve(host: str, port: int, timeout: float | None = None) -> list[str]:
    lookup = _pool().submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    try:
        infos = lookup.result(timeout=timeout)
    except FutureTimeout:
        lookup.cancel()
        raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:g}s") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    seen: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in seen:
            seen.append(address)
    return seen


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, dialling only addresses the guard allows and checking the peer."""

    def __init__(self, *, allow_private: bool, exempt: frozenset[str] = frozenset()) -> None:
        self.allow_private = allow_private
        self.exempt = exempt

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple[int, int, int] | tuple[int, int, bytes | bytearray]
                                 | tuple[int, int, None, int]] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = _resolve(host, port, timeout)
        refused: list[str] = []
        last_error: Exception | None = None
        for address in addresses:
            reason = self._refusal(address)
            if reason:
                refused.append(f"{address} ({reason})")
                continue
            try:
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
                continue
            peer = stream.get_extra_info("socket").getpeername()[0]
            reason = self._refusal(str(peer))
            if reason:  # what we dialled is not what we reached: never talk to it
                stream.close()
                raise BlockedAddressError(f"refused connection to {host}: connected to {peer}, a {reason}")
            return stream
        if last_error is not None:
            raise last_error
        raise BlockedAddressError(f"refused {host}: resolves only to blocked addresses: {', '.join(refused)}")

    def _refusal(self, address: str) -> str | None:
        if self.allow_private or address in self.exempt:
            return None
        return blocked_reason(ipaddress.ip_address(address.split("%", 1)[0]))
