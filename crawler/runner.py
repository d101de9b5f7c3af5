"""Running one crawl in this process: settings, checks before starting, and what the run did."""

from __future__ import annotations

import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.spiders.site import SiteSpider
from pipelines.archive import ARCHIVE_FILE, Archive
from pipelines.frontmatter import POSTS_DIR

EXIT_OK = 0
EXIT_FAILED = 1


class CrawlError(RuntimeError):
    """A crawl that could not start or did not reach the site; the message is one line for the user."""


@dataclass(frozen=True)
class CrawlSummary:
    run_id: int
    status: str
    new: int
    updated: int
    unchanged: int
    rejected: int
    errors: int
    files_written: int
    requests: int
    archived_total: int
    seconds: float

    def line(self) -> str:
        return (
            f"{self.archived_total} posts archived ({self.new} new, {self.updated} updated, "
            f"{self.unchanged} unchanged), {self.rejected} rejected, {self.files_written} files written, "
            f"{self.requests} requests, {self.errors} errors, {self.seconds:.1f} s"
        )


def crawl_settings(site_url: str, output: Path, overrides: dict[str, Any] | None = None) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("FINEWS_SITE_URL", site_url, priority="cmdline")
    settings.set("FINEWS_OUTPUT", str(output), priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def check_output_writable(output: Path) -> None:
    try:
        (output / POSTS_DIR).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".write-check-"):
            pass
    except OSError as error:
        raise CrawlError(f"output {output} is not writable: {error.strerror or error}") from None


def _one_line_records(record: logging.LogRecord) -> bool:
    """Errors stay one line each (a refused connection is not worth a traceback); DEBUG keeps them."""
    record.exc_info = None
    record.exc_text = None
    return True


def run_crawl(site_url: str, output: Path, overrides: dict[str, Any] | None = None) -> CrawlSummary:
    """Crawl ``site_url`` into ``output``; raise CrawlError when it cannot start or reach the site.

    Scrapy's reactor runs once per process, so this is called at most once per process.
    """
    check_output_writable(output)
    started = time.monotonic()
    settings = crawl_settings(site_url, output, overrides)
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(SiteSpider)
    process.crawl(crawler)
    if settings.get("LOG_LEVEL") != "DEBUG":
        # Scrapy installs its log handler when the crawl is set up, so the filter goes on after.
        for handler in logging.getLogger().handlers:
            handler.addFilter(_one_line_records)
    process.start()
    stats = crawler.stats.get_stats()
    run_id = stats.get("finews/run_id")
    if run_id is None:
        raise CrawlError("the crawl did not start: see the errors above")
    unreachable = stats.get("finews/site_unreachable")
    exit_code = EXIT_FAILED if unreachable else EXIT_OK
    archive = Archive.open(output / ARCHIVE_FILE)
    try:
        if unreachable:
            archive.finish_run(run_id, "failed", {}, exit_code)
        else:
            archive.db["crawl_runs"].update(run_id, {"exit_code": exit_code})
        run = archive.run(run_id)
        total = archive.db["posts"].count
    finally:
        archive.close()
    if unreachable:
        raise CrawlError(f"site {site_url} unreachable: {unreachable}")
    return CrawlSummary(
        run_id=run_id,
        status=run["status"],
        new=run["new"] or 0,
        updated=run["updated"] or 0,
        unchanged=run["unchanged"] or 0,
        rejected=run["rejected"] or 0,
        errors=run["errors"] or 0,
        files_written=run["files_written"] or 0,
        requests=run["requests"] or 0,
        archived_total=total,
        seconds=time.monotonic() - started,
    )
