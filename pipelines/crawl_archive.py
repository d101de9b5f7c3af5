"""A crawler's one archive connection, opened and committed on the crawl's schedule, closed with its engine.

Apart from pipelines/archive.py so that the archive itself imports no Scrapy or Twisted: ``finews export``,
``status`` and ``search`` start in a fraction of the time (Scrapy's import was a third of an export).
"""

from __future__ import annotations

import weakref
from pathlib import Path

from scrapy import signals
from scrapy.crawler import Crawler
from twisted.internet.task import LoopingCall

from crawler.faults import storage_faults_fail_the_run
from crawler.lock import LOCK_FILE, CrawlLock
from crawler.output import make_output_folder
from pipelines.archive import ARCHIVE_FILE, Archive

_OPEN: weakref.WeakKeyDictionary[Crawler, Archive] = weakref.WeakKeyDictionary()


def archive_for(crawler: Crawler) -> Archive:
    """The crawler's one archive connection, shared by its spider and pipelines, closed when the engine stops.

    With ``FINEWS_COMMIT_SECONDS`` > 0 its writes are grouped, committed that often and when it closes.
    Without a ``FINEWS_RUN_ID`` no ``finews`` command started the crawl and holds the output's lock
    (``scrapy crawl site``): it takes the lock here, before opening the archive, or raises CrawlLocked.
    """
    if crawler not in _OPEN:
        output = Path(crawler.settings["FINEWS_OUTPUT"])
        if not crawler.settings.getint("FINEWS_RUN_ID"):
            make_output_folder(output)
            # Held until the process ends (the kernel releases it then): one crawl per output, whatever the command.
            CrawlLock(output / LOCK_FILE).acquire()
        archive = Archive.open(output / ARCHIVE_FILE)
        _OPEN[crawler] = archive
        seconds = crawler.settings.getfloat("FINEWS_COMMIT_SECONDS")
        committers: list[LoopingCall] = []
        if seconds > 0:
            archive.group_commits()

        def commit() -> None:
            # A commit the disk refuses loses its group (SQLite rolls it back): those posts are still in the
            # frontier, and the run stops (no more commits: the committer is stopped when the engine is).
            with storage_faults_fail_the_run(crawler):
                archive.commit()

        def start() -> None:
            # Made only now: a LoopingCall made earlier would install Twisted's default reactor before Scrapy's.
            if seconds > 0:
                committers.append(LoopingCall(commit))
                committers[0].start(seconds, now=False)

        def close() -> None:
            for committer in committers:
                if committer.running:
                    committer.stop()
            if _OPEN.pop(crawler, None) is not None:
                with storage_faults_fail_the_run(crawler):
                    archive.close()

        crawler.signals.connect(start, signal=signals.engine_started, weak=False)
        crawler.signals.connect(close, signal=signals.engine_stopped, weak=False)
    return _OPEN[crawler]


def close_archives_left_open() -> None:
    """Commit and close the archives of crawlers whose engine never stopped (a second SIGINT stops the
    reactor at once): their open transaction would hold the write lock the run's outcome needs. Every
    write in it is whole (a savepoint ends before the reactor turns), so committing it loses nothing."""
    for crawler in list(_OPEN.keys()):
        archive = _OPEN.pop(crawler)
        with storage_faults_fail_the_run(crawler):
            archive.close()
