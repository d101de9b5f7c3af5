"""``python -m benchmarks.distributed``: the distributed crawl against one process, on the same replica, in one run.

    python -m benchmarks.distributed --posts 2000 --rounds 3 [--work DIR]

The issue's target: 2 workers on a 2-core machine ≥ 1.6× the posts/s of one process. Each round measures,
one after the other on the same site served by nginx (benchmarks.servers), each into a fresh output:

- ``single``: ``finews crawl``, the ordinary single-process crawl, no Redis;
- ``redis-1``: ``finews crawl --redis URL`` alone: its own worker is the only one;
- ``redis-2``: the same with one ``finews worker --redis URL --idle-exit 5`` started at the same moment.
  Wall time is until ``finews crawl --redis`` exits (it exits once the whole crawl is complete); the worker
  is then waited for, and its exit code and summary line are part of the run. Peak RSS is the sum of the
  two process trees' peaks.

All as shipped (AutoThrottle on); ``--unthrottled`` adds the three again with
``-s AUTOTHROTTLE_ENABLED=False``, each compared with its own ``single``. The benchmark starts its own
``redis-server`` on a free loopback port, with no persistence, and empties it (FLUSHALL) before every
distributed run, so no run sees another's frontier, duplicate filter or published run. A run is ok when
every process exited 0 and the archive holds every valid post with the same (info_code, content_hash)
pairs as the round's ``single`` archive: the same posts, with the same contents.

Needs redis-server (Debian: ``apt-get install redis-server``; run as a child process, never as a service),
and what ``python -m benchmarks`` needs. Prints the table and the targets; writes every run to
``WORK/results.json``.
"""

from __future__ import annotations

import argparse
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import psutil

from benchmarks.__main__ import log, machine
from benchmarks.measure import Measured, run_measured
from benchmarks.redis_server import RedisServer, redis_binary
from benchmarks.report import (
    MIB,
    Spread,
    Target,
    per_round,
    save_and_describe,
    targets_markdown,
)
from benchmarks.runs import ARCHIVE, Round, Row, archived, finews_argv
from benchmarks.servers import ServerUnavailable, SiteServer, start_server
from benchmarks.static_site import StaticSite, static_site
from crawler.pages.listing import is_post_url

DEFAULT_WORK = Path("/tmp/finews-benchmarks-distributed")
RUNS = ("bare", "single", "redis-1", "redis-2")
UNTHROTTLED = "-unthrottled"
TARGET_SPEEDUP = 1.6
# The speed issue's target for the full pipeline against bare Scrapy (benchmarks/report.py), with both cores.
BARE_TARGET = 0.85
# What ``--idle-exit`` the worker gets: how long it waits for the crawl to be published, and for work.
WORKER_IDLE_EXIT = 5
# A worker still running this long after ``finews crawl --redis`` exited has hung: it is killed, the run failed.
WORKER_GRACE_SECONDS = 30.0
# A distributed crawl still running after this many times the round's single crawl (plus a minute for
# start-up) has hung, not slowed down: it is killed and the run reported failed (run_measured would wait 4 h).
HANG_FACTOR = 10
HANG_SLACK_SECONDS = 60.0
# How long an interrupted benchmark waits for its crawls to finish their posts in flight and exit.
STOP_SECONDS = 30.0
# ``finews worker``'s summary line (crawler/distributed/runner.py, WorkerSummary.line).
WORKER_LINE = re.compile(r"^worker \S+ (?P<how>done|stopped by \w+): run \d+, (?P<requests>\d+) requests, "
                         r"(?P<handed_off>\d+) posts handed off", re.MULTILINE)


def archive_contents(output: Path) -> set[tuple[str, str]]:
    """(info_code, content_hash) of every archived post: equal sets, the same posts with the same contents."""
    path = output / ARCHIVE
    if not path.exists():
        return set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return {(code, digest) for code, digest in db.execute("SELECT info_code, content_hash FROM posts")}
    finally:
        db.close()


def last_line(text: str) -> str:
    return (text.strip().splitlines() or ["(no output)"])[-1][:200]


