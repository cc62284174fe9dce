"""The only feed HTTP in the project: a conditional GET with every guard a public fetcher needs.

    Fetcher(settings).fetch(url, etag=..., last_modified=...) -> FetchResult   (or raises FetchError)

Guards: the SSRF guard of core.netguard on every hop (redirects are followed here, one by one); a
total deadline besides connect/read timeouts, so a slow-drip server cannot hold a worker; a body cap
counted while streaming *after* decompression (we decompress ourselves with a bounded output size,
so a gzip bomb never inflates past the cap in memory); a redirect limit and loop detection.

FetchError.reason codes (stable, stored on the feed): blocked_address, bad_url, timeout,
connect_error, http_error, too_large, bad_encoding, redirect_loop, too_many_redirects, bad_redirect,
gone (410), rate_limited (429), http_<status>.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import ssl
import time
import zlib
from contextlib import closing
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urljoin

import httpcore
import httpx

from core.errors import BlockedAddressError, FetchError
from core.netguard import GuardedBackend, check_url
from core.settings import Settings

log = logging.getLogger(__name__)

USER_AGENT = "reewatch/0.1 (rare-earth supply monitor; feed fetcher)"
ACCEPT = ("application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
          "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5")
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_PERMANENT = (301, 308)
#: No single socket wait may exceed this, whatever the total deadline.
_PHASE_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one fetch brought back. `status` is 200-299 or 304 (`not_modified`, empty body)."""

    url: str
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    permanent_url: str | None = None  # new address when every redirect hop was permanent (301/308)
    fresh_for: float | None = None  # seconds the server says the body stays fresh
    content_hash: str = ""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def body_hash(body: bytes) -> str:
    """Short stable hash of a body: equal hashes mean nothing to parse."""
    return hashlib.blake2b(body, digest_size=16).hexdigest()


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context per process: loading the CA bundle costs more than a whole 304 poll."""
    return httpx.create_ssl_context()


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport on a connection pool whose sockets come from the SSRF-guarded backend."""

    def __init__(self, *, allow_private: bool, exempt: frozenset[str], max_connections: int) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        # HTTPTransport has no network_backend argument; swap its pool for one that has it.
        self._pool.close()
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=max_connections,
            keepalive_expiry=30.0,
            network_backend=GuardedBackend(allow_private=allow_private, exempt=exempt),
        )


class _Inflater:
    """Content-Encoding decoder whose output per call is bounded, so a bomb is caught early."""

    def __init__(self, encoding: str) -> None:
        enc = encoding.strip().lower()
        if enc in ("", "identity"):
            self._wbits: int | None = None
        elif enc in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif enc == "deflate":
            self._wbits = zlib.MAX_WBITS
        else:
            raise FetchError("bad_encoding", f"unsupported Content-Encoding {encoding!r}")
        self._obj = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._first = True

    def feed(self, data: bytes, room: int) -> bytes:
        """Decode `data`, returning at most room+1 bytes (more than `room` means: over the cap)."""
        if self._obj is None:
            return data[: room + 1]
        out = bytearray()
        while data and len(out) <= room:
            try:
                out += self._obj.decompress(data, room + 1 - len(out))
            except zlib.error:
                if self._first and self._wbits == zlib.MAX_WBITS:
                    # Servers often send raw deflate under "deflate"; retry without the zlib header.
                    self._wbits = -zlib.MAX_WBITS
                    self._obj = zlib.decompressobj(self._wbits)
                    continue
                raise FetchError("bad_encoding", "the compressed body is corrupt") from None
            self._first = False
            if self._obj.unconsumed_tail:
                data = self._obj.unconsumed_tail
            elif self._obj.eof and self._obj.unused_data:  # concatenated gzip members
                data = self._obj.unused_data
                self._obj = zlib.decompressobj(self._wbits or zlib.MAX_WBITS)
            else:
                data = b""
        return bytes(out)


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def freshness(headers: httpx.Headers | dict[str, str], now: float) -> float | None:
    """Seconds the response stays fresh per Cache-Control max-age (less Age) or Expires, else None."""
    cache_control = (headers.get("cache-control") or "").lower()
    directives = [d.strip() for d in cache_control.split(",") if d.strip()]
    if any(d in ("no-store", "no-cache") for d in directives):
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name.strip() == "max-age":
            try:
                age = float(headers.get("age") or 0)
                return max(0.0, float(value.strip().strip('"')) - age)
            except ValueError:
                return None
    expires = headers.get("expires")
    if expires:
        try:
            date = headers.get("date")
            base = parsedate_to_datetime(date).timestamp() if date else now
            return max(0.0, parsedate_to_datetime(expires).timestamp() - base)
        except (TypeError, ValueError, IndexError):
            return 0.0  # RFC 9111: an invalid Expires means already expired
    return None


