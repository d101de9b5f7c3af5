"""``python -m benchmarks.extraction``: what reading a post page into its record costs, per page.

    python -m benchmarks.extraction [--posts 2000] [--repeat 5] [--code DIR ...]

Every post page of a replica of ``--posts`` synthetic posts is read into the record a crawl archives (no
share text), ``--repeat`` passes, the best kept. Each ``--code`` checkout (default: this one) is timed in a
process of its own on the same pages, one after another in the order given, so two versions compare in one
run: e.g. the last version before the page objects (``git worktree add /tmp/before bec0fb6``) against
this one. A checkout reads pages with whichever API it has: ``crawler.pages.post.read_post_page`` with
``crawler.record.post_item`` (web-poet page objects), or ``parse_post_page`` with
``pipelines.normalize.normalize_post`` (before them).
"""

from __future__ import annotations

import sys
import time
from typing import Any


def _reader() -> tuple[Any, str]:
    """(url, body, content type) → the record, with the API this checkout has."""
    try:
        from crawler.pages.post import read_post_page
        from crawler.record import ShareOutcome, post_item
    except ImportError:
        from pipelines.normalize import normalize_post  # type: ignore[import-not-found]

        from crawler.pages.post import parse_post_page  # type: ignore[attr-defined]  # the API before page objects

        def read_before(url: str, body: bytes, content_type: str) -> Any:
            return normalize_post(parse_post_page(url, body.decode("utf-8"), body, content_type))

        return read_before, "parse_post_page + normalize_post"

    def read(url: str, body: bytes, content_type: str) -> Any:
        return post_item(read_post_page(url, body, content_type), ShareOutcome(), body)

    return read, "PostPage (web-poet) + post_item"


def measure(posts: int, repeat: int) -> dict[str, Any]:
    """Run in the checkout being measured: microseconds per page, the best pass, and the pages read."""
    from crawler.postfile import parse_post_file
    from crawler.replica.generate import generate_site
    from crawler.replica.render import SITE_HOST, render_site

    site = generate_site(posts)
    rendered = render_site(parse_post_file(name, text) for name, text in site.files)
    pages = [(f"http://{host}{path}", page.body, page.content_type) for (host, path), page in rendered.items()
             if host == SITE_HOST and path.count("/") == 5 and path.endswith(".html")]
    read, api = _reader()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for url, body, content_type in pages:
            read(url, body, content_type)
        best = min(best, time.perf_counter() - started)
    return {"pages": len(pages), "microseconds": best / len(pages) * 1e6, "api": api}


def main(argv: list[str] | None = None) -> int:
    from benchmarks.checkouts import benchmark_main  # here: the child runs this file in a checkout that may lack it

    return benchmark_main(
        __file__, __doc__ or "", ("pages", "µs per page (best of passes)", "reader"),
        lambda figures: (str(figures["pages"]), f"{figures['microseconds']:.0f}", figures["api"]), 5, argv,
    )


if __name__ == "__main__":
    sys.exit(main())
