"""A real HTTP server on loopback that serves feeds for tests and the demo.

Routes map a path to a `Reply` (or a function of the request returning one). Every request is
recorded with its headers, so tests can assert conditional GETs. Replies can drip slowly, redirect,
send gzip bodies, or close early, which is what a fetcher must survive.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/rss+xml; charset=utf-8"
    gzip: bool = False
    drip_delay: float = 0.0  # seconds between chunks of an iterable body


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    at: float


Route = Reply | Callable[[Seen], Reply]


class FeedServer:
    """Start with `with FeedServer() as server:`; `server.url("/feed.xml")` gives the address."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="feed-server", daemon=True)

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(self, path: str, reply: Route) -> str:
        self.routes[path] = reply
        return self.url(path)

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def start(self) -> FeedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FeedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes; without this, Nagle plus the client's
            # delayed ACK stalls every keep-alive response by ~40 ms.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.do_GET()

            def do_GET(self) -> None:
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, time.time())
                with server._lock:
                    server.requests.append(seen)
                route = server.routes.get(self.path) or server.routes.get(self.path.split("?")[0])
                if route is None:
                    reply = Reply(404, b"not found", content_type="text/plain")
                else:
                    reply = route(seen) if callable(route) else route
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if isinstance(reply.body, bytes):
                        body = gzip.compress(reply.body) if reply.gzip else reply.body
                        if reply.gzip:
                            self.send_header("Content-Encoding", "gzip")
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        if self.command != "HEAD":
                            self.wfile.write(body)
                        return
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for chunk in reply.body:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        if reply.drip_delay:
                            time.sleep(reply.drip_delay)
                    self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        return Handler


def rss(items: list[dict[str, str]], *, title: str = "Test feed", link: str = "https://example.com/") -> bytes:
    """A small RSS 2.0 document; each item dict may carry title, link, guid, description, pubDate."""
    from xml.sax.saxutils import escape

    parts = [f"<?xml version='1.0' encoding='utf-8'?>\n<rss version='2.0'><channel><title>{escape(title)}</title>"
             f"<link>{escape(link)}</link><description>test</description>"]
    for item in items:
        parts.append("<item>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in item.items()) + "</item>")
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")
