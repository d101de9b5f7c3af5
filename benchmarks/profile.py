"""Where a crawl's time goes, per post: ``finews crawl`` of a static replica under py-spy, summarised.

    python -m benchmarks.profile --posts 2000 [--set NAME=VALUE ...] [--raw FILE]
    python -m benchmarks.profile --posts 2000 --baseline     # bare Scrapy with the same requests, for comparison

Needs py-spy (``pip install -e '.[bench]'``) and nginx, as ``python -m benchmarks`` does. py-spy samples
the crawl's process from outside (no instrumentation, so the crawl runs at its own speed); each sample's
stack is put in the first category below whose pattern it holds, and the table gives each category's
milliseconds per post page (and share of the samples).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks.runs import crawler_env, finews_argv
from benchmarks.servers import ServerUnavailable, start_server
from benchmarks.static_site import static_site

RATE = 250  # samples a second
# (category, any of these in the stack), the first that matches wins: our code first, then Scrapy's parts.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("startup: imports, settings, opening the archive", ("<frozen importlib", "Archive.open", "migrate (")),
    ("archive commits (grouped)", ("Archive.commit",)),
    ("store: posts, frontier, run counts (SQLite)", ("pipelines/store.py", "plan_links")),
    ("front-matter files", ("pipelines/frontmatter.py",)),
    ("page objects and the record: fields, text, source, editor, hash", ("crawler/pages/", "crawler/record.py")),
    ("dedupe and validate", ("pipelines/dedupe.py", "pipelines/validate.py")),
    ("pages kept in the archive (pagestore)", ("crawler/pagestore.py",)),
    ("spider: post page parsing", ("parse_post (crawler/spiders",)),
    ("spider: listings and feed", ("parse_listing (crawler/spiders", "parse_feed (crawler/spiders")),
    ("spider: share text, other", ("crawler/spiders/", "crawler/sharetext.py")),
    ("bare spider's callbacks", tuple(f"{name} (benchmarks/bare.py" for name in
                                      ("parse_post", "parse_listing", "parse_feed", "parse_share", "_follow"))),
    ("scrapy: download (HTTP client, downloader middlewares)", ("scrapy/core/downloader", "twisted/web/", "http11.py")),
    ("scrapy: scheduler and disk queue (JOBDIR)", ("scrapy/core/scheduler", "squeues.py", "queuelib/", "dupefilters")),
    ("scrapy: spider middlewares", ("scrapy/core/spidermw", "spidermiddlewares/")),
    ("scrapy: item pipeline machinery", ("scrapy/pipelines/",)),
    ("scrapy: engine, scraper, signals", ("scrapy/core/", "scrapy/signalmanager", "scrapy/utils/signal")),
    ("event loop, Twisted, other", ("",)),
)
# A worker thread's wait for work is idle time, not the crawl's.
IDLE = ("Condition.wait", "_threadworker.py")


def categorize(raw: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, number = line.rpartition(" ")
        if not number.isdigit() or any(mark in stack for mark in IDLE):
            continue
        category = next(name for name, patterns in CATEGORIES if any(pattern in stack for pattern in patterns))
        counts[category] += int(number)
    return counts


def table(counts: Counter[str], posts: int) -> str:
    total = sum(counts.values())
    lines = ["| where | ms per post | share |", "|---|---:|---:|"]
    for name, _patterns in CATEGORIES:
        if counts[name]:
            lines.append(f"| {name} | {counts[name] / RATE / posts * 1000:.2f} | {counts[name] / total:.1%} |")
    lines.append(f"| **all** | **{total / RATE / posts * 1000:.2f}** | 100% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/finews-benchmarks"))
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="a setting for the crawl")
    parser.add_argument("--raw", type=Path, default=None, help="keep py-spy's raw stacks here")
    parser.add_argument("--baseline", action="store_true",
                        help="profile the bare+share spider (benchmarks/bare.py --share) instead of finews crawl")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        print("benchmarks.profile: py-spy is not installed: pip install -e '.[bench]'", file=sys.stderr)
        return 1
    work = args.work.resolve()
    site = static_site(args.posts, work / f"site-{args.posts}")
    raw = args.raw or work / f"profile-{args.posts}{'-bare' if args.baseline else ''}.txt"
    output = work / f"profile-{args.posts}-output"
    if output.exists():
        shutil.rmtree(output)
    try:
        server = start_server("nginx", site, work / "nginx-profile")
    except ServerUnavailable as error:
        print(f"benchmarks.profile: {error}", file=sys.stderr)
        return 1
    with server:
        options = [option for setting in args.set for option in ("-s", setting)]
        if args.baseline:
            profiled = [sys.executable, "-m", "benchmarks.bare", "--share", "--stats", str(work / "profile-stats.json")]
        else:
            profiled = finews_argv("crawl", "--output", str(output), *options)
        command = [py_spy, "record", "--rate", str(RATE), "--format", "raw", "--output", str(raw), "--", *profiled]
        result = subprocess.run(command, env=crawler_env(server.proxy_url), cwd=work, capture_output=True, text=True,
                                check=False)
    if result.returncode != 0:
        print(result.stderr[-2000:], file=sys.stderr)
        return 1
    print(next((line for line in result.stdout.splitlines() if line.startswith("run ")), "(the bare spider)"))
    print(table(categorize(raw), site.posts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
