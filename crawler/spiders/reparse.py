"""The reparse spider: every stored post page read again by the site spider's own routing, no network.

``finews reparse`` runs it after a parser change. The pages come from the archive (crawler/pagestore.py,
``FINEWS_REPLAY``), share texts included, and the items go through the same pipelines as a crawl's, so
a post is rebuilt exactly as a crawl that fetched those pages now would build it. Listings are not read:
they say what is on the site now, and a reparse looks at no site.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from crawler.spiders.site import SiteSpider
from pipelines.reparse import ReparseReport, post_reparsed

# The pages a reparse starts from: those the site spider read as post pages.
POST_CALLBACK = SiteSpider.parse_post.__name__


class ReparseSpider(SiteSpider):
    name = "reparse"
    custom_settings: dict[str, Any] = {  # noqa: RUF012 - Scrapy reads it from the class (as ingest.py)
        "FINEWS_REPLAY": True,
        # Nothing is fetched, so nothing to ask robots.txt, retry, throttle or give up on.
        "ROBOTSTXT_OBEY": False,
        "RETRY_ENABLED": False,
        "AUTOTHROTTLE_ENABLED": False,
        "FINEWS_SHARE_BREAKER": 0,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Read by ``finews reparse`` once the run is over.
        self.report = ReparseReport()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ReparseSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.report.post_reparsed, signal=post_reparsed)
        crawler.signals.connect(spider.report.item_dropped, signal=signals.item_dropped)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self._take_archive()
        if self.archive is None:
            return
        urls = self.archive.stored_page_urls(POST_CALLBACK)
        self.crawler.stats.set_value("finews/reparse_pages", len(urls))
        for url in urls:
            self.crawler.stats.inc_value("finews/posts_queued")
            yield self._post(url)

    def _listing(self, url: str, *, guessed: bool = False) -> Iterator[scrapy.Request]:
        """Not even asked for: what the site lists is not a reparse's business, and the error answer the archive
        may hold for a listing would be logged as that listing failing now."""
        return iter(())

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        """A listing a post page links to: not read (what the site lists now is a crawl's business)."""
        return iter(())

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        return iter(())
