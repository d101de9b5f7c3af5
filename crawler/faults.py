"""Faults that end a run: storage that cannot be written, a site that is gone or keeps throttling.

A scheduled crawl is read by its exit code and one line of stderr. So a fault that makes the rest of the run
pointless (a full disk, a read-only folder, a dead site) is not logged per post: the first component that
meets it calls ``fail_run``, which records the one-line reason in the crawl's stats and closes the spider
(reason ``failed``). Nothing is written after that (``StopAfterFailure``), the posts not yet archived stay
in the frontier, and the runner prints the reason, records the run ``failed`` and exits 1.

Storage errors raised inside Scrapy's machinery (an item pipeline, a callback) are caught by ``RunFailure``,
an extension listening to ``item_error`` and ``spider_error``: no pipeline needs its own ``try``.

Kept free of Scrapy imports at module level: ``storage_fault`` also serves commands that never load Scrapy.
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

# The stat holding the one-line reason a run failed; set once, by the first fault.
FAILURE_STAT = "finews/failure"
# Scrapy's close reason for a run ended by a fault (crawl_runs.status ``failed``).
FAILED_REASON = "failed"
# errno values that no retry within the run can fix: the run stops at the first.
DISK_FULL_ERRNOS = frozenset((errno.ENOSPC, errno.EDQUOT, errno.EFBIG))
STORAGE_ERRNOS = DISK_FULL_ERRNOS | frozenset(
    (errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.ENOTDIR, errno.ENOENT)
)
# SQLite's words for the same conditions (sqlite3 gives no errno): SQLITE_FULL, SQLITE_READONLY,
# SQLITE_IOERR, SQLITE_CANTOPEN.
_SQLITE_DISK_FULL = ("database or disk is full",)
_SQLITE_STORAGE = ("readonly database", "disk i/o error", "unable to open database file", *_SQLITE_DISK_FULL)
# A message from elsewhere may carry a whole page: what a log line or a reason keeps of it.
MAX_REASON_LENGTH = 300

logger = logging.getLogger(__name__)


def shorten(text: str, limit: int = MAX_REASON_LENGTH) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def storage_fault(error: BaseException, archive: os.PathLike[str] | str | None = None) -> str | None:
    """The one-line reason when ``error`` means the output cannot be written (disk full, read-only, no
    permission, I/O error), else None. ``archive`` names the database a bare SQLite error came from."""
    if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
        where = error.filename if error.filename is not None else "the output"
        what = "disk full" if error.errno in DISK_FULL_ERRNOS else "cannot write"
        return shorten(f"{what}: {where}: {error.strerror or os.strerror(error.errno or 0)}")
    if isinstance(error, sqlite3.OperationalError):
        message = str(error)
        if any(words in message.lower() for words in _SQLITE_STORAGE):
            what = "disk full" if any(words in message.lower() for words in _SQLITE_DISK_FULL) else "cannot write"
            return shorten(f"{what}: {archive or 'the archive'}: {message}")
    return None


def fail_run(crawler: Crawler, reason: str) -> None:
    """End the crawl because of ``reason`` (one line); only the first fault of a run is kept and acted on."""
    if crawler.stats.get_value(FAILURE_STAT):
        return
    crawler.stats.set_value(FAILURE_STAT, shorten(reason))
    logger.info("Stopping the run: %s", reason)
    engine = crawler.engine
    if engine is not None and engine.spider is not None:
        from scrapy.utils.defer import deferred_from_coro

        deferred_from_coro(engine.close_spider_async(reason=FAILED_REASON))


@contextmanager
def storage_faults_fail_the_run(crawler: Crawler) -> Iterator[None]:
    """Around a write the crawl's own machinery calls (a signal handler, a timer), where no ``item_error``
    reaches RunFailure: a storage error fails the run instead of being logged as a traceback."""
    try:
        yield
    except (OSError, sqlite3.Error) as error:
        reason = storage_fault(error, archive_path(crawler))
        if reason is None:
            raise
        fail_run(crawler, reason)


def archive_path(crawler: Crawler) -> str:
    return os.path.join(crawler.settings.get("FINEWS_OUTPUT", "output"), "archive.db")


def run_failed(crawler: Crawler) -> bool:
    return bool(crawler.stats.get_value(FAILURE_STAT))


class RunFailure:
    """Extension: a storage error raised in a pipeline or a callback fails the run (``fail_run``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.archive = archive_path(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunFailure:
        from scrapy import signals

        extension = cls(crawler)
        crawler.signals.connect(extension.item_error, signal=signals.item_error)
        crawler.signals.connect(extension.spider_error, signal=signals.spider_error)
        return extension

    def item_error(self, item: Any, response: Response | None, failure: Failure) -> None:
        self._check(failure.value)

    def spider_error(self, failure: Failure, response: Response) -> None:
        self._check(failure.value)

    def _check(self, error: BaseException) -> None:
        reason = storage_fault(error, self.archive)
        if reason is not None:
            fail_run(self.crawler, reason)


class StopAfterFailure:
    """Item pipeline, first of all: once the run has failed, no item is written any more (it stays in the
    frontier). Without it, the items already downloaded would each meet the full disk again."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StopAfterFailure:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if run_failed(self.crawler):
            from scrapy.exceptions import DropItem

            raise DropItem(f"not written: {self.crawler.stats.get_value(FAILURE_STAT)}")
        return item
