"""A crawler's one archive connection, opened and committed on the crawl's schedule, closed with its engine.

Apart from pipelines/archive.py so that the archive itself imports no Scrapy or Twisted: ``finews export``,
``status`` and ``search`` start in a fraction of the time (Scrapy's import was a third of an export).
"""

from __future__ import annotations

from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from twisted.internet.task import LoopingCall

from crawler.faults import storage_faults_fail_the_run
from crawler.lock import LOCK_FILE, CrawlLock
from crawler.output import make_output_folder
from pipelines.archive import ARCHIVE_FILE, Archive


class CrawlArchive:
    """Extension: the crawler's one archive connection, shared by its spider and components, opened when
    one of them first asks (a distributed worker on another machine never does), closed when the engine
    stops.

    With ``FINEWS_COMMIT_SECONDS`` > 0 its writes are grouped, committed that often and when it closes.
    Without a ``FINEWS_RUN_ID`` no ``finews`` command started the crawl and holds the output's lock
    (``scrapy crawl site``): it takes the lock, before opening the archive, or raises CrawlLocked.
    """

    def __init__(self, crawler: Crawler, output: Path, commit_seconds: float) -> None:
        self.crawler = crawler
        self.output = output
        self.commit_seconds = commit_seconds
        self._archive: Archive | None = None
        self._committer: LoopingCall | None = None
        self._engine_running = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CrawlArchive:
        extension = cls(crawler, Path(crawler.settings["FINEWS_OUTPUT"]), crawler.settings.getfloat("FINEWS_COMMIT_SECONDS"))
        crawler.signals.connect(extension.engine_started, signal=signals.engine_started)
        crawler.signals.connect(extension.close, signal=signals.engine_stopped)
        return extension

    @property
    def is_open(self) -> bool:
        return self._archive is not None

    @property
    def archive(self) -> Archive:
        if self._archive is None:
            if not self.crawler.settings.getint("FINEWS_RUN_ID"):
                make_output_folder(self.output)
                # Held until the process ends (the kernel releases it then): one crawl per output, whatever the command.
                CrawlLock(self.output / LOCK_FILE).acquire()
            self._archive = Archive.open(self.output / ARCHIVE_FILE)
            settings = self.crawler.settings
            self._archive.warc_max_bytes = settings.getint("FINEWS_WARC_MAX_BYTES")
            self._archive.warc_info = {
                "robots": "obey" if settings.getbool("ROBOTSTXT_OBEY") else "ignore",
                "http-header-user-agent": str(settings.get("USER_AGENT") or ""),
            }
            if self.commit_seconds > 0:
                self._archive.group_commits()
            if self._engine_running:
                self._start_committing()
        return self._archive

    def engine_started(self) -> None:
        self._engine_running = True
        if self._archive is not None:
            self._start_committing()

    def _start_committing(self) -> None:
        # Made only now: a LoopingCall made before the engine starts would install Twisted's default reactor
        # before Scrapy's.
        if self.commit_seconds > 0 and self._committer is None:
            self._committer = LoopingCall(self._commit)
            self._committer.start(self.commit_seconds, now=False)

    def _commit(self) -> None:
        # A commit the disk refuses loses its group (SQLite rolls it back): those posts are still in the
        # frontier, and the run stops (no more commits: the committer is stopped when the engine is).
        assert self._archive is not None
        with storage_faults_fail_the_run(self.crawler):
            self._archive.commit()

    def close(self) -> None:
        """Commit and close the archive (when the engine stops, or after a second SIGINT stopped the reactor
        at once: its open transaction would hold the write lock the run's outcome needs). Every write in
        it is whole (a savepoint ends before the reactor turns), so committing it loses nothing."""
        if self._committer is not None and self._committer.running:
            self._committer.stop()
        archive, self._archive = self._archive, None
        if archive is not None:
            with storage_faults_fail_the_run(self.crawler):
                archive.close()


def archive_for(crawler: Crawler) -> Archive:
    """The crawler's one archive connection (the CrawlArchive extension's)."""
    extension = crawler.get_extension(CrawlArchive)
    if extension is None:
        raise NotConfigured("the archive is reached through the CrawlArchive extension, which is not enabled")
    return extension.archive


def close_archive_left_open(crawler: Crawler) -> None:
    """Close the crawler's archive if its engine never stopped (a second SIGINT stops the reactor at once)."""
    try:
        extension = crawler.get_extension(CrawlArchive)
    except RuntimeError:  # the crawl never got as far as its extensions: nothing was opened
        return
    if extension is not None:
        extension.close()
