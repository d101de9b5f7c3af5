"""Serve rendered replica pages on loopback, reached by the crawler as its HTTP proxy.

Requests come in absolute form (``GET http://finews.withounder.com/path HTTP/1.1``, as Scrapy's
HttpProxyMiddleware sends them) or in origin form with a ``Host`` header. Only the site and its share
host are answered; any other host gets a 502 and nothing is ever forwarded to the network.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, unquote, urlsplit

from crawler.postfile import PostFile, PostFileError, parse_post_file, read_post_file
from crawler.replica.generate import generate_site, write_site
from crawler.replica.hostile import hostile_site
from crawler.replica.render import (
    NOT_FOUND,
    SHARE_HOST,
    SHARE_PAGE_PATH,
    SHARE_TEXT_PATH,
    SITE_HOST,
    TEXT,
    Page,
    PageKey,
    render_site,
    share_page_key,
    share_text_key,
)

POST_SUFFIXES = (".md", ".markdown")
# Put in the page map for a URL whose host is down: the connection is closed without any answer.
NO_ANSWER = Page(0, TEXT, b"")
# A fault a test sets on the server: given the host and the decoded path, the answer to give instead.
Fault = Callable[[str, str], "Page | None"]


def _plain(status: int, message: str) -> Page:
    return Page(status, TEXT, (message + "\n").encode())


def resolve(pages: Mapping[PageKey, Page], host: str, path: str, query: str = "") -> Page:
    """The page for one request: by host, percent-decoded path, and for the share host its query."""
    host = host.lower().rstrip(".")
    if host not in (SITE_HOST, SHARE_HOST):
        return _plain(502, f"replica: {host or 'no host'} is not served here (only {SITE_HOST} and {SHARE_HOST})")
    path = unquote(path or "/")
    if host == SHARE_HOST:
        params = parse_qs(query)
        if path == SHARE_PAGE_PATH and (codes := params.get("infoCode")):
            return pages.get(share_page_key(codes[0]), NOT_FOUND)
        if path == SHARE_TEXT_PATH and (codes := params.get("id")):
            return pages.get(share_text_key(codes[0]), NOT_FOUND)
        return NOT_FOUND
    return pages.get((host, path), NOT_FOUND)


def _host_of(header: str | None) -> str:
    """A Host header without its port (a bracketed IPv6 address stays whole)."""
    value = (header or "").strip()
    if value.startswith("["):
        return value[: value.find("]") + 1]
    return value.split(":", 1)[0]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "finews-replica"
    server: _ReplicaHTTPServer

    def do_GET(self) -> None:
        self._send(self._page(), body=True)

    def do_HEAD(self) -> None:
        self._send(self._page(), body=False)

    def do_CONNECT(self) -> None:
        self._send(_plain(502, "replica: serves plain http only; request http:// URLs"), body=True)

    def _page(self) -> Page:
        target = urlsplit(self.path)
        host = (target.hostname or "") if target.scheme and target.netloc else _host_of(self.headers.get("Host"))
        self.server.requests.append(f"http://{host}{target.path}" + (f"?{target.query}" if target.query else ""))
        if self.server.delay:
            time.sleep(self.server.delay)
        page = None if self.server.fault is None else self.server.fault(host, unquote(target.path))
        if page is None:
            page = resolve(self.server.pages, host, target.path, target.query)
        if page.delay:
            time.sleep(page.delay)
        return page

    def _send(self, page: Page, body: bool) -> None:
        if page.status == NO_ANSWER.status:
            self.close_connection = True
            return
        self.send_response(page.status)
        self.send_header("Content-Type", page.content_type)
        self.send_header("Content-Length", str(len(page.body)))
        for name, value in page.headers:
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(page.body)

    def log_message(self, format: str, *args: object) -> None:  # ``format``: the base class's name
        """Quiet: a crawl makes thousands of requests."""


class _ReplicaHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # The listen backlog. socketserver's 5 overflowed when a crawl opened more connections at once (its
    # post pages and their share texts): the kernel dropped the connection attempts, and a client waited a
    # second for its retry, past a short share timeout. Real servers listen with hundreds (nginx: 511).
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], pages: Mapping[PageKey, Page], delay: float, requests: list[str],
        fault: Fault | None = None,
    ) -> None:
        super().__init__(address, _Handler)
        self.pages = pages
        self.delay = delay
        self.requests = requests
        self.fault = fault

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that hangs up mid-answer (a crawl stopped or killed on purpose) is not the server's error."""
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class ReplicaServer:
    """The replica on ``host:port`` (port 0: any free port) in a daemon thread; a context manager.

    ``delay`` seconds pass before each answer (a slow site, for tests that stop a crawl midway);
    ``fault(host, path)``, when given, answers first: a Page (a 429, a 500…) or None for the usual page;
    ``requests`` lists every request received, as ``http://host/path?query``, in arrival order.
    """

    def __init__(
        self, pages: Mapping[PageKey, Page], host: str = "127.0.0.1", port: int = 0, delay: float = 0.0,
        fault: Fault | None = None,
    ) -> None:
        self._pages = pages
        self._address = (host, port)
        self._delay = delay
        self._fault = fault
        self.requests: list[str] = []
        self._server: _ReplicaHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ReplicaServer:
        if self._server is not None:
            raise RuntimeError("the replica server is already running")
        self._server = _ReplicaHTTPServer(self._address, self._pages, self._delay, self.requests, self._fault)
        self._thread = threading.Thread(target=self._server.serve_forever, name="finews-replica", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = self._thread = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the replica server is not running")
        return int(self._server.server_address[1])

    @property
    def proxy_url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def __enter__(self) -> ReplicaServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def load_posts(directory: Path) -> tuple[list[PostFile], list[tuple[str, str]]]:
    """The readable post files in ``directory``, and (file name, reason) for those Jekyll would skip."""
    posts: list[PostFile] = []
    unreadable: list[tuple[str, str]] = []
    for path in sorted(directory.iterdir()):
        if not path.is_file() or path.suffix not in POST_SUFFIXES:
            continue
        try:
            posts.append(read_post_file(path))
        except UnicodeDecodeError as error:
            unreadable.append((path.name, f"not UTF-8: {error.reason} at byte {error.start}"))
        except PostFileError as error:
            unreadable.append((path.name, str(error)))
    return posts, unreadable


def serve_forever(
    posts_dir: Path | None, count: int, port: int, host: str = "127.0.0.1", hostile: bool = False,
    write_posts: Path | None = None,
) -> None:
    """Serve the posts in ``posts_dir`` (or ``count`` generated ones, with ``hostile`` the hostile cases
    beside them) until interrupted; ``write_posts``: a folder to write the generated post files into."""
    if hostile:
        pages, cases = hostile_site(count)
        _serve(pages, f"{count} generated posts and {len(cases)} hostile cases", host, port)
        return
    if posts_dir is not None:
        posts, unreadable = load_posts(posts_dir)
        for name, reason in unreadable:
            print(f"replica: skipped {name}: {reason}", file=sys.stderr)
        source = f"{len(posts)} posts in {posts_dir}"
    else:
        site = generate_site(count)
        posts = [parse_post_file(name, text) for name, text in site.files]
        source = f"{count} generated posts"
        if write_posts is not None:
            write_site(write_posts, site)
            source += f" (written to {write_posts})"
    _serve(render_site(posts), source, host, port)


def _serve(pages: Mapping[PageKey, Page], source: str, host: str, port: int) -> None:
    with ReplicaServer(pages, host, port) as server:
        print(f"replica: {len(pages)} pages from {source}; use HTTP proxy {server.proxy_url}", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
