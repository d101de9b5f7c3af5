"""``python -m benchmarks``: generate replicas, serve them with nginx, and measure every run against bare Scrapy.

    python -m benchmarks --posts 1000 10000 --rounds 3
    python -m benchmarks --posts 100000 --rounds 1

Needs nginx (Debian: ``apt-get install nginx-light``; it is run as a child process on a free loopback
port, never as a service) and psutil (``pip install -e '.[bench]'``). Installs nothing itself.
``--server replica`` uses the replica's own Python server instead: for smoke runs, not for numbers.
Prints the table (Markdown) and the targets; writes every measured run to ``WORK/results.json``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import scrapy

from benchmarks.report import (
    markdown_table,
    save_and_describe,
    targets,
    targets_markdown,
)
from benchmarks.runs import Round, Row
from benchmarks.servers import ServerUnavailable, nginx_binary, start_server
from benchmarks.static_site import static_site

DEFAULT_POSTS = (1_000, 10_000)
SCENARIOS = ("bare", "bare+share", "crawl", "crawl-workers-2", "crawl-unthrottled", "incremental", "export", "resume")
# Runs on the output of ``crawl``.
NEEDS_CRAWL = ("incremental", "export")
DEFAULT_WORK = Path("/tmp/finews-benchmarks")
# Each run, in SCENARIOS' order, on one round.
MEASURES: dict[str, Callable[[Round], list[Row]]] = {
    "bare": lambda bench: [bench.bare(share=False)],
    "bare+share": lambda bench: [bench.bare(share=True)],
    "crawl": lambda bench: [bench.crawl()],
    "crawl-workers-2": lambda bench: [bench.crawl("crawl-workers-2", workers=2)],
    "crawl-unthrottled": lambda bench: [bench.crawl("crawl-unthrottled", "AUTOTHROTTLE_ENABLED=False")],
    "incremental": lambda bench: [bench.incremental()],
    "export": lambda bench: [bench.export()],
    "resume": lambda bench: list(bench.killed_and_resumed()),
}


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    binary = nginx_binary()
    nginx = (subprocess.run([binary, "-v"], capture_output=True, text=True, check=False).stderr.strip()
             if binary else "absent")
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{round(int(Path('/proc/meminfo').read_text().split()[1]) / 1024 / 1024)} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "scrapy": scrapy.__version__,
        "sqlite": sqlite3.sqlite_version,
        "nginx": nginx.removeprefix("nginx version: "),
    }


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(posts: list[int], rounds: int, work: Path, server_kind: str, skip: frozenset[str]) -> tuple[list[Row], str]:
    rows: list[Row] = []
    used = ""
    for count in posts:
        log(f"replica of {count:,} posts: writing static files under {work / f'site-{count}'} (reused if whole)")
        site = static_site(count, work / f"site-{count}")
        with start_server(server_kind, site, work / "nginx") as server:
            used = server.name
            log(f"serving {site.files:,} files with {server.name} on {server.proxy_url}")
            for number in range(1, rounds + 1):
                bench = Round(site, server, work / f"runs-{count}", number)
                for name, measure in MEASURES.items():
                    if name in skip or (name in NEEDS_CRAWL and "crawl" in skip):
                        continue
                    for row in measure(bench):
                        rows.append(row)
                        log(f"{count:,} posts, round {number}: {row.scenario:<11} {row.wall_seconds:7.2f} s "
                            f"{row.per_second:8.0f}/s {row.requests:7} requests "
                            f"{row.peak_rss_bytes / 2**20:6.0f} MB{'' if row.ok else '  FAILED ' + row.note}")
    return rows, used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, nargs="+", default=list(DEFAULT_POSTS), help="site sizes (default 1000 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every run, alternating (default 3)")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"work folder (default {DEFAULT_WORK})")
    parser.add_argument("--server", choices=("nginx", "replica", "auto"), default="nginx",
                        help="nginx (default); replica: the Python replica server (smoke runs only); auto: nginx if installed")
    parser.add_argument("--skip", nargs="*", default=[], choices=SCENARIOS, metavar="RUN",
                        help=f"runs to leave out, of: {', '.join(SCENARIOS)} (resume: the killed run and its resume)")
    args = parser.parse_args(argv)
    if min(args.posts) < 9 or args.rounds < 1:
        parser.error("--posts must be at least 9 and --rounds at least 1")
    args.work.mkdir(parents=True, exist_ok=True)
    try:
        rows, used = run(args.posts, args.rounds, args.work.resolve(), args.server, frozenset(args.skip))
    except ServerUnavailable as error:
        print(f"benchmarks: {error}", file=sys.stderr)
        return 1
    for line in save_and_describe(args.work, machine(), used, args.rounds, rows):
        print(line)
    print()
    print(markdown_table(rows))
    print()
    print(targets_markdown(targets(rows)))
    return 0 if all(row.ok for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
