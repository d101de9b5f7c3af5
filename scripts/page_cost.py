"""What a stored page costs: crawl a site through the replica into a fresh output, then read the archive.

    python3 scripts/page_cost.py            # the real corpus in ../shared (when present) and 300 synthetic posts

Prints, per site: pages stored, bytes as received and as WARC records (gzip per record) per page, the WARC
files' size per page (request records, revisits and warcinfo included), and the bytes the ``pages`` index and
its indexes take in archive.db (SQLite's dbstat), per callback too.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from crawler.postfile import parse_post_file  # noqa: E402 (after the path is set)
from crawler.replica.generate import generate_site  # noqa: E402
from crawler.replica.render import Page, PageKey, render_site  # noqa: E402
from crawler.replica.server import ReplicaServer  # noqa: E402
from tests.shared import CORPUS, RENDERED_SITE  # noqa: E402
from tests.sites import static_pages  # noqa: E402

SYNTHETIC_POSTS = 300


def crawl(pages: Mapping[PageKey, Page], output: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env["PYTHONPATH"] = str(ROOT)
    with ReplicaServer(pages) as server:
        env["http_proxy"] = server.proxy_url
        subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "--output", str(output), "-q"], env=env,
                       check=True)


def report(name: str, archive: Path) -> None:
    db = sqlite3.connect(archive)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    count, received, stored = db.execute("SELECT count(*), sum(size), sum(warc_length) FROM pages").fetchone()
    objects = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'pages'")]
    marks = ", ".join("?" for _name in objects)
    on_disk = db.execute(f"SELECT sum(pgsize) FROM dbstat WHERE name IN ({marks})", objects).fetchone()[0]
    warc = sum(path.stat().st_size for path in (archive.parent / "warc").iterdir())
    print(f"{name}: {count} pages; per page {received / count:.0f} B received, {stored / count:.0f} B as a response "
          f"record (x{received / stored:.2f}), {warc / count:.0f} B of WARC files, {on_disk / count:.0f} B of index")
    for callback, pages, size, compressed in db.execute(
        "SELECT callback, count(*), avg(size), avg(warc_length) FROM pages GROUP BY callback ORDER BY callback"
    ):
        print(f"    {callback or 'robots.txt'}: {pages} pages, {size:.0f} B -> {compressed:.0f} B")
    db.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as work:
        if RENDERED_SITE.is_dir():
            crawl(static_pages(RENDERED_SITE, CORPUS / "rendered" / "share"), Path(work, "corpus"))
            report("real corpus", Path(work, "corpus", "archive.db"))
        site = generate_site(SYNTHETIC_POSTS)
        crawl(render_site(parse_post_file(name, text) for name, text in site.files), Path(work, "synthetic"))
        report(f"{SYNTHETIC_POSTS} synthetic posts", Path(work, "synthetic", "archive.db"))


if __name__ == "__main__":
    main()