class Fetcher:
    """A pooled, guarded HTTP client for feeds; thread-safe, so one serves a whole poll batch."""

    def __init__(self, settings: Settings, *, max_connections: int = 16,
                 exempt: frozenset[str] = frozenset()) -> None:
        """`exempt`: exact IP addresses the SSRF guard lets through even when private networks are not."""
        self.allow_private = settings.allow_private_networks
        self.exempt = exempt
        self.max_bytes = settings.fetch_max_bytes
        self.total = settings.fetch_timeout
        phase = min(_PHASE_TIMEOUT, self.total)
        # The transport is called directly: httpx's Client would parse a redirect's Location itself
        # (refusing odd spellings with its own error) before we could judge the hop.
        self._transport = _GuardedTransport(allow_private=self.allow_private, exempt=exempt,
                                            max_connections=max_connections)
        self._client = httpx.Client(
            transport=self._transport,
            timeout=httpx.Timeout(phase, pool=self.total),
            follow_redirects=False,
            trust_env=False,
            headers={"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "gzip, deflate"},
        )

    def close(self) -> None:
        self._client.close()  # closes the transport too

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET `url` conditionally, following up to MAX_REDIRECTS guarded hops; raise FetchError."""
        deadline = time.monotonic() + self.total
        current, visited, permanent = url, {url}, True
        conditional: dict[str, str] = {}
        if etag:
            conditional["If-None-Match"] = etag
        if last_modified:
            conditional["If-Modified-Since"] = last_modified
        for _hop in range(MAX_REDIRECTS + 1):
            check_url(current, allow_private=self.allow_private, exempt=self.exempt)
            try:
                request = self._client.build_request("GET", current, headers=conditional)
                with closing(self._transport.handle_request(request)) as response:
                    response.request = request
                    status = response.status_code
                    if status in _REDIRECTS:
                        location = response.headers.get("location")
                        if not location:
                            raise FetchError("bad_redirect", f"HTTP {status} without a Location", status=status)
                        permanent = permanent and status in _PERMANENT
                        current = urljoin(current, location.strip())
                        if current in visited:
                            raise FetchError("redirect_loop", f"redirect loop back to {current}", status=status)
                        visited.add(current)
                        continue
                    return self._finish(url, current, response, deadline, permanent)
            except FetchError:
                raise
            except httpx.TimeoutException:
                raise FetchError("timeout", f"timed out after {self.total:g}s") from None
            except httpx.ConnectError as exc:
                raise FetchError("connect_error", f"cannot connect: {exc}") from None
            except httpx.InvalidURL as exc:
                raise FetchError("bad_url", f"bad URL {current!r}: {exc}") from None
            except httpx.HTTPError as exc:
                raise FetchError("http_error", f"{type(exc).__name__}: {exc}") from None
        raise FetchError("too_many_redirects", f"more than {MAX_REDIRECTS} redirects")

    def _finish(self, original: str, final: str, response: httpx.Response, deadline: float,
                permanent: bool) -> FetchResult:
        now = time.time()
        status = response.status_code
        headers = {k.lower(): v for k, v in response.headers.items()}
        moved = final if (permanent and final != original) else None
        if status == 304:
            return FetchResult(final, 304, b"", headers, headers.get("etag"), headers.get("last-modified"),
                               moved, freshness(response.headers, now))
        if status == 410:
            raise FetchError("gone", "HTTP 410 Gone: the publisher removed this feed", status=410)
        if status in (429, 503):
            wait = _retry_after(response.headers.get("retry-after"), now)
            reason = "rate_limited" if status == 429 else "http_503"
            raise FetchError(reason, f"HTTP {status} (retry after {wait or 0:g}s)", status=status, retry_after=wait)
        if not 200 <= status < 300:
            raise FetchError(f"http_{status}", f"HTTP {status} {response.reason_phrase}".strip(), status=status)
        body = self._read_body(response, deadline)
        return FetchResult(final, status, body, headers, headers.get("etag"), headers.get("last-modified"),
                           moved, freshness(response.headers, now), body_hash(body))

    def _read_body(self, response: httpx.Response, deadline: float) -> bytes:
        encoding = response.headers.get("content-encoding", "")
        declared = response.headers.get("content-length", "")
        if not encoding and declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError("too_large", f"body of {int(declared)} bytes exceeds the {self.max_bytes}-byte cap")
        inflater = _Inflater(encoding)
        body = bytearray()
        for chunk in response.iter_raw():  # as received: a chunk_size would wait to fill it
            if time.monotonic() > deadline:
                raise FetchError("timeout", f"body still arriving after {self.total:g}s (slow server)")
            room = self.max_bytes - len(body)
            body += inflater.feed(chunk, room)
            if len(body) > self.max_bytes:
                raise FetchError("too_large", f"body exceeds the {self.max_bytes}-byte cap"
                                 + (" after decompression" if encoding else ""))
        return bytes(body)


def fetch_once(settings: Settings, url: str) -> FetchResult:
    """One unconditional fetch with a throw-away client (previews, validation)."""
    with Fetcher(settings, max_connections=2) as fetcher:
        return fetcher.fetch(url)


__all__ = ["BlockedAddressError", "FetchError", "FetchResult", "Fetcher", "body_hash", "fetch_once", "freshness"]
