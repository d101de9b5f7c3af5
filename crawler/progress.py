"""A live progress display for ``finews crawl`` on a terminal (rich), from the crawl's own stats.

Shows listing pages fetched, posts done of posts queued (new, updated, unchanged, skipped as known,
rejected), the request rate and the time elapsed. Enabled by ``FINEWS_PROGRESS``, which the command
sets only when stderr is a terminal: under cron the crawl stays quiet.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import TextIO

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import StatsCollector
from twisted.internet.task import LoopingCall

from crawler.twisted_reactor import global_reactor

DONE_CHANGES = ("new", "updated", "merged", "unchanged", "rejected")
# The bar's width: the rest of a narrow terminal goes to the posts done of queued and the time, which always
# show, and then to the counts, which are cut short (…) when they do not fit.
BAR_WIDTH = 20


def progress_fields(stats: StatsCollector, elapsed: float) -> tuple[int, int, str]:
    """(posts done, posts queued, the counts line) from the crawl's stats."""

    def value(name: str) -> int:
        return int(stats.get_value(name, 0))

    done = sum(value(f"finews/{change}") for change in DONE_CHANGES)
    queued = max(value("finews/posts_queued"), done)
    rate = value("downloader/request_count") / elapsed if elapsed > 0 else 0.0
    counts = (
        f"new {value('finews/new')} · updated {value('finews/updated')} · merged {value('finews/merged')} · "
        f"unchanged {value('finews/unchanged')} · rejected {value('finews/rejected')} · "
        f"skipped {value('finews/skipped_known')} archived, {value('finews/skipped_rejected')} rejected · "
        f"lists {value('finews/listings_done')} · {rate:.1f} req/s"
    )
    return done, queued, counts


class ProgressDisplay:
    def __init__(self, stats: StatsCollector, console: Console, interval: float) -> None:
        self.stats = stats
        self.interval = interval
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("posts"),
            MofNCompleteColumn(),
            BarColumn(bar_width=BAR_WIDTH),
            TimeElapsedColumn(),
            TextColumn(
                "{task.fields[counts]}", table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis", min_width=1)
            ),
            console=console,
            transient=False,
            expand=True,
        )
        self.task: TaskID | None = None
        self.started = 0.0
        self.loop = LoopingCall(self.refresh)
        self._redirected: list[tuple[logging.StreamHandler[TextIO], TextIO]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProgressDisplay:
        settings = crawler.settings
        if not settings.getbool("FINEWS_PROGRESS"):
            raise NotConfigured
        display = cls(crawler.stats, Console(stderr=True), settings.getfloat("FINEWS_PROGRESS_INTERVAL"))
        crawler.signals.connect(display.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(display.spider_closed, signal=signals.spider_closed)
        return display

    def spider_opened(self) -> None:
        self.started = time.monotonic()
        self.task = self.progress.add_task("crawl", total=None, counts="starting")
        self.progress.start()
        self._route_logs_through_the_display()
        self.loop.start(self.interval, now=True)
        # A second Ctrl-C stops the reactor at once, and the spider never closes: the display must still stop
        # before the command prints its last line, or its thread draws over it and the cursor stays hidden.
        global_reactor().addSystemEventTrigger("before", "shutdown", self.stop)

    def refresh(self) -> None:
        if self.task is None:
            return
        done, queued, counts = progress_fields(self.stats, time.monotonic() - self.started)
        self.progress.update(self.task, completed=done, total=queued or None, counts=counts)

    def spider_closed(self) -> None:
        self.stop()

    def stop(self) -> None:
        """The display's last state, then the cursor back; once, however the crawl ended."""
        if self.task is None:
            return
        if self.loop.running:
            self.loop.stop()
        self.refresh()
        self.task = None
        self.progress.stop()
        for handler, stream in self._redirected:
            handler.setStream(stream)
        self._redirected.clear()

    def _route_logs_through_the_display(self) -> None:
        """Warnings and errors print above the live display rather than through it.

        The display stands in for sys.stderr while it runs; Scrapy's log handler kept the real one.
        """
        real_stderr = sys.__stderr__
        if real_stderr is None or real_stderr is sys.stderr:
            return
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is real_stderr:
                self._redirected.append((handler, real_stderr))
                handler.setStream(sys.stderr)
