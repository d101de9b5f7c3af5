"""The SQLite store: posts archived, rejects recorded, the frontier kept, and one crawl_runs row per run.

The archive counts new, updated, unchanged and rejected posts itself, in the transaction that writes
each one, so those counts stay exact through a kill -9. The other counts come from Scrapy's stats: what
they grew by is added at every grouped commit (and when the session ends), in the transaction that
commits the posts written meanwhile, so a kill -9 loses them only for the group it loses.
"""

from __future__ import annotations

import time

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.faults import run_failed, storage_faults_fail_the_run
from crawler.items import PostItem
from crawler.pages.listing import post_name
from pipelines.archive import REPARSE_MODE, RUNNING_SECONDS, Archive
from pipelines.crawl_archive import archive_for
from pipelines.frontmatter import file_name_of
from pipelines.validate import LeftPending, RejectedItem

# crawl_runs column → the Scrapy stat a session adds to it.
SESSION_COUNTS = {
    "requests": "downloader/request_count",
    "skipped_known": "finews/skipped_known",
    "skipped_rejected": "finews/skipped_rejected",
    "errors": "log_count/ERROR",
    "files_written": "finews/files_written",
}

# Posts requested this run and not archived for a reason that was not the page's; and the last such reason.
PENDING_STAT = "finews/left_pending"
PENDING_REASON_STAT = "finews/left_pending_reason"


def run_status(finish_reason: str) -> str:
    """Scrapy's finish reason → crawl_runs.status: a SIGINT/SIGTERM stop is Scrapy's ``shutdown``."""
    if finish_reason == "finished":
        return "finished"
    return "interrupted" if finish_reason == "shutdown" else "failed"


class SqliteStorePipeline:
    def __init__(self, archive: Archive, crawler: Crawler, run_id: int | None = None) -> None:
        self.archive = archive
        self.crawler = crawler
        # Set by ``finews crawl``, which starts or resumes the run before the crawl; else this starts one.
        self.run_id = run_id
        # The session's SESSION_COUNTS already added to the run.
        self.added: dict[str, int] = dict.fromkeys(SESSION_COUNTS, 0)
        # Since when the session's running time is not yet added to the run's (None: the spider is not open).
        self.running_since: float | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SqliteStorePipeline:
        pipeline = cls(archive_for(crawler), crawler, crawler.settings.getint("FINEWS_RUN_ID") or None)
        crawler.signals.connect(pipeline.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        # spider_closed, not close_spider: only the signal carries the finish reason (a signal's stop is
        # ``shutdown``), and by then the scheduler has saved the JOBDIR queue a resume continues from.
        crawler.signals.connect(pipeline.spider_closed, signal=signals.spider_closed)
        pipeline.archive.before_commit.append(pipeline.add_session_counts)
        return pipeline

    @property
    def listed_run(self) -> int | None:
        """The run that accounts for the posts this session archives or rejects: a crawl run, so that its
        resumes do not count them again (``listed_posts``); none for a reparse, which lists nothing."""
        return None if self.crawler.settings.getbool("FINEWS_REPLAY") else self.run_id

    def open_spider(self) -> None:
        self.running_since = time.monotonic()
        if self.run_id is None:
            settings = self.crawler.settings
            if settings.getbool("FINEWS_REPLAY"):
                mode = REPARSE_MODE
            else:
                mode = "full" if settings.getbool("FINEWS_FULL") else "incremental"
            self.run_id = self.archive.start_run(settings["FINEWS_SITE_URL"], mode)
        self.crawler.stats.set_value("finews/run_id", self.run_id)

    def spider_closed(self, spider: Spider, reason: str) -> None:
        assert self.run_id is not None  # set when the spider opened
        with storage_faults_fail_the_run(self.crawler):
            self.archive.finish_run(self.run_id, run_status(reason), self._counts_since_added())

    def add_session_counts(self) -> None:
        """Add what the session's counts grew by since they were last added (the archive calls this just
        before each grouped commit, so they commit with the posts written meanwhile)."""
        if self.run_id is not None:  # else the spider is not open yet: nothing to add to
            self.archive.add_to_run(self.run_id, self._counts_since_added())

    def _counts_since_added(self) -> dict[str, float]:
        """What the session's counts and its running time grew by since they were last added.

        The time a run ran is the sum of its sessions' (not its end minus its start, which would count the
        hours between a stop and its ``--resume``), added at every commit so that a kill loses little of it.
        """
        stats = self.crawler.stats
        grown: dict[str, float] = {}
        if self.running_since is not None:
            now = time.monotonic()
            grown[RUNNING_SECONDS] = now - self.running_since
            self.running_since = now
        for column, stat in SESSION_COUNTS.items():
            value = int(stats.get_value(stat, 0))
            if value != self.added[column]:
                grown[column] = value - self.added[column]
                self.added[column] = value
        return grown

    def process_item(self, item: PostItem) -> PostItem:
        change = self.archive.save_post(item, file_name_of(item), self.run_id)
        self.crawler.stats.inc_value(f"finews/{change}")
        return item

    def item_scraped(self, item: object, response: Response | Failure | None) -> None:
        """Every pipeline is done, the front-matter file included: only now does the post leave the frontier
        (and its URL the rejects of earlier runs, if it was one).

        By the page that was fetched, not the record's name: the emnews twin of an outlet post is merged
        into the outlet post's record, and its own frontier row must go too. A record refreshed from the
        share host alone (``finews share``) was not fetched from the site: a frontier row stays for the crawl.
        Nor has a record the ingest of a distributed crawl wrote (no response): Redis keeps that frontier.
        """
        if run_failed(self.crawler):
            # A storage fault can make SQLite roll back the whole open group, this post's record with it:
            # settling it now would take it out of the frontier in a transaction of its own, and lose it.
            return
        if isinstance(item, PostItem) and item.from_site and isinstance(response, Response):
            # Under every URL it was requested by: a post that redirected within the site was planned by the first.
            with storage_faults_fail_the_run(self.crawler):
                for url in (*response.meta.get("redirect_urls", ()), response.url):
                    self.archive.settle_post(post_name(url), url, self.listed_run)

    def item_dropped(self, item: object, exception: BaseException) -> None:
        if run_failed(self.crawler):
            return  # as item_scraped: after a fault the frontier keeps what it holds, for the next run
        with storage_faults_fail_the_run(self.crawler):
            self._record_drop(exception)

    def _record_drop(self, exception: BaseException) -> None:
        """A post not archived: kept in the frontier when it was no verdict on its page, else a reject."""
        if isinstance(exception, LeftPending):
            pending = exception.item
            self.archive.keep_pending(post_name(pending.post_url), pending.post_url, self.run_id)
            self.crawler.stats.inc_value(PENDING_STAT)
            self.crawler.stats.set_value(PENDING_REASON_STAT, f"{pending.reason} ({pending.post_url})")
            return
        if isinstance(exception, RejectedItem):
            failed = exception.item
            self.archive.add_reject(
                self.run_id, failed.post_url, exception.reason, failed.raw_page,
                post_name=post_name(failed.post_url) or None,
                # A page that was read is not fetched again by the next incremental run; a fetch failure is.
                page_received=isinstance(failed, PostItem), listed_run=self.listed_run,
            )
            self.crawler.stats.inc_value("finews/rejected")
