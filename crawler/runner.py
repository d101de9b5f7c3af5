"""Running one crawl in this process: the lock, the run it starts or resumes, the crawl, and its outcome.

A run is one crawl of the site, recorded in ``crawl_runs``. It may take several sessions: a run stopped
by SIGINT/SIGTERM (``interrupted``) or killed outright is continued by ``finews crawl --resume``.
Scrapy's JOBDIR (``OUTPUT/jobs/run-<id>``) keeps a stopped session's queue; it is trusted only after a
clean stop, because Scrapy writes its queue state on close. After a kill the archive's frontier (posts
discovered, not yet archived) is what the next session starts from, resumed or not.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler, CrawlerProcess
from scrapy.settings import Settings

from crawler.faults import FAILURE_STAT, shorten
from crawler.heldlog import ErrorsHeldUntilRunEnds
from crawler.lock import LOCK_FILE, CrawlLock
from crawler.output import (  # noqa: F401 - part of this module's interface for the distributed runner
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_OK,
    JOBS_DIR,
    CrawlError,
    check_output_writable,
    mirror_output,
    open_archive,
    release_space,
    reserve_space,
)
from crawler.sharehost import UNAVAILABLE_STAT
from crawler.spiders.reparse import POST_CALLBACK, ReparseSpider
from crawler.spiders.share import NOT_ARCHIVED_STATUS, ShareFailure, ShareSpider
from crawler.spiders.site import LISTING_REASON_STAT, LISTINGS_NOT_READ_STAT, SiteSpider
from crawler.twisted_reactor import global_reactor
from pipelines.archive import ARCHIVE_FILE, CRAWL_MODES, REPARSE_MODE, Archive
from pipelines.crawl_archive import close_archive_left_open
from pipelines.store import PENDING_REASON_STAT

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
# Written into a run's JOBDIR once Scrapy has closed it cleanly: only then is its saved queue whole.
CLEAN_STOP_MARK = "stopped-cleanly"
# A failed run too: what it left is in the frontier (or, distributed, in Redis), and --resume after the fault
# is fixed (space freed, the site back) continues it as the same run.
RESUMABLE = ("running", "interrupted", "failed")


def exit_code_for_signal(signum: int) -> int:
    """The shell's convention: 128 + the signal (SIGINT → 130, SIGTERM → 143)."""
    return 128 + signum


@dataclass(frozen=True)
class CrawlSummary:
    run_id: int
    status: str
    resumed: bool
    exit_code: int
    stop_signal: int | None
    new: int
    updated: int
    merged: int
    unchanged: int
    skipped_known: int
    skipped_rejected: int
    rejected: int
    errors: int
    files_written: int
    requests: int
    archived_total: int
    seconds: float

    def line(self) -> str:
        """The run's counts (all its sessions' when resumed), each named for what it counts, then the archive's
        total, which is not the run's."""
        how = self.status + (" (resumed; counts and time of the whole run)" if self.resumed else "")
        if self.stop_signal is not None:
            how += f" by {signal.Signals(self.stop_signal).name}"
        return (
            f"run {self.run_id} {how}: posts {self.new} new, {self.updated} updated, {self.merged} merged into "
            f"their twin's record, {self.unchanged} unchanged, {self.rejected} rejected; listed pages not fetched: "
            f"{self.skipped_known} already archived, {self.skipped_rejected} already rejected; "
            f"{self.files_written} files written, {self.requests} requests, {self.errors} errors, {self.seconds:.1f} s; "
            f"the archive now holds {self.archived_total} posts"
        )


@dataclass(frozen=True)
class PreparedRun:
    run_id: int
    jobdir: Path
    mode: str
    resumed: bool


