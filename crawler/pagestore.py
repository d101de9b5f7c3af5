"""Every fetched page kept in the archive, and played back from it: ``finews reparse`` makes no request.

``PageRecorder`` (an extension) stores each response a crawl receives, with its request, as WARC records
(pipelines/warc.py) indexed by the archive's ``pages`` table. ``StoredPages`` (a downloader middleware, on only with ``FINEWS_REPLAY``, which the
reparse spider sets) answers every request from ``pages`` instead of the network: a page that is not
stored fails with IgnoreRequest, which reaches the request's errback like any failed download.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from crawler.distributed.worker import worker_of
from crawler.faults import storage_faults_fail_the_run
from pipelines.archive import Archive, FetchedPage, StoredPageError, utc_now
from pipelines.crawl_archive import archive_for

# Response.flags mark of a page played back from the archive (never stored again).
STORED_FLAG = "stored"
# Request.meta key: when the answer was received (UTC ISO 8601), the time ``pages`` holds for it; for a
# stored page played back, when the crawl received it.
FETCHED_AT = "finews_fetched_at"
# Request.meta key: the reader a page is recorded under when its request has no callback (a download the
# spider awaits, as parse_post awaits a post's share text).
READ_BY = "finews_read_by"


def fetched_at(meta: Mapping[str, Any]) -> str:
    """When a request's answer arrived, as the page store recorded it (a reparse makes no request: the
    crawl's time); now when the store did not see it (pages not stored, or no answer at all)."""
    return str(meta.get(FETCHED_AT) or utc_now())


def headers_of(response: Response | Request) -> dict[str, list[str]]:
    """Header bytes as latin-1 text: every byte maps to one character, so nothing is lost either way."""
    return {
        name.decode("latin-1"): [value.decode("latin-1") for value in values]
        for name, values in response.headers.items()
    }


def callback_name(request: Request) -> str | None:
    """The spider method that reads the response (``parse_post``); None for Scrapy's own requests (robots.txt)."""
    if READ_BY in request.meta:
        return str(request.meta[READ_BY])
    callback = request.callback
    if callback is None or getattr(callback, "__self__", None) is None:
        return None
    return callback.__name__


class PageRecorder:
    """Extension: every response the crawl receives, stored compressed with its status and headers."""

    def __init__(self, store_page: Callable[[FetchedPage, Request], bool], crawler: Crawler) -> None:
        self.store_page = store_page
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PageRecorder:
        settings = crawler.settings
        # No message: Scrapy would log one as a warning on every run (and cron mails stderr). Off when asked
        # to be, and in a reparse, whose pages are the stored ones.
        if not settings.getbool("FINEWS_STORE_PAGES") or settings.getbool("FINEWS_REPLAY"):
            raise NotConfigured
        worker = worker_of(crawler)
        if worker is not None:
            # A distributed worker: the page goes to the writer with what its request gave.
            recorder = cls(worker.keep_page, crawler)
        else:
            # Looked up when a page arrives: extensions are made before the crawler can find one another.
            recorder = cls(
                lambda page, _request: archive_for(crawler).save_page(page, crawler.stats.get_value("finews/run_id")),
                crawler,
            )
        crawler.signals.connect(recorder.response_received, signal=signals.response_received)
        return recorder

    def response_received(self, response: Response, request: Request) -> None:
        if STORED_FLAG in response.flags:
            return
        received = utc_now()
        # The callbacks date what they read by it: the record and its stored page then say the same time.
        request.meta[FETCHED_AT] = received
        page = FetchedPage(
            response.url, response.status, headers_of(response), response.body, callback_name(request), received,
            headers_of(request),
        )
        with storage_faults_fail_the_run(self.crawler):
            stored = self.store_page(page, request)
            self.crawler.stats.inc_value("finews/pages_stored" if stored else "finews/pages_kept")


class PageNotStored(IgnoreRequest):
    """A reparse asked for a page the archive does not hold: no verdict on it, nothing was fetched."""


class StoredPages:
    """Downloader middleware: the archive's stored page for every request; nothing goes to the network."""

    def __init__(self, archive: Archive, crawler: Crawler) -> None:
        self.archive = archive
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StoredPages:
        if not crawler.settings.getbool("FINEWS_REPLAY"):
            raise NotConfigured  # a crawl: pages come from the network
        return cls(archive_for(crawler), crawler)

    def process_request(self, request: Request) -> Response:
        try:
            page = self.archive.stored_page(request.url)
        except StoredPageError as error:
            self.crawler.stats.inc_value("finews/replay_unreadable")
            raise IgnoreRequest(str(error)) from None
        if page is None:
            self.crawler.stats.inc_value("finews/replay_missing")
            raise PageNotStored(f"not among the stored pages: {request.url[:200]}")
        headers = Headers(
            {name.encode("latin-1"): [value.encode("latin-1") for value in values] for name, values in page.headers.items()}
        )
        response_class = responsetypes.from_args(headers=headers, url=page.url, body=page.body)
        self.crawler.stats.inc_value("finews/replayed")
        request.meta[FETCHED_AT] = page.fetched_at
        return response_class(
            url=page.url, status=page.status, headers=headers, body=page.body, flags=[STORED_FLAG], request=request
        )
