"""The site gone: after ``FINEWS_SITE_BREAKER`` requests to the site in a row got no answer, the run stops.

Without it, a site that dies mid-crawl costs every post still queued its retries against a dead host, and
each of those posts would be recorded as a reject for a fault that was not the page's. With it, the run
fails at once with one line (crawler/faults.py), and the posts not archived stay in the frontier: the next
run, resumed or not, fetches them first. Any answer from the site (a 404 too) shows it alive and resets
the count; a 5xx answer counts as no answer (a proxy in front of a dead site answers 502).
Throttling answers (429, and 503 with Retry-After) never reach it: crawler/throttle.py waits them out.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from crawler.faults import fail_run, shorten

# Twisted's failures as Scrapy's download errors wrap them: ``[<twisted.python.failure.Failure
# twisted.internet.error.ConnectionDone: Connection was closed cleanly.>]``.
_WRAPPED_FAILURE = re.compile(r"<twisted\.python\.failure\.Failure (?:[\w.]+\.)?(\w+): ([^>]*)>")


def exception_words(exception: BaseException) -> str:
    """A download error in a few words: the wrapped Twisted failures' own, when it carries them."""
    message = str(exception)
    wrapped = _WRAPPED_FAILURE.findall(message)
    if wrapped:
        message = "; ".join(f"{kind}: {words.strip()}" for kind, words in wrapped)
        return shorten(message, 200)
    return shorten(f"{type(exception).__name__}: {message}" if message else type(exception).__name__, 200)


class SiteGone(IgnoreRequest):
    """Not sent: the site stopped answering earlier in this run. No verdict on the page."""


class SiteHostBreaker:
    """Downloader middleware next to the downloader (inside the throttle): it sees every attempt's outcome."""

    def __init__(self, crawler: Crawler, site_url: str, threshold: int) -> None:
        self.crawler = crawler
        self.site_url = site_url
        self.host = urlsplit(site_url).hostname or ""
        self.threshold = threshold
        self.failed_in_a_row = 0
        self.answered = False
        self.last_failure = ""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SiteHostBreaker:
        settings = crawler.settings
        threshold = settings.getint("FINEWS_SITE_BREAKER")
        if threshold < 1 or settings.getbool("FINEWS_REPLAY"):
            raise NotConfigured
        return cls(crawler, settings["FINEWS_SITE_URL"], threshold)

    @property
    def is_open(self) -> bool:
        return self.failed_in_a_row >= self.threshold

    def _of_site(self, request: Request) -> bool:
        return urlparse_cached(request).hostname == self.host

    def process_request(self, request: Request) -> None:
        if self.is_open and self._of_site(request):
            raise SiteGone(f"not sent: {self._reason()}")

    def process_response(self, request: Request, response: Response) -> Response:
        if self._of_site(request):
            if response.status >= 500:
                self._failed(f"http {response.status}")
            else:
                self.answered = True
                self.failed_in_a_row = 0
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if self._of_site(request) and not isinstance(exception, IgnoreRequest):
            self._failed(exception_words(exception))

    def _failed(self, reason: str) -> None:
        self.failed_in_a_row += 1
        self.last_failure = reason
        if self.failed_in_a_row == self.threshold:
            fail_run(self.crawler, self._reason())

    def _reason(self) -> str:
        if not self.answered:
            return f"site {self.site_url} unreachable: {self.last_failure}"
        return (
            f"site {self.site_url} stopped answering: {self.failed_in_a_row} requests in a row failed "
            f"(last: {self.last_failure}); the posts not archived stay in the frontier for the next run"
        )
