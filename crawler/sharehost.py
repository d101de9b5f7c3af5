"""Asking the share host for an article's text, and giving up on it for the run once it stops answering.

A post never waits long for its text: share requests carry their own short timeout
(``FINEWS_SHARE_TIMEOUT``) and are not retried (``finews share --backfill`` is the retry). And once the
share host has failed ``FINEWS_SHARE_BREAKER`` requests in a row — no answer (down, hanging) or an error
status (4xx, 5xx) — the rest of the run does not ask it at all: each post would otherwise wait out the
timeout, or AutoThrottle's delay, for nothing (AutoThrottle never shortens its delay on an error answer,
so a host that answers 404 to everything holds each post for a quarter second or more). One article's
404 is not the host's fault, but it takes a run of them in a row to stop asking, and a 200 ends the run;
an unusable text in a 200 is about one article and ends it too.

The breaker's count is kept where each attempt is sent, in the HTTP download handler (``ShareHostGate``),
which also refuses to send once it opened. Scrapy runs the downloader middlewares before a request waits
for a free slot of its host, and hands a failure back to them only after the slot has sent the next
request: a breaker that were only a middleware let every queued request go out after it opened (15 to a
host that was down, with a breaker of 3). The middleware (``ShareHostBreaker``) refuses requests early,
so none waits for a slot, and counts the throttling answers (429, 503 with Retry-After) that
crawler/throttle.py gave up waiting out. The reason is set once, when the breaker opens
(``UNAVAILABLE_STAT``), and is the same for every post it holds back.
"""

from __future__ import annotations

import logging
from weakref import WeakKeyDictionary

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    NotConfigured,
    ResponseDataLossError,
)
from scrapy.http import Response

from crawler.sharestatus import TIMEOUT, UNREACHABLE, status_of_answer
from crawler.sitehost import exception_words

# Request.meta key marking a request for a share text: the only requests the breaker looks at.
SHARE_REQUEST = "finews_share"
SHARE_TEXT_PATH = "/NewsData/GetNewsText.do"
# Request.meta: (share_status, share_detail) of the request's last attempt that was sent and failed. Its
# retries carry it, so a text whose retry the breaker then held back reports what the host did answer.
LAST_ATTEMPT = "finews_share_last_attempt"
# The stat holding why the share host was given up on in this run; absent while it is asked.
UNAVAILABLE_STAT = "finews/share_host_unavailable"

# What the HTTP handler raises when the host gave no (whole) answer.
NO_ANSWER = (
    CannotResolveHostError, DownloadConnectionRefusedError, DownloadFailedError, DownloadTimeoutError,
    ResponseDataLossError,
)

logger = logging.getLogger(__name__)


def share_text_url(share_host: str, info_code: str) -> str:
    """Where the share host answers an article's text as JSON (its share page loads the same by JavaScript)."""
    return f"http://{share_host}{SHARE_TEXT_PATH}?id={info_code}"


def share_request_meta(timeout: float, retry: bool = False) -> dict[str, object]:
    """Meta for a share-text request: its own timeout, no retries unless ``retry``, and the breaker's mark."""
    return {SHARE_REQUEST: True, "download_timeout": timeout, "dont_retry": not retry}


class ShareHostUnavailable(IgnoreRequest):
    """Not requested: the share host stopped answering earlier in this run."""


def _throttling(response: Response) -> bool:
    return response.status == 429 or (response.status == 503 and b"Retry-After" in response.headers)


class ShareHostState:
    """The share host's failures in a row in one run, shared by the download handler and the middleware."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.share_host = crawler.settings["FINEWS_SHARE_HOST"]
        self.threshold = crawler.settings.getint("FINEWS_SHARE_BREAKER")
        self.failed_in_a_row = 0
        self.reason: str | None = None

    def answered(self) -> None:
        if self.reason is None:
            self.failed_in_a_row = 0

    def failed(self, last: str) -> None:
        if self.reason is not None or self.threshold < 1:
            return
        self.failed_in_a_row += 1
        if self.failed_in_a_row < self.threshold:
            return
        self.reason = (
            f"share host {self.share_host} unavailable: {self.failed_in_a_row} requests in a row failed (last: {last})"
        )
        self.crawler.stats.set_value(UNAVAILABLE_STAT, self.reason)
        logger.error(
            "%s; the rest of this run does not ask it, `finews share --backfill` fetches the texts later", self.reason
        )


_STATES: WeakKeyDictionary[Crawler, ShareHostState] = WeakKeyDictionary()


def share_host_state(crawler: Crawler) -> ShareHostState:
    """The run's one ShareHostState (the handler and the middleware are built separately, in either order)."""
    if crawler not in _STATES:
        _STATES[crawler] = ShareHostState(crawler)
    return _STATES[crawler]


class ShareHostBreaker:
    """Downloader middleware: once the share host was given up on, no share request goes further."""

    def __init__(self, state: ShareHostState) -> None:
        self.state = state

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ShareHostBreaker:
        if crawler.settings.getint("FINEWS_SHARE_BREAKER") < 1:
            # Switched off on purpose (0: ask for every post; a reparse fetches nothing): no warning, as
            # Scrapy's own components raise it bare when their setting turns them off.
            raise NotConfigured
        return cls(share_host_state(crawler))

    @property
    def is_open(self) -> bool:
        return self.state.reason is not None

    def process_request(self, request: Request) -> None:
        if request.meta.get(SHARE_REQUEST) and self.state.reason is not None:
            raise ShareHostUnavailable(self.state.reason)

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get(SHARE_REQUEST) and _throttling(response):
            self.state.failed(f"http {response.status}")  # the throttle gave up waiting it out
        return response


class ShareHostGate(HTTP11DownloadHandler):
    """The HTTP download handler: sends no share request once the share host was given up on, and counts
    each share request's outcome as it comes, before its host's slot sends the next one."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.state = share_host_state(crawler)

    async def download_request(self, request: Request) -> Response:
        if not request.meta.get(SHARE_REQUEST):
            return await super().download_request(request)
        if self.state.reason is not None:
            # Scrapy's DownloaderStats counted it among the run's requests on its way in: it was never sent.
            self.crawler.stats.inc_value("downloader/request_count", -1)
            raise ShareHostUnavailable(self.state.reason)
        try:
            response = await super().download_request(request)
        except NO_ANSWER as error:
            request.meta[LAST_ATTEMPT] = attempt_failure(error)
            self.state.failed(exception_words(error))
            raise
        if response.status < 400:
            self.state.answered()
        elif not _throttling(response):
            request.meta[LAST_ATTEMPT] = (status_of_answer(response.status), f"http {response.status}")
            self.state.failed(f"http {response.status}")
        return response


def attempt_failure(error: BaseException) -> tuple[str, str]:
    """A share request the host gave no answer to, as (``share_status``, ``share_detail``)."""
    return (TIMEOUT if isinstance(error, DownloadTimeoutError) else UNREACHABLE), exception_words(error)