def crawl_settings(site_url: str | None, output: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """The project's settings for one run into ``output`` (``site_url`` None: the settings' own)."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    if site_url is not None:
        settings.set("FINEWS_SITE_URL", site_url, priority="cmdline")
    settings.set("FINEWS_OUTPUT", str(output), priority="cmdline")
    for name, value in (overrides or {}).items():
        settings.set(name, value, priority="cmdline")
    return settings


def _remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


def prepare_run(output: Path, site_url: str, full: bool, resume: bool) -> PreparedRun:
    """Start a new run, or with ``resume`` continue the latest one if it did not finish.

    Only call this holding the crawl lock: a run still marked ``running`` then belongs to a dead process.
    """
    jobs = output / JOBS_DIR
    archive = open_archive(output)
    try:
        latest = archive.latest_run(CRAWL_MODES)
        archive.mark_abandoned_runs()
        if resume and latest is not None and latest["status"] in RESUMABLE and latest["site"] == site_url:
            run_id = latest["id"]
            jobdir = jobs / f"run-{run_id}"
            mark = jobdir / CLEAN_STOP_MARK
            if mark.exists():
                # From here on a kill must not pass for a clean stop.
                mark.unlink()
            else:
                # Killed: Scrapy's queue state on disk is not whole. The frontier has every pending post.
                _remove_tree(jobdir)
            archive.resume_run(run_id)
            return PreparedRun(run_id, jobdir, latest["mode"] or "incremental", True)
        # A new run never continues an old queue: what older runs left pending is in the frontier.
        _remove_tree(jobs)
        mode = "full" if full else "incremental"
        run_id = archive.start_run(site_url, mode)
        return PreparedRun(run_id, jobs / f"run-{run_id}", mode, False)
    finally:
        archive.close()


class SignalStop:
    """SIGINT/SIGTERM: a graceful stop that finishes in-flight items (Scrapy's ``shutdown``); a second one
    stops at once. Remembers the first signal, which the exit code reports."""

    def __init__(self, process: CrawlerProcess) -> None:
        self.process = process
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for signum in STOP_SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        """Once the reactor has stopped there is nothing to stop gracefully: the usual handlers again."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        reactor = global_reactor()

        # No logging here: a signal handler may interrupt a write to the same stream.
        if self.signum is None:
            self.signum = signum
            reactor.callFromThread(self.process.stop)
        else:
            reactor.callFromThread(reactor.stop)


# What a log line keeps of its message below DEBUG: a page's bytes or an item's repr are never printed.
MAX_LOG_LINE = 500


def _one_line_records(record: logging.LogRecord) -> bool:
    """Errors stay one line each (a refused connection is not worth a traceback), no longer than
    MAX_LOG_LINE; DEBUG keeps them whole."""
    record.exc_info = None
    record.exc_text = None
    message = record.getMessage()
    if len(message) > MAX_LOG_LINE or "\n" in message:
        record.msg, record.args = shorten(message, MAX_LOG_LINE), None
    return True


def run_crawl(
    site_url: str, output: Path, overrides: dict[str, Any] | None = None, *, full: bool = False, resume: bool = False
) -> CrawlSummary:
    """Crawl ``site_url`` into ``output``, holding the output's lock (CrawlLocked when another crawl has it).

    Raises CrawlError when the crawl cannot start or reach the site. Scrapy's reactor runs once per
    process, so this is called at most once per process.
    """
    check_output_writable(output)
    with CrawlLock(output / LOCK_FILE):
        started = time.monotonic()
        mirror_output(output)
        reserve_space(output)
        run = prepare_run(output, site_url, full, resume)
        settings = crawl_settings(
            site_url,
            output,
            {**(overrides or {}), "FINEWS_RUN_ID": run.run_id, "FINEWS_FULL": run.mode == "full",
             "JOBDIR": str(run.jobdir)},
        )
        # A fault (an unreachable site, a full disk) is reported in one line (CrawlError), not by every
        # request's error too.
        settings.set_in_component_priority_dict("EXTENSIONS", ErrorsHeldUntilRunEnds, 0)
        crawler, stop_signal = _run_spider(settings, SiteSpider)
        return conclude(output, run, crawler.stats.get_stats(), stop_signal, site_url, time.monotonic() - started)


def _run_spider(settings: Settings, spider: type[Spider], **spider_kwargs: Any) -> tuple[Crawler, int | None]:
    """Run one spider in this process to its end; returns its crawler and the stop signal, if one came."""
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(spider)
    process.crawl(crawler, **spider_kwargs)
    return crawler, run_process(process, settings)


def run_process(process: CrawlerProcess, settings: Settings) -> int | None:
    """Run the crawls given to ``process`` to their end; returns the stop signal, if one came."""
    if settings.get("LOG_LEVEL") != "DEBUG":
        # Scrapy installs its log handler when the crawl is set up, so the filter goes on after.
        for handler in logging.getLogger().handlers:
            handler.addFilter(_one_line_records)
    stop = SignalStop(process)
    stop.install()
    crawlers = list(process.crawlers)
    try:
        process.start(install_signal_handlers=False)
    finally:
        stop.uninstall()
        for crawler in crawlers:
            close_archive_left_open(crawler)
    return stop.signum


def run_outcome(closed_as: str, stop_signal: int | None, *, failed: bool = False) -> tuple[str, int]:
    """The status and exit code a run ends with, from how the store closed it (when the spider closed)
    and the signal that stopped the process, if any: a signal after the run finished interrupted nothing."""
    if stop_signal is not None and closed_as != "finished":
        return "interrupted", exit_code_for_signal(stop_signal)
    if failed or closed_as != "finished":
        return "failed", EXIT_FAILED
    return "finished", EXIT_OK


def end_of_run(output: Path, failure: str | None) -> str | None:
    """What every run does once its crawl is over: make ``_posts`` mirror ``posts``, then give back the
    space it set aside, for the outcome's record. Returns the run's failure, or the mirror's one line when
    it had none. In that order: closing a connection checkpoints the WAL, which on a full disk grows the
    database file into whatever is free, the reserve too if it were given back already."""
    try:
        mirror_output(output)
    except CrawlError as error:
        failure = failure or str(error)
    release_space(output)
    return failure


@contextmanager
def recording(output: Path, failure: str | None) -> Iterator[Archive]:
    """The archive, to record a run's outcome in. When that cannot be done (the disk is still full), raises
    CrawlError with the run's own failure: the next run records it ``interrupted``, as after a kill."""
    try:
        archive = open_archive(output)
        try:
            yield archive
        finally:
            archive.close()
    except (CrawlError, OSError, sqlite3.Error) as error:
        raise CrawlError(failure or str(error)) from None


def _record_outcome(
    output: Path, run_id: int, stop_signal: int | None, stats: dict[str, Any], *, partly_failed: bool = False,
    gave_up: str | None = None,
) -> tuple[str, int, dict[str, Any]]:
    """Record a share or reparse run's outcome; one that finished with some items failed exits 1, and one
    that ``gave_up`` (the reason in one line: its only host stopped answering) is ``failed`` with that reason.
    Raises CrawlError when a fault failed the run (the output could not be written)."""
    failure = end_of_run(output, stats.get(FAILURE_STAT))
    with recording(output, failure) as archive:
        status, exit_code = run_outcome(archive.run(run_id)["status"], stop_signal, failed=bool(failure or gave_up))
        if status == "finished" and partly_failed:
            exit_code = EXIT_FAILED
        archive.set_run_outcome(run_id, status, exit_code, failure or (gave_up if status == "failed" else None))
        record = archive.run(run_id)
    if failure:
        raise CrawlError(failure)
    return status, exit_code, record


def incomplete_reason(pending: int, stats: dict[str, Any]) -> str | None:
    """The one line for a run that ended normally yet did not archive all it listed: posts it requested left
    neither archived nor rejected (``pending`` in the frontier), or listing pages it could not read."""
    if pending:
        last = stats.get(PENDING_REASON_STAT)
        return (
            f"{pending} posts not archived" + (f" (last: {last})" if last else "")
            + "; they stay in the frontier, which the next run fetches first"
        )
    listings = stats.get(LISTINGS_NOT_READ_STAT)
    if listings:
        return (
            f"{listings} listing pages not read (last: {stats.get(LISTING_REASON_STAT)}): "
            "the posts only they list were not seen this run"
        )
    return None


def conclude(
    output: Path, run: PreparedRun, stats: dict[str, Any], stop_signal: int | None, site_url: str, seconds: float
) -> CrawlSummary:
    """Record the run's outcome, its exit code and, for a failed run, why; keep its JOBDIR only when a resume
    can use it. Raises CrawlError (the reason in one line) for a run that failed.

    A run that ended ``finished`` exits 0 only when every post it requested is archived with its file or
    rejected for what its page is: anything left in the frontier fails it.
    """
    unreachable = stats.get("finews/site_unreachable")
    failure = stats.get(FAILURE_STAT) or (f"site {site_url} unreachable: {unreachable}" if unreachable else None)
    failure = end_of_run(output, failure)
    with recording(output, failure) as archive:
        # The store set the status when the spider closed: after the scheduler saved its queue.
        closed_as = archive.run(run.run_id)["status"]
        sizes = archive.sizes()
        if closed_as == "finished" and not failure and stop_signal is None:
            failure = incomplete_reason(sizes["frontier"], stats)
        status, exit_code = run_outcome(closed_as, stop_signal, failed=bool(failure))
        archive.set_run_outcome(run.run_id, status, exit_code, failure)
        record = archive.run(run.run_id)
        total = sizes["posts"]
    if status == "interrupted" and closed_as == "interrupted" and run.jobdir.exists():
        (run.jobdir / CLEAN_STOP_MARK).touch()
    elif status != "interrupted":
        _remove_tree(run.jobdir)
        if (output / JOBS_DIR).exists() and not any((output / JOBS_DIR).iterdir()):
            (output / JOBS_DIR).rmdir()
    if status == "failed" and failure:
        raise CrawlError(failure)
    return CrawlSummary(
        run_id=run.run_id,
        status=status,
        resumed=run.resumed,
        exit_code=exit_code,
        # A signal that came once the crawl had finished interrupted nothing.
        stop_signal=stop_signal if status == "interrupted" else None,
        new=record["new"] or 0,
        updated=record["updated"] or 0,
        merged=record["merged"] or 0,
        unchanged=record["unchanged"] or 0,
        skipped_known=record["skipped_known"] or 0,
        skipped_rejected=record["skipped_rejected"] or 0,
        rejected=record["rejected"] or 0,
        errors=record["errors"] or 0,
        files_written=record["files_written"] or 0,
        requests=record["requests"] or 0,
        archived_total=total,
        # The run's running time over its sessions, as recorded; this process's when none was (it never opened).
        seconds=record["running_seconds"] or seconds,
    )


# ``finews share`` -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ShareSummary:
    run_id: int
    status: str
    exit_code: int
    stop_signal: int | None
    asked: int
    fetched: int
    changed: int
    unchanged: int
    files_written: int
    requests: int
    failures: tuple[ShareFailure, ...]
    # Why the share host was given up on in this run (its breaker opened), else None.
    host_unavailable: str | None
    seconds: float

    @property
    def not_fetched(self) -> int:
        return len([failure for failure in self.failures if failure.status != NOT_ARCHIVED_STATUS])

    @property
    def not_archived(self) -> int:
        return len(self.failures) - self.not_fetched

    def line(self) -> str:
        how = self.status + (f" by {signal.Signals(self.stop_signal).name}" if self.stop_signal is not None else "")
        return (
            f"share run {self.run_id} {how}: {self.asked} infoCodes asked: {self.fetched} texts fetched "
            f"({self.changed} bodies changed, {self.unchanged} unchanged), {self.not_fetched} not fetched, "
            f"{self.not_archived} not archived; {self.files_written} files written, {self.requests} requests, "
            f"{self.seconds:.1f} s"
        )

    def problem_lines(self) -> list[str]:
        """What stderr says: with the share host given up on, one line for every text its outage cost; then
        one line per text that failed for a reason of its own (``CODE: reason``)."""
        outage = [failure for failure in self.failures if failure.host_failure] if self.host_unavailable else []
        lines = []
        if outage:
            lines.append(
                f"{len(outage)} of {self.asked} texts not fetched: {self.host_unavailable}; "
                "`finews share --backfill` asks again"
            )
        lines += [f"{failure.info_code}: {failure.detail}" for failure in self.failures if failure not in outage]
        return lines


def run_share(
    output: Path, info_codes: list[str], *, backfill: bool = False, overrides: dict[str, Any] | None = None
) -> ShareSummary:
    """Fetch the share texts of ``info_codes`` (and with ``backfill`` of every archived post that has none)
    into the archive in ``output``, holding the same lock as a crawl (CrawlLocked when one runs).

    Recorded as a ``share`` run in crawl_runs. Exit code 0 when every text was stored, 1 when one was not
    (``failures`` says which and why; a run whose share host stopped answering is ``failed``), 128 + the
    signal when stopped.
    """
    if not (output / ARCHIVE_FILE).is_file():
        raise CrawlError(f"no archive at {output / ARCHIVE_FILE}: `finews crawl` makes one")
    check_output_writable(output)
    with CrawlLock(output / LOCK_FILE):
        started = time.monotonic()
        mirror_output(output)
        reserve_space(output)
        settings = crawl_settings(None, output, {**(overrides or {}), "FINEWS_PROGRESS": False})
        # A share host that is down is said in one line, not by every request's error too.
        settings.set_in_component_priority_dict("EXTENSIONS", ErrorsHeldUntilRunEnds, 0)
        archive = open_archive(output)
        try:
            archive.mark_abandoned_runs()
            run_id = archive.start_run(f"http://{settings['FINEWS_SHARE_HOST']}/", "share")
        finally:
            archive.close()
        settings.set("FINEWS_RUN_ID", run_id, priority="cmdline")
        crawler, stop_signal = _run_spider(settings, ShareSpider, info_codes=info_codes, backfill=backfill)
        spider = crawler.spider
        failures = tuple(spider.failures_in_asked_order()) if isinstance(spider, ShareSpider) else ()
        stats = crawler.stats.get_stats()
        unavailable = stats.get(UNAVAILABLE_STAT)
        status, exit_code, record = _record_outcome(
            output, run_id, stop_signal, stats, partly_failed=bool(failures), gave_up=unavailable
        )
    return ShareSummary(
        run_id=run_id,
        status=status,
        exit_code=exit_code,
        stop_signal=stop_signal if status == "interrupted" else None,
        asked=int(stats.get("finews/share_asked", 0)),
        fetched=int(stats.get("finews/share_stored", 0)),
        changed=record["updated"] or 0,
        unchanged=record["unchanged"] or 0,
        files_written=record["files_written"] or 0,
        requests=record["requests"] or 0,
        failures=failures,
        host_unavailable=unavailable,
        seconds=time.monotonic() - started,
    )


# ``finews reparse`` -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReparseSummary:
    run_id: int
    status: str
    exit_code: int
    stop_signal: int | None
    pages: int
    new: int
    updated: int
    unchanged: int
    rejected: int
    files_written: int
    requests: int
    not_rebuildable: int
    # Post pages whose share text the archive does not hold (the share host failed when they were crawled).
    share_not_stored: int
    changes: tuple[str, ...]
    seconds: float

    def line(self) -> str:
        how = self.status + (f" by {signal.Signals(self.stop_signal).name}" if self.stop_signal is not None else "")
        line = (
            f"reparse run {self.run_id} {how}: {self.pages} stored post pages read again ({self.requests} requests): "
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.rejected} rejected, "
            f"{self.files_written} files written, {self.seconds:.1f} s"
        )
        if self.not_rebuildable:
            line += f"; {self.not_rebuildable} archived posts have no stored page (archived before pages were kept)"
        if self.share_not_stored:
            line += (
                f"; {self.share_not_stored} share texts not among the stored pages (their posts keep their share "
                "status: `finews share --backfill` fetches them)"
            )
        return line


def run_reparse(output: Path, overrides: dict[str, Any] | None = None) -> ReparseSummary:
    """Rebuild every post in ``output`` from its stored pages, with no network, through the crawl's own
    spider callbacks and pipelines; holds the crawl lock (CrawlLocked when a crawl runs).

    Recorded as a ``reparse`` run in crawl_runs. An archived post keeps its ``last_seen_*``: the site was
    not looked at. Exit code 0 when it finished, 128 + the signal when stopped.
    """
    if not (output / ARCHIVE_FILE).is_file():
        raise CrawlError(f"no archive at {output / ARCHIVE_FILE}: `finews crawl` makes one")
    check_output_writable(output)
    with CrawlLock(output / LOCK_FILE):
        started = time.monotonic()
        mirror_output(output)
        reserve_space(output)
        archive = open_archive(output)
        try:
            archive.mark_abandoned_runs()
            latest = archive.latest_run(CRAWL_MODES)
            site_url = latest["site"] if latest else None
            settings = crawl_settings(site_url, output, {**(overrides or {}), "FINEWS_PROGRESS": False})
            run_id = archive.start_run(settings["FINEWS_SITE_URL"], REPARSE_MODE)
            not_rebuildable = archive.posts_without_stored_page(POST_CALLBACK)
        finally:
            archive.close()
        settings.set("FINEWS_RUN_ID", run_id, priority="cmdline")
        crawler, stop_signal = _run_spider(settings, ReparseSpider)
        spider = crawler.spider
        changes = tuple(spider.report.lines()) if isinstance(spider, ReparseSpider) else ()
        stats = crawler.stats.get_stats()
        status, exit_code, record = _record_outcome(output, run_id, stop_signal, stats)
    return ReparseSummary(
        run_id=run_id,
        status=status,
        exit_code=exit_code,
        stop_signal=stop_signal if status == "interrupted" else None,
        pages=int(stats.get("finews/reparse_pages", 0)),
        new=record["new"] or 0,
        updated=record["updated"] or 0,
        unchanged=record["unchanged"] or 0,
        rejected=record["rejected"] or 0,
        files_written=record["files_written"] or 0,
        requests=record["requests"] or 0,
        not_rebuildable=not_rebuildable,
        share_not_stored=int(stats.get("finews/reparse_share_not_stored", 0)),
        changes=changes,
        seconds=time.monotonic() - started,
    )
