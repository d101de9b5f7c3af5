"""The measured runs of one benchmark round, each a real process crawling the site server through ``http_proxy``.

- ``bare``: the baseline spider (benchmarks.bare), pages only;
- ``bare+share``: the baseline spider asking the share host too: the same requests as ``finews crawl``;
- ``crawl``: ``finews crawl`` into a fresh output, as shipped (AutoThrottle on);
- ``crawl-workers-2``: ``finews crawl --workers 2``: the same on both cores (a private Redis server and one
  worker process; the peak RSS is the whole tree's);
- ``crawl-unthrottled``: ``finews crawl`` with ``-s AUTOTHROTTLE_ENABLED=False``: what politeness costs on loopback;
- ``incremental``: ``finews crawl`` again on that output, the site unchanged;
- ``export``: ``finews export`` of that archive into a fresh output (every file written);
- ``killed``: ``finews crawl`` into a fresh output, SIGKILLed once half the posts are archived (it commits
  every post, ``FINEWS_COMMIT_SECONDS=0``: on a small site one half-second group can hold more than half the
  posts, and the kill would land after the end);
- ``resume``: ``finews crawl --resume`` on the killed output.

Requests are counted from the server's log, so the crawler under test does not count its own.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.measure import Measured, run_measured
from benchmarks.servers import SiteServer
from benchmarks.static_site import StaticSite
from crawler.pages.listing import is_post_url
from crawler.replica.render import SHARE_HOST, SHARE_TEXT_PATH

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = "archive.db"
POSTS_DIR = "_posts"
KILL_AT = 0.5
SHARE_TEXT_URL = f"http://{SHARE_HOST}{SHARE_TEXT_PATH}?"


@dataclass(frozen=True)
class Row:
    """One measured run."""

    posts: int  # post pages on the site
    scenario: str
    round: int
    wall_seconds: float
    peak_rss_bytes: int
    requests: int  # every request the server received during the run
    post_pages: int  # post pages among them
    share_texts: int  # GetNewsText.do requests among them (not the share host's robots.txt)
    done: int  # what the run is measured by: post pages fetched, or files exported
    server_cpu_seconds: float | None
    ok: bool
    note: str = ""
    extra: dict[str, float | int | str] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.done / self.wall_seconds if self.wall_seconds > 0 else 0.0


def crawler_env(proxy: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env.update(PYTHONPATH=str(ROOT), http_proxy=proxy)
    return env


def finews_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "crawler.cli", *args]


def archived(output: Path) -> int:
    """Rows in ``posts``, read as any reader would while a crawl writes (WAL); 0 before the table exists."""
    path = output / ARCHIVE
    if not path.exists():
        return 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM posts").fetchone()[0])
    except sqlite3.OperationalError:  # the table is not created yet
        return 0
    finally:
        db.close()


def last_run(output: Path) -> dict[str, Any]:
    db = sqlite3.connect(f"file:{output / ARCHIVE}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        return dict(db.execute("SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone())
    finally:
        db.close()


class Round:
    """One round of every run over one site, against one server."""

    def __init__(self, site: StaticSite, server: SiteServer, work: Path, number: int) -> None:
        self.site = site
        self.server = server
        self.work = work / f"round-{number}"
        self.number = number
        self.env = crawler_env(server.proxy_url)

    def _measure(
        self, scenario: str, argv: list[str], stop_when: Callable[[], bool] | None = None
    ) -> tuple[Measured, list[str], float | None]:
        mark = self.server.mark()
        cpu_before = self.server.cpu_seconds()
        measured = run_measured(argv, cwd=self.work, env=self.env, logs=self.work / "logs" / scenario,
                                stop_when=stop_when)
        cpu_after = self.server.cpu_seconds()
        server_cpu = None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
        return measured, [url for url, _status in self.server.requests_since(mark)], server_cpu

    def _row(
        self, scenario: str, measured: Measured, urls: list[str], server_cpu: float | None, done: int, ok: bool,
        note: str = "", **extra: float | int | str,
    ) -> Row:
        return Row(
            posts=self.site.posts, scenario=scenario, round=self.number, wall_seconds=measured.wall_seconds,
            peak_rss_bytes=measured.peak_rss_bytes, requests=len(urls),
            post_pages=sum(1 for url in urls if is_post_url(url)),
            share_texts=sum(1 for url in urls if url.startswith(SHARE_TEXT_URL)),
            done=done, server_cpu_seconds=server_cpu, ok=ok, note=note or _failure(measured), extra=dict(extra),
        )

    def bare(self, share: bool) -> Row:
        scenario = "bare+share" if share else "bare"
        stats_file = self.work / f"{scenario}-stats.json"
        argv = [sys.executable, "-m", "benchmarks.bare", "--stats", str(stats_file), *(["--share"] if share else [])]
        measured, urls, cpu = self._measure(scenario, argv)
        post_pages = sum(1 for url in urls if is_post_url(url))
        ok = measured.returncode == 0 and post_pages == self.site.posts
        return self._row(scenario, measured, urls, cpu, post_pages, ok)

    def crawl(self, scenario: str = "crawl", *settings: str, workers: int = 1) -> Row:
        output = self._fresh(scenario)
        options = [option for setting in settings for option in ("-s", setting)]
        if workers > 1:
            options += ["--workers", str(workers)]
        measured, urls, cpu = self._measure(scenario, finews_argv("crawl", "--output", str(output), *options))
        held = archived(output)
        ok = measured.returncode == 0 and held == self.site.valid_posts
        return self._row(scenario, measured, urls, cpu, sum(1 for url in urls if is_post_url(url)), ok,
                         archived=held)

    def incremental(self) -> Row:
        output = self.work / "crawl"
        measured, urls, cpu = self._measure("incremental", finews_argv("crawl", "--output", str(output)))
        run = last_run(output)
        # Every listed post page skipped: as archived, or (a malformed post's) as rejected.
        skipped = int(run["skipped_known"] or 0) + int(run["skipped_rejected"] or 0)
        ok = measured.returncode == 0 and run["new"] == 0 and skipped == self.site.posts
        return self._row("incremental", measured, urls, cpu, sum(1 for url in urls if is_post_url(url)), ok,
                         skipped_known=int(run["skipped_known"] or 0))

    def export(self) -> Row:
        """The crawl's archive alone, copied to a fresh output, exported: every file is written."""
        output = self._fresh("export")
        output.mkdir(parents=True)
        shutil.copy2(self.work / "crawl" / ARCHIVE, output / ARCHIVE)
        measured, urls, cpu = self._measure("export", finews_argv("export", "--output", str(output)))
        files = sum(1 for _ in (output / POSTS_DIR).iterdir()) if (output / POSTS_DIR).exists() else 0
        ok = measured.returncode == 0 and files == self.site.valid_posts
        return self._row("export", measured, urls, cpu, files, ok)

    def killed_and_resumed(self) -> tuple[Row, Row]:
        output = self._fresh("resume")
        half = int(self.site.valid_posts * KILL_AT)
        killed, urls, cpu = self._measure(
            "killed", finews_argv("crawl", "--output", str(output), "-s", "FINEWS_COMMIT_SECONDS=0"),
            stop_when=lambda: archived(output) >= half,
        )
        at_kill = archived(output)
        killed_row = self._row("killed", killed, urls, cpu, sum(1 for url in urls if is_post_url(url)),
                               killed.stopped and at_kill < self.site.valid_posts, archived_at_kill=at_kill)
        measured, urls, cpu = self._measure("resume", finews_argv("crawl", "--resume", "--output", str(output)))
        held = archived(output)
        pages = [url for url in urls if is_post_url(url)]
        ok = measured.returncode == 0 and held == self.site.valid_posts and len(set(pages)) == len(pages)
        resumed_row = self._row(
            "resume", measured, urls, cpu, len(pages), ok, archived=held,
            refetched=round(len(pages) / self.site.posts, 4), fetched_twice=len(pages) - len(set(pages)),
        )
        return killed_row, resumed_row

    def _fresh(self, name: str) -> Path:
        path = self.work / name
        if path.exists():
            shutil.rmtree(path)
        self.work.mkdir(parents=True, exist_ok=True)
        return path


def _failure(measured: Measured) -> str:
    if measured.returncode == 0 or measured.stopped:
        return ""
    last = (measured.stderr.strip().splitlines() or ["(no output)"])[-1]
    return f"exit {measured.returncode}: {last[:200]}"


def row_json(row: Row) -> dict[str, object]:
    data = {name: getattr(row, name) for name in row.__dataclass_fields__}
    data["per_second"] = round(row.per_second, 2)
    return data
