"""A post's share text, fetched for the site spider while the post waits: its exact body, or why there is none.

The post waits for its text, but briefly and once (crawler/sharehost.py): a share host that fails costs it
its exact body until ``finews share --backfill``, never its place in the archive.

Downloaded through the downloader middlewares only (robots.txt, AutoThrottle, the breaker, the page store),
not scheduled: a scheduled request carried the parsed page through the JOBDIR queue (or the distributed
frontier) and back, and its answer went through the scraper a second time (BENCHMARKS.md). It needs no
place in the queue: until the post is stored its page stays in the frontier, and a graceful stop waits for
downloads in progress.
"""

from __future__ import annotations

import logging

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.http.request import NO_CALLBACK
from twisted.python.failure import Failure

from crawler import sharestatus
from crawler.failures import share_failure
from crawler.infocode import SITE_NOTICE_PREFIX
from crawler.pages.from_scrapy import web_response
from crawler.pages.share import ShareTextError, ShareTextPage
from crawler.pagestore import READ_BY, PageNotStored, fetched_at
from crawler.record import ShareOutcome
from crawler.sharehost import ShareHostUnavailable, share_request_meta, share_text_url

logger = logging.getLogger(__name__)
# What the archive's ``pages`` names as the reader of a share-host answer (crawler/pagestore.py).
SHARE_READER = "parse_share"


class ShareTexts:
    """The site spider's source of share texts (None of it when ``FINEWS_FOLLOW_SHARE`` is off)."""

    def __init__(self, crawler: Crawler, share_host: str, timeout: float) -> None:
        self.crawler = crawler
        self.share_host = share_host
        self.timeout = timeout

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ShareTexts | None:
        settings = crawler.settings
        if not settings.getbool("FINEWS_FOLLOW_SHARE"):
            return None
        return cls(crawler, settings["FINEWS_SHARE_HOST"], settings.getfloat("FINEWS_SHARE_TIMEOUT"))

    async def fetch(self, info_code: str | None, post_url: str, *, emnews: bool) -> ShareOutcome:
        """The share text of the article ``info_code`` names, for the post at ``post_url``."""
        if info_code is None or info_code.startswith(SITE_NOTICE_PREFIX):
            return ShareOutcome()  # a site notice, or no id to ask with: nothing to ask for
        request = scrapy.Request(
            share_text_url(self.share_host, info_code), callback=NO_CALLBACK,
            meta={READ_BY: SHARE_READER, **share_request_meta(self.timeout)},
            dont_filter=True,  # the twin posts of one article both need the answer
        )
        try:
            response = await self.crawler.engine.download_async(request)
        except ShareHostUnavailable as unavailable:
            # Said once, when the share host was given up on; each post's status says it again.
            self.crawler.stats.inc_value("finews/share_skipped")
            return ShareOutcome(sharestatus.SKIPPED, str(unavailable), fetched_at(request.meta))
        except PageNotStored:
            # A reparse whose archive holds no answer for this text: nothing was asked, so nothing failed, and
            # the post keeps the share state it has (pipelines/reparse.py).
            self.crawler.stats.inc_value("finews/reparse_share_not_stored")
            return ShareOutcome()
        except Exception:  # noqa: BLE001 - as an errback would: any failed download is this post's share status
            status, detail = share_failure(Failure())
            return self._missing(post_url, ShareOutcome(status, detail, fetched_at(request.meta)))
        return self._read(response, post_url, emnews=emnews)

    def _read(self, response: Response, post_url: str, *, emnews: bool) -> ShareOutcome:
        """The share host's answer: the exact text, or why there is none."""
        when = fetched_at(response.meta)
        if not 200 <= response.status < 300:
            status = sharestatus.status_of_answer(response.status)
            return self._missing(post_url, ShareOutcome(status, f"http {response.status}", when))
        try:
            text = ShareTextPage(web_response(response)).share_text(emnews=emnews)
        except ShareTextError as error:
            return self._missing(post_url, ShareOutcome(sharestatus.INVALID, str(error), when))
        return ShareOutcome(sharestatus.OK, None, when, text, response.url)

    def _missing(self, post_url: str, outcome: ShareOutcome) -> ShareOutcome:
        self.crawler.stats.inc_value("finews/share_failed")
        logger.error(
            "No share text for %s (%s: %s): archived from its page; `finews share --backfill` retries",
            post_url, outcome.status, outcome.detail,
        )
        return outcome
