"""Errors held back until the run ends, so that what a cron job mails is short and says what matters.

A site that cannot be reached, a site that dies mid-crawl or a disk that fills makes Scrapy's retry
middleware, its robots.txt middleware and the spider each log an error for every request that meets it;
under cron every line of that is mailed, and the cause is lost among them. So ERROR records are held
while the crawl runs (at most ``HELD_LIMIT``; beyond that they are only counted), each cut to one line
(crawler/faults.py's ``shorten``: no page bytes, no item repr). When the run ends:

- a fault ended it (``FAILURE_STAT``: the site gone or unreachable, the disk full…), or ``finews share``
  gave up on the share host (``ERRORS_EXPLAINED_STAT``): the held errors are dropped, they were its
  symptoms; the runner prints the one line that names the cause;
- otherwise they are let out, in order, followed by a count of those beyond the limit.

``finews crawl`` and ``finews share`` enable it (crawler.runner); at LOG_LEVEL INFO or below (``-v``) it stays off:
the user asked for Scrapy's whole log, as it happens.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector

from crawler.faults import FAILURE_STAT, shorten

# Set by the site spider when the site's own root could not be fetched (crawler/spiders/site.py).
SITE_UNREACHABLE_STAT = "finews/site_unreachable"
# Set by a spider whose command will say in one line what the errors were symptoms of (the share host
# given up on in a ``finews share`` run: crawler/spiders/share.py).
ERRORS_EXPLAINED_STAT = "finews/errors_explained"
# Error records kept to be let out at the end; more are counted. A long run with many failing posts prints
# this many lines and one that counts the rest.
HELD_LIMIT = 20
MAX_LINE_LENGTH = 500


def log_level(value: int | str) -> int:
    """A LOG_LEVEL setting (``"WARNING"`` or 30) as a number."""
    return value if isinstance(value, int) else logging.getLevelNamesMapping()[value.upper()]


class ErrorsHeldUntilRunEnds:
    def __init__(self, stats: StatsCollector) -> None:
        self.stats = stats
        self.held: list[tuple[logging.Handler, logging.LogRecord]] = []
        self.beyond_limit = 0
        self.holding = True
        self._filters: list[tuple[logging.Handler, Callable[[logging.LogRecord], bool]]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ErrorsHeldUntilRunEnds:
        if log_level(crawler.settings.get("LOG_LEVEL")) <= logging.INFO:
            raise NotConfigured
        held = cls(crawler.stats)
        # spider_opened, not now: Scrapy installs its log handler again after building the extensions.
        crawler.signals.connect(held.spider_opened, signal=signals.spider_opened)
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

    def spider_closed(self, spider: Spider, reason: str) -> None:
        self.holding = False
        held, self.held = self.held, []
        for handler, admit in self._filters:
            handler.removeFilter(admit)
        self._filters.clear()
        explained = self.stats.get_value(FAILURE_STAT) or self.stats.get_value(ERRORS_EXPLAINED_STAT)
        if explained or (reason == "finished" and self.stats.get_value(SITE_UNREACHABLE_STAT)):
            return  # the runner says it in one line; every held error was a symptom of it
        for handler, record in held:
            handler.handle(record)
        if self.beyond_limit and held:
            handler = held[-1][0]
            more = logging.LogRecord(
                "finews", logging.ERROR, __file__, 0,
                "… and %d more errors (`finews crawl -v` prints them all as they happen)", (self.beyond_limit,), None,
            )
            handler.handle(more)

    def _admit(self, handler: logging.Handler, record: logging.LogRecord) -> bool:
        if not self.holding or record.levelno < logging.ERROR:
            return True
        if len(self.held) >= HELD_LIMIT:
            self.beyond_limit += 1
            return False
        # Made text now: a held record must not keep a response or an item alive until the end.
        record.msg, record.args = shorten(record.getMessage(), MAX_LINE_LENGTH), None
        record.exc_info = record.exc_text = None
        self.held.append((handler, record))
        return False