class _Background(threading.Thread):
    """``run_measured`` in a thread of its own, so that a second process runs beside the measured one; killed
    once it outlives the measured one by WORKER_GRACE_SECONDS."""

    def __init__(self, argv: list[str], cwd: Path, env: dict[str, str], logs: Path) -> None:
        super().__init__(name="measured-worker", daemon=True)
        self.args = (argv, cwd, env, logs)
        self.ended = threading.Event()
        self.stop_at = 0.0
        self.measured: Measured | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        argv, cwd, env, logs = self.args
        try:
            self.measured = run_measured(argv, cwd=cwd, env=env, logs=logs, stop_when=self._hung)
        except BaseException as error:  # noqa: BLE001 - ``result`` raises it in the main thread
            self.error = error

    def _hung(self) -> bool:
        return self.ended.is_set() and time.perf_counter() > self.stop_at

    def result(self) -> Measured:
        """Once the measured process has ended: wait for this one (or its grace to run out)."""
        self.stop_at = time.perf_counter() + WORKER_GRACE_SECONDS
        self.ended.set()
        self.join()
        if self.error is not None:
            raise self.error
        assert self.measured is not None
        return self.measured


class DistributedRound(Round):
    """One round of ``single``, ``redis-1`` and ``redis-2`` (each with ``settings``) over one site."""

    def __init__(self, site: StaticSite, server: SiteServer, work: Path, number: int, redis_server: RedisServer,
                 settings: Sequence[str] = ()) -> None:
        super().__init__(site, server, work, number)
        self.redis = redis_server
        self.settings = tuple(settings)
        self.options = [option for setting in settings for option in ("-s", setting)]

    def single(self, scenario: str) -> tuple[Row, set[tuple[str, str]]]:
        """The ordinary crawl (benchmarks.runs), and what it archived: what the distributed runs must match."""
        row = self.crawl(scenario, *self.settings)
        return row, archive_contents(self.work / scenario)

    def distributed(self, scenario: str, workers: int, single: Row, reference: set[tuple[str, str]]) -> Row:
        """``finews crawl --redis`` with ``workers - 1`` ``finews worker`` processes beside it (0 or 1); its
        archive must hold ``reference``, the round's ``single`` archive."""
        output = self._fresh(scenario)
        self.redis.flush()
        crawl_argv = finews_argv("crawl", "--redis", self.redis.url, "--output", str(output), *self.options)
        mark = self.server.mark()
        cpu_before = self.server.cpu_seconds()
        helper: _Background | None = None
        if workers == 2:
            worker_dir = self.work / f"{scenario}-worker"
            worker_dir.mkdir(parents=True, exist_ok=True)
            helper = _Background(
                finews_argv("worker", "--redis", self.redis.url, "--idle-exit", str(WORKER_IDLE_EXIT), *self.options),
                worker_dir, self.env, self.work / "logs" / f"{scenario}-worker",
            )
            helper.start()
        elif workers != 1:
            raise ValueError(f"workers must be 1 or 2, not {workers}")
        limit = HANG_FACTOR * single.wall_seconds + HANG_SLACK_SECONDS
        deadline = time.perf_counter() + limit
        crawl = run_measured(crawl_argv, cwd=self.work, env=self.env, logs=self.work / "logs" / scenario,
                             stop_when=lambda: time.perf_counter() > deadline)
        worker = helper.result() if helper is not None else None
        cpu_after = self.server.cpu_seconds()
        urls = [url for url, _status in self.server.requests_since(mark)]
        server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        pages = [url for url in urls if is_post_url(url)]
        held = archived(output)
        contents = archive_contents(output)
        extra: dict[str, float | int | str] = {"archived": held, "fetched_twice": len(pages) - len(set(pages))}
        problems: list[str] = []
        if crawl.stopped:
            problems.append(f"crawl still running after {limit:.0f} s ({HANG_FACTOR}× single + "
                            f"{HANG_SLACK_SECONDS:.0f} s): killed; last stderr line: {last_line(crawl.stderr)}")
        elif crawl.returncode != 0:
            problems.append(f"crawl exit {crawl.returncode}: {last_line(crawl.stderr)}")
        if worker is not None:
            problems.extend(self._worker_problems(worker))
            extra["worker_exit_after_seconds"] = round(worker.wall_seconds - crawl.wall_seconds, 2)
            summary = WORKER_LINE.search(worker.stdout)
            if summary:
                extra["worker_requests"] = int(summary["requests"])
                extra["worker_handed_off"] = int(summary["handed_off"])
        if held != self.site.valid_posts:
            problems.append(f"archived {held} posts of {self.site.valid_posts}")
        if contents != reference:
            problems.append(f"{len(contents ^ reference)} (info_code, content_hash) pairs differ from single's")
        measured = crawl if worker is None else Measured(
            wall_seconds=crawl.wall_seconds, peak_rss_bytes=crawl.peak_rss_bytes + worker.peak_rss_bytes,
            returncode=crawl.returncode, stopped=False, stdout=crawl.stdout, stderr=crawl.stderr,
        )
        return self._row(scenario, measured, urls, server_cpu, len(set(pages)), not problems,
                         "; ".join(problems), **extra)

    @staticmethod
    def _worker_problems(worker: Measured) -> list[str]:
        if worker.stopped:
            return [f"worker still running {WORKER_GRACE_SECONDS:.0f} s after the crawl ended: killed"]
        if worker.returncode != 0:
            return [f"worker exit {worker.returncode}: {last_line(worker.stderr)}"]
        if WORKER_LINE.search(worker.stdout) is None:
            # It found no published run within its --idle-exit, or said something else: it did not work.
            return [f"worker did not join the crawl: {last_line(worker.stdout + worker.stderr)}"]
        return []


