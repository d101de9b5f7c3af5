"""What the distributed crawl's encoding costs per record, against the pickle it replaced (the baseline).

    python -m benchmarks.codec [--posts 200] [--repeat 30]

Every post page of a replica of ``--posts`` synthetic posts, read as a worker reads it (a ``PostItem`` with
its raw page), and its ``FetchedPage`` (the page as received, for the archive's ``pages``): for each kind,
the bytes a record takes in Redis and the microseconds to encode and to decode it, the best of ``--repeat``
passes, with crawler/distributed/records.py and with ``pickle``. Also the frontier's post request.
"""

from __future__ import annotations

import argparse
import pickle
import time
from collections.abc import Callable, Sequence
from typing import Any

import scrapy

from crawler.distributed import request_codec
from crawler.distributed.records import decode_record, encode_record
from crawler.pages.post import read_post_page
from crawler.postfile import parse_post_file
from crawler.record import ShareOutcome, post_item
from crawler.replica.generate import generate_site
from crawler.replica.render import SITE_HOST, render_site
from pipelines.archive import FetchedPage


def best_microseconds(work: Callable[[], Any], count: int, repeat: int) -> float:
    """The fastest of ``repeat`` passes of ``work`` (over ``count`` items), per item."""
    fastest = float("inf")
    for _pass in range(repeat):
        started = time.perf_counter()
        work()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest / count * 1e6


def row(name: str, records: Sequence[Any], repeat: int) -> str:
    encoded = [encode_record(record) for record in records]
    highest = pickle.HIGHEST_PROTOCOL
    pickled = [pickle.dumps(record, pickle.HIGHEST_PROTOCOL) for record in records]
    assert [decode_record(entry) for entry in encoded] == list(records)
    count = len(records)
    return (
        f"| {name} | {count} | {sum(map(len, encoded)) // count} | {sum(map(len, pickled)) // count} "
        f"| {best_microseconds(lambda: [encode_record(r) for r in records], count, repeat):.1f} "
        f"| {best_microseconds(lambda: [pickle.dumps(r, highest) for r in records], count, repeat):.1f} "
        f"| {best_microseconds(lambda: [decode_record(e) for e in encoded], count, repeat):.1f} "
        f"| {best_microseconds(lambda: [pickle.loads(e) for e in pickled], count, repeat):.1f} |"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.codec", description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=200, help="synthetic posts (default 200)")
    parser.add_argument("--repeat", type=int, default=30, help="passes, the best kept (default 30)")
    args = parser.parse_args(argv)
    site = generate_site(args.posts)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    post_pages, fetched = [], []
    for (host, path), page in pages.items():
        if host == SITE_HOST and path.count("/") == 5 and path.endswith(".html"):
            url = f"http://{host}{path}"
            post_pages.append(post_item(read_post_page(url, page.body, page.content_type), ShareOutcome(), page.body))
            fetched.append(FetchedPage(url, 200, {"Content-Type": [page.content_type]}, page.body, "parse_post",
                                       "2026-12-05T00:00:00+00:00"))
    print("| record | count | JSON bytes | pickle bytes | encode µs | pickle µs | decode µs | unpickle µs |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print(row("post read (`PostItem`)", post_pages, args.repeat))
    print(row("page as received (`FetchedPage`)", fetched, args.repeat))
    fields = {**scrapy.Request(post_pages[0].post_url, priority=-3).to_dict(), "callback": "parse_post",
              "errback": "post_failed"}
    stored = request_codec.dumps(fields)
    kept = request_codec.loads(stored)
    print(f"\na post request in the frontier: {len(stored)} bytes as JSON, "
          f"{len(pickle.dumps(kept, pickle.HIGHEST_PROTOCOL))} as the pickle of the same fields")

if __name__ == "__main__":
    main()
