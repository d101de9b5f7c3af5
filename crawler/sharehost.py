"""Asking the share host for an article's text, and giving up on it for the run once it stops answering.

A post never waits long for its text: share requests carry their own short timeout
(``FINEWS_SHARE_TIMEOUT``) and are not retried (``finews share --backfill`` is the retry). And once the
share host has failed ``FINEWS_SHARE_BREAKER`` requests in a row — no answer (down, hanging) or an error
status (4xx, 5xx) — the rest of the run does not ask it at all: each post would otherwise wait out the
timeout, or AutoThrottle's delay, for nothing (AutoThrottle never shortens its delay on an error answer,
so a host that answers 404 to everything holds each post for a quarter second or more). One article's
404 is not the host's fault, but it takes a run of them in a row to stop asking, and a 200 ends the run;
an unusable text in a 200 is about one article and ends it too.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

# Request.meta key marking a request for a share text: the only requests the breaker looks at.
SHARE_REQUEST = "finews_share"
SHARE_TEXT_PATH = "/NewsData/GetNewsText.do"

logger = logging.getLogger(__name__)


def share_text_url(share_host: str, info_code: str) -> str:
    """Where the share host answers an article's text as JSON (its share page loads the same by JavaScript)."""
    return f"http://{share_host}{SHARE_TEXT_PATH}?id={info_code}"


def share_request_meta(timeout: float, retry: bool = False) -> dict[str, object]:
    """Meta for a share-text request: its own timeout, no retries unless ``retry``, and the breaker's mark."""
    return {SHARE_REQUEST: True, "download_timeout": timeout, "dont_retry": not retry}


class ShareHostUnavailable(IgnoreRequest):
    """Not requested: the share host stopped answering earlier in this run."""


class ShareHostBreaker:
    """Downloader middleware: after ``threshold`` share requests in a row failed, refuse the rest."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.failed_in_a_row = 0
        self.last_failure = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ShareHostBreaker:
        threshold = crawler.settings.getint("FINEWS_SHARE_BREAKER")
        if threshold < 1:
            # Switched off on purpose (0: ask for every post; a reparse fetches nothing): no warning, as
            # Scrapy's own components raise it bare when their setting turns them off.
            raise NotConfigured
        return cls(threshold)

    @property
    def is_open(self) -> bool:
        return self.failed_in_a_row >= self.threshold

    def process_request(self, request: Request) -> None:
        if request.meta.get(SHARE_REQUEST) and self.is_open:
            raise ShareHostUnavailable(
                f"share host unavailable: {self.failed_in_a_row} requests in a row failed (last: {self.last_failure})"
            )

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get(SHARE_REQUEST):
            if response.status >= 400:
                self._failed(f"http {response.status}")
            else:
                self.failed_in_a_row = 0
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if request.meta.get(SHARE_REQUEST) and not isinstance(exception, IgnoreRequest):
            self._failed(f"{type(exception).__name__}: {exception}"[:200])

    def _failed(self, reason: str) -> None:
        was_open = self.is_open
        self.failed_in_a_row += 1
        self.last_failure = reason
        if self.is_open and not was_open:
            logger.error(
                "Share host unavailable: %d requests in a row failed (last: %s); the rest of this run archives "
                "posts from their pages, `finews share --backfill` fetches their texts later",
                self.failed_in_a_row, reason,
            )
