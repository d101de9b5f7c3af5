"""Errors held back until the site has answered once, so that ``finews crawl`` of an unreachable site prints
one line: the runner's reason (``finews crawl: site … unreachable: …``).

A site that cannot be reached at all makes Scrapy's retry middleware, its robots.txt middleware and the
spider each log an error for the same refused connection; under cron every line of that is mailed. So
until the first response from the site's host, ERROR records are held; that response lets them out, in
order, and from then on every record passes straight through (a post that fails on a site that answers is
printed as it happens). A crawl that ends without the site having answered drops what it held when the
site was found unreachable, and lets it out otherwise (stopped by a signal first, say).

``finews crawl`` enables it (crawler.runner.run_crawl); at LOG_LEVEL INFO or below (``-v``) it stays off:
the user asked for Scrapy's whole log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from urllib.parse import urlsplit

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector

# Set by the site spider when the site's own root could not be fetched (crawler/spiders/site.py).
SITE_UNREACHABLE_STAT = "finews/site_unreachable"


def log_level(value: int | str) -> int:
    """A LOG_LEVEL setting (``"WARNING"`` or 30) as a number."""
    return value if isinstance(value, int) else logging.getLevelNamesMapping()[value.upper()]


class ErrorsHeldUntilSiteAnswers:
    def __init__(self, site_host: str, stats: StatsCollector) -> None:
        self.site_host = site_host
        self.stats = stats
        self.site_answered = False
        # Only what is logged before the site's first answer, or its failing start: a few lines per request.
        self.held: list[tuple[logging.Handler, logging.LogRecord]] = []
        self._filters: list[tuple[logging.Handler, Callable[[logging.LogRecord], bool]]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ErrorsHeldUntilSiteAnswers:
        settings = crawler.settings
        if log_level(settings.get("LOG_LEVEL")) <= logging.INFO:
            raise NotConfigured
        held = cls(urlsplit(settings["FINEWS_SITE_URL"]).hostname or "", crawler.stats)
        # spider_opened, not now: Scrapy installs its log handler again after building the extensions.
        crawler.signals.connect(held.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(held.response_received, signal=signals.response_received)
        crawler.signals.connect(held.spider_closed, signal=signals.spider_closed)
        return held

    def spider_opened(self) -> None:
        for handler in logging.getLogger().handlers:
            # Only what prints: Scrapy's log counter (log_count/ERROR, the run's ``errors``) counts them all.
            if not isinstance(handler, logging.StreamHandler):
                continue
            # A filter per handler, so that a held record is let out through the handler that held it.
            admit = partial(self._admit, handler)
            handler.addFilter(admit)
            self._filters.append((handler, admit))

    def response_received(self, response: Response) -> None:
        if not self.site_answered and urlsplit(response.url).hostname == self.site_host:
            self._let_out()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if not self.site_answered and reason == "finished" and self.stats.get_value(SITE_UNREACHABLE_STAT):
            # The runner says it in one line; every held error was a symptom of it.
            self.held.clear()
        self._let_out()
        for handler, admit in self._filters:
            handler.removeFilter(admit)
        self._filters.clear()

    def _admit(self, handler: logging.Handler, record: logging.LogRecord) -> bool:
        if self.site_answered or record.levelno < logging.ERROR:
            return True
        self.held.append((handler, record))
        return False

    def _let_out(self) -> None:
        self.site_answered = True
        held, self.held = self.held, []
        for handler, record in held:
            handler.handle(record)
