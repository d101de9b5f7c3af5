"""``python -m benchmarks.pagestore``: what keeping the pages a crawl receives costs, per page and on disk.

    python -m benchmarks.pagestore [--posts 2000] [--repeat 3] [--code DIR ...]

The pages a crawl of a replica of ``--posts`` synthetic posts receives (home page, listings, feed, every
post page and share text) go through ``Archive.save_page`` into a new archive, as a crawl stores them:
grouped, committed every 100 pages (a crawl commits every half second, about 100 pages). ``--repeat``
passes, the best time kept; the bytes are ``archive.db`` and ``warc/`` after a pass. Each ``--code``
checkout is measured in its own process on the same pages, in the order given, so that versions compare in
one run: e.g. the last version before WARC captures (``git worktree add /tmp/before19 60f9078``).
"""

from __future__ import annotations

import inspect
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMMIT_EVERY = 100
FETCHED_AT = "2026-12-05T08:00:00.123456+00:00"
# What Scrapy sends with each request (the WARC request record holds it).
REQUEST_HEADERS = {
    "Accept": ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"], "Accept-Language": ["en"],
    "User-Agent": ["finews-archive/0.1 (news archiver; +https://pypi.org/project/finews-archive/)"],
    "Accept-Encoding": ["gzip, deflate, br, zstd"],
}


def _size(path: Path) -> int:
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def measure(posts: int, repeat: int) -> dict[str, Any]:
    """Run in the checkout being measured: microseconds and bytes per page, the best pass."""
    from crawler.postfile import parse_post_file
    from crawler.replica.generate import generate_site
    from crawler.replica.render import render_site
    from pipelines.archive import Archive, FetchedPage

    site = generate_site(posts)
    rendered = render_site(parse_post_file(name, text) for name, text in site.files)
    with_request = "request_headers" in inspect.signature(FetchedPage).parameters  # since WARC captures
    pages = [
        FetchedPage(f"http://{host}{path}", 200, {"Content-Type": [page.content_type]}, page.body, "parse_post",
                    FETCHED_AT, **({"request_headers": REQUEST_HEADERS} if with_request else {}))
        for (host, path), page in rendered.items()
    ]
    best, stored = float("inf"), 0
    for _ in range(repeat):
        with tempfile.TemporaryDirectory(prefix="finews-pagestore-") as work:
            archive = Archive.open(Path(work) / "archive.db")
            archive.group_commits()
            started = time.perf_counter()
            for number, page in enumerate(pages, start=1):
                archive.save_page(page, 1)
                if number % COMMIT_EVERY == 0:
                    archive.commit()
            archive.close()
            best = min(best, time.perf_counter() - started)
            stored = _size(Path(work))
    return {"pages": len(pages), "microseconds": best / len(pages) * 1e6, "bytes": stored / len(pages)}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.checkouts import benchmark_main  # here: the child runs this file in a checkout that may lack it

    return benchmark_main(
        __file__, __doc__ or "", ("pages", "µs per page (best of passes)", "bytes on disk per page"),
        lambda figures: (str(figures["pages"]), f"{figures['microseconds']:.0f}", f"{figures['bytes']:.0f}"), 3, argv,
    )


if __name__ == "__main__":
    sys.exit(main())