def run(
    posts: int, rounds: int, work: Path, server_kind: str, variants: Sequence[str], with_bare: bool = False
) -> tuple[list[Row], str]:
    rows: list[Row] = []
    log(f"replica of {posts:,} posts: writing static files under {work / f'site-{posts}'} (reused if whole)")
    site = static_site(posts, work / f"site-{posts}")
    with start_server(server_kind, site, work / "nginx") as server, RedisServer(work / "redis") as redis_server:
        log(f"serving {site.files:,} files with {server.name} on {server.proxy_url}; "
            f"redis-server on {redis_server.url}")
        for number in range(1, rounds + 1):
            for suffix in variants:
                settings = ("AUTOTHROTTLE_ENABLED=False",) if suffix == UNTHROTTLED else ()
                bench = DistributedRound(site, server, work / f"runs-{posts}", number, redis_server, settings)
                if with_bare and not suffix:
                    rows.append(bench.bare(share=False))
                    log_row(rows[-1])
                single, reference = bench.single("single" + suffix)
                rows.append(single)
                log_row(single)
                for workers in (1, 2):
                    rows.append(bench.distributed(f"redis-{workers}{suffix}", workers, single, reference))
                    log_row(rows[-1])
    return rows, server.name


def log_row(row: Row) -> None:
    worker = (f"  worker: {row.extra['worker_handed_off']} posts handed off, its exit minus the crawl's "
              f"{row.extra['worker_exit_after_seconds']} s" if "worker_handed_off" in row.extra else "")
    log(f"{row.posts:,} posts, round {row.round}: {row.scenario:<20} {row.wall_seconds:7.2f} s "
        f"{row.per_second:6.0f}/s {row.requests:6} requests {row.peak_rss_bytes / MIB:5.0f} MB{worker}"
        + ("" if row.ok else "  FAILED " + row.note))


def _measured(rows: Sequence[Row]) -> list[Row]:
    """The rows a ratio may use: a failed run's posts/s measures nothing (and may be 0)."""
    return [row for row in rows if row.ok]


def _speedup(row: Row, base: Row) -> float:
    return row.per_second / base.per_second


def _order(rows: Sequence[Row]) -> list[str]:
    scenarios = {row.scenario for row in rows}
    return [name + suffix for suffix in ("", UNTHROTTLED) for name in RUNS if name + suffix in scenarios]


def _spread(values: list[float], digits: int) -> str:
    result = Spread.of(values)
    return result.show(digits) if result else ""


def _ratio(rows: Sequence[Row], posts: int, scenario: str, base: str) -> str:
    """``scenario``'s posts/s over ``base``'s (of the same variant), within each round; blank for single over
    redis-1, which the target does not ask about."""
    suffix = UNTHROTTLED if scenario.endswith(UNTHROTTLED) else ""
    if scenario == base + suffix:
        return "1.00"
    if RUNS.index(scenario.removesuffix(suffix)) < RUNS.index(base):
        return ""
    spread = per_round(_measured(rows), posts, scenario, base + suffix, _speedup)
    return spread.show() if spread else ""


