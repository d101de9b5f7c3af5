"""The ingest: the one writer of a distributed crawl, reading what the workers handed off in Redis.

It makes no request. Its ``start()`` yields the workers' posts (read into records) and fetch failures, in the
order they were handed off, through the project's pipelines (validate, dedupe, store, front
matter): the same code a single-process crawl runs, so the archive means the same. Pages as received and
posts skipped as known are written to the archive directly. A batch leaves Redis only once the archive
has committed it; the store is idempotent, so a batch written again after a kill is the same rows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import task
from twisted.internet.defer import Deferred

from crawler.distributed.records import SeenLinks, UnreadableEntries
from crawler.distributed.shared import SharedCrawl
from crawler.items import FetchFailure, PostItem
from crawler.spiders.site import post_link
from pipelines.archive import Archive, FetchedPage
from pipelines.crawl_archive import archive_for

# Records taken from Redis at a time; each batch is one commit of the archive.
INGEST_BATCH = 200
# After a small batch, how long the ingest lets records gather before it takes the next.
GATHER_SECONDS = 0.05
# How often the ingest looks whether a stopping scraper's records are through the pipelines.
CLOSING_WATCH_SECONDS = 0.1


async def pause(seconds: float) -> None:
    # Imported here: importing the reactor at module level would install Twisted's default one before Scrapy's.
    from twisted.internet import reactor

    await maybe_deferred_to_future(task.deferLater(reactor, seconds))


class IngestSpider(scrapy.Spider):
    name = "ingest"
    # Entries of the records list that finews did not write, dropped and counted (set in from_crawler).
    unreadable: UnreadableEntries
    # Read off the class by Scrapy, never changed (ClassVar would clash with Spider's own annotation).
    custom_settings: dict[str, Any] = {"FINEWS_STORE_PAGES": False, "ROBOTSTXT_OBEY": False}  # noqa: RUF012

    def __init__(
        self, shared: SharedCrawl, run_id: int | None, archive: Archive | None = None, poll_seconds: float = 0.2,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.shared = shared
        self._archive = archive  # else the crawler's (``archive``)
        self.run_id = run_id
        self.poll_seconds = poll_seconds
        # Set when the crawl's own worker has closed: then an empty, complete frontier means the end.
        self.crawl_over = False
        # Records yielded to the pipelines and not yet through them; fired when that reaches zero.
        self._in_pipelines = 0
        self._drained: Deferred[None] | None = None
        self._closing_watch: task.LoopingCall | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> IngestSpider:
        kwargs.setdefault("run_id", crawler.settings.getint("FINEWS_RUN_ID") or None)
        kwargs.setdefault("poll_seconds", crawler.settings.getfloat("FINEWS_REDIS_POLL_SECONDS"))
        spider: IngestSpider = super().from_crawler(crawler, *args, **kwargs)
        spider.unreadable = UnreadableEntries(crawler, spider.logger)
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(spider._left_pipelines, signal=signal)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._closed, signal=signals.engine_stopped)
        return spider

    @property
    def archive(self) -> Archive:
        """The archive given, else the crawler's (pipelines/crawl_archive.py), taken when first needed."""
        if self._archive is None:
            self._archive = archive_for(self.crawler)
        return self._archive

    def _left_pipelines(self, **_kwargs: Any) -> None:
        self._in_pipelines -= 1
        if self._in_pipelines == 0 and self._drained is not None:
            drained, self._drained = self._drained, None
            drained.callback(None)

    def _opened(self) -> None:
        self._closing_watch = task.LoopingCall(self._let_a_closing_scraper_close)
        self._closing_watch.start(CLOSING_WATCH_SECONDS, now=False)

    def _closed(self) -> None:
        if self._closing_watch is not None and self._closing_watch.running:
            self._closing_watch.stop()

    def _let_a_closing_scraper_close(self) -> None:
        """A stop waits for the records in the pipelines, but Scrapy 2.19 does not look again once an item
        from ``start()`` is through them (scrapy/scrapy#7029): a SIGTERM while a record was in the pipelines
        waited for ever. Its count drops after the signals, so this looks, until the scraper has closed."""
        scraper = self.crawler.engine.scraper if self.crawler.engine is not None else None
        slot = scraper.slot if scraper is not None else None
        if slot is not None and slot.closing is not None and not slot.closing.called and slot.is_idle():
            scraper._check_if_closing()

    async def start(self) -> AsyncIterator[PostItem | FetchFailure]:
        while True:
            records = self.shared.peek_records(INGEST_BATCH)
            if not records:
                if self.crawl_over and self.shared.complete():
                    return
                await pause(self.poll_seconds)
                continue
            known: list[str] = []
            for record in records:
                if isinstance(record, SeenLinks):
                    self.archive.mark_seen(record.links, record.run_id)
                elif isinstance(record, FetchedPage):
                    self.archive.save_page(record, self.run_id)
                elif isinstance(record, (PostItem, FetchFailure)):
                    if isinstance(record, PostItem):
                        # Read, archived or rejected: either way no worker fetches it again this run.
                        known.append(post_link(record.post_url).name)
                    self._in_pipelines += 1
                    self.crawler.stats.inc_value("finews/ingested")
                    yield record
                else:
                    # Not a record finews wrote (crawler/distributed/records.py): dropped with its batch, unread.
                    self.unreadable.drop(f"the records list ({self.shared.items_key})", record)
            if self._in_pipelines > 0:
                self._drained = Deferred()
                await maybe_deferred_to_future(self._drained)
            self.archive.commit()
            self.shared.ack_records(len(records), known)
            if len(records) < INGEST_BATCH // 4 and not self.crawl_over:
                # The writer keeps up: let records gather, so that a commit (an fsync) serves many.
                await pause(GATHER_SECONDS)
