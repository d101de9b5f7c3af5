"""``finews crawl --redis`` and ``finews worker``: the processes of a distributed crawl."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings
from twisted.python.failure import Failure

from crawler.distributed.frontier import FrontierTiming, distributed_settings
from crawler.distributed.shared import (
    LOST_CONNECTION,
    RUN_GOES_ON,
    SITE_UNREACHABLE,
    SharedCrawl,
)
from crawler.distributed.worker import make_worker
from crawler.faults import FAILURE_STAT
from crawler.lock import LOCK_FILE, CrawlLock
from crawler.runner import (
    EXIT_FAILED,
    EXIT_OK,
    CrawlError,
    CrawlSummary,
    check_output_writable,
    conclude,
    crawl_settings,
    exit_code_for_signal,
    mirror_output,
    open_archive,
    prepare_run,
    release_space,
    reserve_space,
    run_process,
)
from crawler.spiders.ingest import IngestSpider
from crawler.spiders.site import SiteSpider
from crawler.twisted_reactor import global_reactor

# How long a crawl stopped because Redis was lost may take to finish its items before it is cut short.
STOP_GRACE_SECONDS = 30.0


def redacted(redis_url: str) -> str:
    """The URL as a message may show it: a password (``redis://user:secret@host``) never reaches a log or
    cron's mail."""
    parts = urlsplit(redis_url)
    if parts.password is None:
        return redis_url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def connect(redis_url: str, prefix: str) -> SharedCrawl:
    try:
        return SharedCrawl.connect(redis_url, prefix)
    except (redis.RedisError, ValueError) as error:
        raise CrawlError(f"Redis at {redacted(redis_url)} cannot be reached: {error}") from None


def _worker_settings(base: Settings, redis_url: str, prefix: str) -> Settings:
    """``base`` made a worker's; raises CrawlError when a distributed crawl's setting is unusable."""
    settings = base.copy()
    settings.update(distributed_settings(redis_url, prefix), priority="cmdline")
    try:
        FrontierTiming.from_settings(settings)
    except ValueError as error:
        raise CrawlError(str(error)) from None
    return settings


def run_distributed_crawl(
    site_url: str, output: Path, redis_url: str, overrides: dict[str, Any] | None = None, *,
    full: bool = False, resume: bool = False,
) -> CrawlSummary:
    """Crawl ``site_url`` into ``output`` with every ``finews worker`` that joins through ``redis_url``.

    This process holds the output's lock (so it is the one writer), publishes the run, works as one more
    worker, and writes the archive (the ingest). It returns once the whole crawl is complete.
    """
    # Two crawlers share the terminal here: no live display, the summary line only.
    base = crawl_settings(site_url, output, {**(overrides or {}), "FINEWS_PROGRESS": False})
    prefix = base["FINEWS_REDIS_PREFIX"]
    _worker_settings(base, redis_url, prefix)  # a bad setting is refused before any run starts
    # Redis first: a wrong password or an unreachable server stops the crawl before it touches the output.
    shared = connect(redis_url, prefix)
    check_output_writable(output)
    with CrawlLock(output / LOCK_FILE):
        started = time.monotonic()
        mirror_output(output)
        reserve_space(output)
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
        coordinator = make_worker(shared, run_id=run.run_id, finishes_crawl=True, categories=categories, pending=pending)
        ingest_crawler = Crawler(IngestSpider, base)
        failures: list[str] = []

        # The reason a fault (crawler/faults.py) ended one of the crawlers: the run is then recorded failed.
        faults: list[str] = []

        def stop_everything(reason: str) -> None:
            """Stop both crawlers as on SIGTERM; if that has not ended the process within a grace period,
            stop the reactor: what the writer had not committed is still in Redis, as after a kill."""
            failures.append(reason)
            reactor = global_reactor()
            reactor.callLater(0, process.stop)
            reactor.callLater(STOP_GRACE_SECONDS, _stop_reactor)

        def worker_ended(result: object) -> None:
            """Its crawl is over, however it ended: the ingest may finish once the shared work is done."""
            if isinstance(result, Failure):
                # It never ran (a bad setting): no worker of this process will finish the crawl, and the
                # writer, just started, has nothing to finish (Scrapy's engine hangs when stopped then).
                failures.append(f"the crawl could not start: {result.getErrorMessage()}")
                global_reactor().callLater(0, _stop_reactor)
            elif worker_crawler.stats.get_value(FAILURE_STAT):
                # A fault ended its crawl (the site gone, throttling without end): the run cannot complete.
                faults.append(worker_crawler.stats.get_value(FAILURE_STAT))
                stop_everything(faults[-1])
            elif isinstance(ingest_crawler.spider, IngestSpider):
                ingest_crawler.spider.crawl_over = True

        def ingest_ended(result: object) -> None:
            if isinstance(result, Failure):
                stop_everything(f"the archive's writer could not start: {result.getErrorMessage()}")
            elif ingest_crawler.stats.get_value(FAILURE_STAT):
                # The archive could not be written (disk full, read-only): what Redis holds waits for --resume.
                faults.append(ingest_crawler.stats.get_value(FAILURE_STAT))
                stop_everything(faults[-1])

        shared.on_lost.append(lambda error: stop_everything(f"Redis at {redacted(redis_url)} was lost: {error}"))
        process.crawl(worker_crawler, worker=coordinator).addBoth(worker_ended)
        process.crawl(ingest_crawler, shared=shared).addBoth(ingest_ended)
        stop_signal = run_process(process, base)
        if failures:
            _record_failure(output, run.run_id, faults[0] if faults else None)
            with contextlib.suppress(*LOST_CONNECTION):
                shared.close_run("interrupted")  # the workers stop too
            if faults:
                raise CrawlError(faults[0])
            raise CrawlError(f"{failures[0]}; `finews crawl --redis URL --resume` continues the run")
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


def _stop_reactor() -> None:
    reactor = global_reactor()
    if reactor.running:
        reactor.stop()


def _record_failure(output: Path, run_id: int, fault: str | None) -> None:
    """A run stopped by a failure around it (Redis lost, a crawler that could not start) is recorded
    ``interrupted``; one a fault stopped (crawler/faults.py), ``failed`` with its reason. Both are resumable."""
    release_space(output)
    try:
        archive = open_archive(output)
        try:
            archive.set_run_outcome(run_id, "failed" if fault else "interrupted", EXIT_FAILED, fault)
        finally:
            archive.close()
    except (CrawlError, OSError, sqlite3.Error):
        pass  # the storage fault that stopped the run: the next run records it interrupted, as after a kill


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
    failures: list[str] = []

    def crawl_ended(result: object) -> None:
        if isinstance(result, Failure):
            failures.append(f"the worker could not start: {result.getErrorMessage()}")

    def redis_lost(error: Exception) -> None:
        failures.append(f"Redis at {redacted(redis_url)} was lost: {error}")
        global_reactor().callLater(0, process.stop)

    shared.on_lost.append(redis_lost)
    process.crawl(crawler, worker=worker).addBoth(crawl_ended)
    stop_signal = run_process(process, settings)
    if failures:
        raise CrawlError(failures[0])
    stats = crawler.stats.get_stats()
    if stats.get(FAILURE_STAT):
        # A fault stopped this worker (the site gone, throttling without end): its leases went back to the
        # frontier for the others; it says why and exits 1, as a single crawl would.
        raise CrawlError(stats[FAILURE_STAT])
    return WorkerSummary(
        worker_id=worker.id,
        run_id=run_id,
        exit_code=exit_code_for_signal(stop_signal) if stop_signal is not None else EXIT_OK,
        stop_signal=stop_signal,
        requests=int(stats.get("downloader/request_count", 0)),
        handed_off=worker.handed_off,
        seconds=time.monotonic() - started,
    )
