"""``finews crawl --redis`` and ``finews worker``: the processes of a distributed crawl."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from scrapy import signals
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from crawler.distributed.frontier import distributed_settings
from crawler.distributed.shared import RUN_GOES_ON, SITE_UNREACHABLE, SharedCrawl
from crawler.distributed.worker import attach_worker, make_worker
from crawler.lock import LOCK_FILE, CrawlLock
from crawler.runner import (
    EXIT_OK,
    CrawlError,
    CrawlSummary,
    check_output_writable,
    conclude,
    crawl_settings,
    exit_code_for_signal,
    open_archive,
    prepare_run,
    remove_partial_files,
    run_process,
)
from crawler.spiders.ingest import IngestSpider
from crawler.spiders.site import SiteSpider
from pipelines.frontmatter import POSTS_DIR


def connect(redis_url: str, prefix: str) -> SharedCrawl:
    try:
        return SharedCrawl.connect(redis_url, prefix)
    except (redis.RedisError, ValueError) as error:
        raise CrawlError(f"Redis at {redis_url} cannot be reached: {error}") from None


def _worker_settings(base: Settings, redis_url: str, prefix: str) -> Settings:
    settings = base.copy()
    settings.update(distributed_settings(redis_url, prefix), priority="cmdline")
    return settings


def run_distributed_crawl(
    site_url: str, output: Path, redis_url: str, overrides: dict[str, Any] | None = None, *,
    full: bool = False, resume: bool = False,
) -> CrawlSummary:
    """Crawl ``site_url`` into ``output`` with every ``finews worker`` that joins through ``redis_url``.

    This process holds the output's lock (so it is the one writer), publishes the run, works as one more
    worker, and writes the archive (the ingest). It returns once the whole crawl is complete.
    """
    check_output_writable(output)
    # Two crawlers share the terminal here: no live display, the summary line only.
    base = crawl_settings(site_url, output, {**(overrides or {}), "FINEWS_PROGRESS": False})
    prefix = base["FINEWS_REDIS_PREFIX"]
    shared = connect(redis_url, prefix)
    with CrawlLock(output / LOCK_FILE):
        started = time.monotonic()
        remove_partial_files(output / POSTS_DIR)
        run = prepare_run(output, site_url, full, resume)
        archive = open_archive(output)
        try:
            categories = archive.categories()
            # A single-process run's frontier joins the shared one, which keeps it from now on.
            pending = archive.take_frontier()
            shared.seed_known(archive.known_keys())
        finally:
            archive.close()
        shared.publish_run({"site": site_url, "run_id": run.run_id, "mode": run.mode, "status": RUN_GOES_ON},
                           resume=run.resumed)
        base.setdict({"FINEWS_RUN_ID": run.run_id, "FINEWS_FULL": run.mode == "full", "JOBDIR": None},
                     priority="cmdline")
        process = CrawlerProcess(base)
        # The first crawler given to the process installs Scrapy's reactor.
        worker_crawler = Crawler(SiteSpider, _worker_settings(base, redis_url, prefix), init_reactor=True)
        attach_worker(worker_crawler, make_worker(
            shared, run_id=run.run_id, finishes_crawl=True, categories=categories, pending=pending,
        ))
        ingest_crawler = Crawler(IngestSpider, base)

        def crawl_over() -> None:
            if isinstance(ingest_crawler.spider, IngestSpider):
                ingest_crawler.spider.crawl_over = True

        worker_crawler.signals.connect(crawl_over, signal=signals.spider_closed, weak=False)
        process.crawl(worker_crawler)
        process.crawl(ingest_crawler, shared=shared)
        stop_signal: int | None = None
        try:
            stop_signal = run_process(process, base)
        finally:
            shared.close_run("over" if stop_signal is None else "interrupted")
        counts = shared.counts()
        unreachable = counts.pop(SITE_UNREACHABLE, None)
        archive = open_archive(output)
        try:
            archive.add_to_run(run.run_id, counts)
        finally:
            archive.close()
        stats = dict(ingest_crawler.stats.get_stats())
        if unreachable:
            stats["finews/site_unreachable"] = unreachable
        return conclude(output, run, stats, stop_signal, site_url, time.monotonic() - started)


@dataclass(frozen=True)
class WorkerSummary:
    worker_id: str | None
    run_id: int | None
    exit_code: int
    stop_signal: int | None
    requests: int
    handed_off: int
    seconds: float

    def line(self) -> str:
        if self.worker_id is None:
            return f"worker: no crawl to join (none published), {self.seconds:.1f} s"
        how = "stopped by " + signal.Signals(self.stop_signal).name if self.stop_signal is not None else "done"
        return (f"worker {self.worker_id} {how}: run {self.run_id}, {self.requests} requests, "
                f"{self.handed_off} posts handed off, {self.seconds:.1f} s")


def run_worker(redis_url: str, overrides: dict[str, Any] | None = None) -> WorkerSummary:
    """Join the crawl published in ``redis_url`` and work until it is over, or idle for
    ``FINEWS_IDLE_EXIT`` seconds; waits that long for a crawl to be published, too."""
    started = time.monotonic()
    probe = crawl_settings(None, Path("."), overrides)
    prefix = probe["FINEWS_REDIS_PREFIX"]
    shared = connect(redis_url, prefix)
    run = shared.run()
    while (run is None or run.get("status") != RUN_GOES_ON) and time.monotonic() - started < probe.getfloat("FINEWS_IDLE_EXIT"):
        time.sleep(probe.getfloat("FINEWS_REDIS_POLL_SECONDS"))
        run = shared.run()
    if run is None or run.get("status") != RUN_GOES_ON:
        return WorkerSummary(None, None, EXIT_OK, None, 0, 0, time.monotonic() - started)
    run_id = int(run["run_id"])
    settings = crawl_settings(run["site"], Path("."), overrides)
    settings.setdict({"FINEWS_RUN_ID": run_id, "FINEWS_FULL": run["mode"] == "full"}, priority="cmdline")
    settings = _worker_settings(settings, redis_url, prefix)
    process = CrawlerProcess(settings)
    crawler = Crawler(SiteSpider, settings, init_reactor=True)
    worker = make_worker(shared, run_id=run_id, finishes_crawl=False)
    attach_worker(crawler, worker)
    process.crawl(crawler)
    stop_signal = run_process(process, settings)
    stats = crawler.stats.get_stats()
    return WorkerSummary(
        worker_id=worker.id,
        run_id=run_id,
        exit_code=exit_code_for_signal(stop_signal) if stop_signal is not None else EXIT_OK,
        stop_signal=stop_signal,
        requests=int(stats.get("downloader/request_count", 0)),
        handed_off=worker.handed_off,
        seconds=time.monotonic() - started,
    )
