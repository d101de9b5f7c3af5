"""``scrapy crawl``, refusing as ``finews crawl`` does an output that cannot be crawled into: one line on
stderr and the same exit codes (75 when another crawl holds it), before Scrapy starts.

Without this the refusal would come from inside the crawl (the archive's lock is taken when the spider is
made), where Scrapy logs it as an unretrieved task's traceback and exits 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy import Spider
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import Crawler

from crawler.lock import LOCK_FILE, CrawlLocked, lock_holder
from crawler.output import EXIT_FAILED, EXIT_LOCKED, CrawlError, make_output_folder


class Command(ScrapyCrawlCommand):
    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        # Here, once ``-s`` is applied and before Scrapy's process starts (and logs its banner).
        super().process_options(args, opts)
        assert self.settings is not None
        if self.settings.getint("FINEWS_RUN_ID"):
            return  # a finews command started this crawl and holds the lock
        output = Path(self.settings["FINEWS_OUTPUT"])
        try:
            make_output_folder(output)
        except CrawlError as error:
            print(f"scrapy crawl: {error}", file=sys.stderr)
            sys.exit(EXIT_FAILED)
        # A probe, not the lock: the spider takes that when it is made (and refuses then too if another
        # crawl took it in between).
        holder = lock_holder(output / LOCK_FILE)
        if holder is not None:
            print(f"scrapy crawl: {CrawlLocked(output / LOCK_FILE, holder)}", file=sys.stderr)
            sys.exit(EXIT_LOCKED)

    def _create_crawler(self, spidercls: type[Spider] | str) -> Crawler:
        self.crawler = super()._create_crawler(spidercls)
        return self.crawler

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        super().run(args, opts)
        # Scrapy's exit code says only whether the crawl started; a run stopped by a fault is a failure too.
        crawler = getattr(self, "crawler", None)
        if self.exitcode == 0 and crawler is not None and crawler.stats is not None:
            if crawler.stats.get_value("finish_reason") != "finished":
                self.exitcode = EXIT_FAILED