def markdown_table(rows: Sequence[Row]) -> str:
    lines = ["| posts | run | rounds | wall s | posts/s | × bare | × single | × redis-1 | requests | peak RSS MB | ok |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for posts in sorted({row.posts for row in rows}):
        for scenario in _order(rows):
            group = [row for row in rows if row.posts == posts and row.scenario == scenario]
            if not group:
                continue
            lines.append(
                f"| {posts:,} | {scenario} | {len(group)} | {_spread([r.wall_seconds for r in group], 2)} | "
                f"{_spread([r.per_second for r in group], 0)} | "
                + " | ".join(_ratio(rows, posts, scenario, base) for base in ("bare", "single", "redis-1"))
                + f" | {_spread([float(r.requests) for r in group], 0)} | "
                f"{_spread([r.peak_rss_bytes / MIB for r in group], 0)} | "
                f"{'ok' if all(r.ok for r in group) else 'NOT OK: ' + '; '.join(r.note for r in group if not r.ok)} |"
            )
    return "\n".join(lines)


def targets(rows: Sequence[Row]) -> list[Target]:
    found: list[Target] = []
    for posts in sorted({row.posts for row in rows}):
        for suffix in ("", UNTHROTTLED):
            for base in ("single", "redis-1"):
                if not any(row.scenario == "redis-2" + suffix for row in rows):
                    continue
                spread = per_round(_measured(rows), posts, "redis-2" + suffix, base + suffix, _speedup)
                found.append(Target(f"redis-2{suffix} vs {base}{suffix}, {posts:,} posts",
                                    f"≥ {TARGET_SPEEDUP}× posts/s" + (" (reported)" if suffix else ""),
                                    spread.show() if spread else "not measured (no round where both were ok)",
                                    spread.median >= TARGET_SPEEDUP if spread else None))
        if any(row.scenario == "bare" and row.posts == posts for row in rows):
            spread = per_round(_measured(rows), posts, "redis-2", "bare", _speedup)
            found.append(Target(f"redis-2 vs bare Scrapy, {posts:,} posts", f"≥ {BARE_TARGET}× posts/s (the speed issue's)",
                                spread.show() if spread else "not measured (no round where both were ok)",
                                spread.median >= BARE_TARGET if spread else None))
    return found


def worker_lines(rows: Sequence[Row]) -> list[str]:
    """How the work was shared, and how long the worker outlived the crawl: nothing the table says."""
    lines = []
    for posts in sorted({row.posts for row in rows}):
        for scenario in _order(rows):
            group = [row for row in rows if row.posts == posts and row.scenario == scenario
                     and "worker_handed_off" in row.extra]
            if not group:
                continue
            share = Spread.of([float(r.extra["worker_handed_off"]) / max(1, int(r.extra["archived"])) for r in group])
            lag = Spread.of([float(r.extra["worker_exit_after_seconds"]) for r in group])
            twice = sum(int(r.extra["fetched_twice"]) for r in group)
            assert share is not None and lag is not None
            lines.append(f"{posts:,} posts, {scenario}: the `finews worker` handed off {share.show()} of the posts; "
                         f"its exit minus `finews crawl --redis`'s: {lag.show()} s (negative: it ran out of work "
                         f"and idled out first); post pages fetched twice: {twice}")
    return lines


def _terminated(signum: int, frame: FrameType | None) -> None:
    """SIGTERM, passed on to the measured crawls (which a terminal's Ctrl-C reaches by itself), which stop as
    on their own SIGTERM; then, as on Ctrl-C, the ``with`` blocks stop redis-server and nginx on the way out."""
    children = psutil.Process().children()
    for child in children:
        child.send_signal(signal.SIGTERM)
    psutil.wait_procs(children, timeout=STOP_SECONDS)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000, help="site size (default 2000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every run, alternating (default 3)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"work folder (default {DEFAULT_WORK})")
    parser.add_argument("--server", choices=("nginx", "replica", "auto"), default="nginx",
                        help="nginx (default); replica: the Python replica server (smoke runs only); "
                             "auto: nginx if installed")
    parser.add_argument("--unthrottled", action="store_true",
                        help="also every run with -s AUTOTHROTTLE_ENABLED=False (reported beside the main table)")
    parser.add_argument("--bare", action="store_true",
                        help="also bare Scrapy (benchmarks.bare) in every round: the speed issue's baseline")
    args = parser.parse_args(argv)
    if args.posts < 9 or args.rounds < 1:
        parser.error("--posts must be at least 9 and --rounds at least 1")
    args.work.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _terminated)
    variants = ("", UNTHROTTLED) if args.unthrottled else ("",)
    try:
        rows, used = run(args.posts, args.rounds, args.work.resolve(), args.server, variants, args.bare)
    except ServerUnavailable as error:
        print(f"benchmarks.distributed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("benchmarks.distributed: interrupted; redis-server and the site server are stopped", file=sys.stderr)
        return 130
    about = machine()
    binary = redis_binary()
    about["redis"] = (subprocess.run([binary, "--version"], capture_output=True, text=True, check=False).stdout.strip()
                      if binary else "absent")
    for line in save_and_describe(args.work, about, used, args.rounds, rows):
        print(line)
    print()
    print(markdown_table(rows))
    print()
    print(targets_markdown(targets(rows)))
    print()
    for line in worker_lines(rows):
        print(line)
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
