"""``finews export``: regenerate files from the archive alone, so ``_posts`` can always be rebuilt.

Idempotent: a file whose bytes would not change is not touched (not even its mtime), so a second
export changes nothing and a `git diff` of an exported tree shows only real changes.
"""

from __future__ import annotations

import contextlib
import filecmp
import io
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.items import PostItem
from crawler.lock import LOCK_FILE, CrawlLock
from crawler.output import CrawlError, mirror_output, storage_error
from pipelines.archive import ARCHIVE_FILE, connect_read_only, item_from_row
from pipelines.files import create_partial, write_atomically
from pipelines.frontmatter import POSTS_DIR, file_name_of, path_inside, post_file_text
from pipelines.public import JSONL_FILE, public_line, public_posts
from pipelines.warc import WARC_DIR, WARC_SUFFIX, seal_interrupted

FORMATS = ("frontmatter", "jsonl", "wacz")
# The captures packaged for web archive tools (ReplayWeb.page opens it as it is): OUTPUT/finews.wacz.
WACZ_FILE = "finews.wacz"
# The post pages' capture, with their titles: the WACZ's pages/pages.jsonl.
_WACZ_PAGES_SQL = """SELECT posts.title, pages.url, pages.warc_date FROM posts JOIN pages ON pages.url = posts.post_url
    WHERE pages.warc_file IS NOT NULL AND (? IS NULL OR posts.published_at >= ?) ORDER BY posts.published_at, pages.url"""


@dataclass(frozen=True)
class ExportSummary:
    posts: int
    written: int
    unchanged: int
    target: Path

    def line(self) -> str:
        return f"{self.posts} posts exported to {self.target}: {self.written} written, {self.unchanged} unchanged"


def archived_posts(archive_path: Path, since: str | None = None) -> Iterator[PostItem]:
    """Posts in publication order, streamed (a 100k archive is never loaded whole)."""
    db = sqlite3.connect(f"file:{archive_path}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        where, params = ("WHERE published_at >= ?", [since]) if since else ("", [])
        for row in db.execute(f"SELECT * FROM posts {where} ORDER BY published_at, info_code", params):
            yield item_from_row(dict(row))
    finally:
        db.close()


def _write_if_changed(path: Path, text: str, existing: set[str]) -> bool:
    """Write ``text`` unless the file already holds exactly it; ``existing``: the folder's names at the start
    (listed once, so that a fresh export does not try to open every file first)."""
    if path.name in existing:
        try:
            if path.read_bytes() == text.encode("utf-8"):
                return False
        except FileNotFoundError:
            pass
    write_atomically(path, text)
    return True


def export_frontmatter(output: Path, since: str | None = None) -> ExportSummary:
    posts_dir = output / POSTS_DIR
    posts_dir.mkdir(parents=True, exist_ok=True)
    existing = {entry.name for entry in os.scandir(posts_dir)}
    posts = written = 0
    for item in archived_posts(output / ARCHIVE_FILE, since):
        posts += 1
        written += _write_if_changed(path_inside(posts_dir, file_name_of(item)), post_file_text(item), existing)
    return ExportSummary(posts, written, posts - written, posts_dir)


def export_jsonl(output: Path, since: str | None = None) -> ExportSummary:
    """Every post's public record (pipelines/public.py), a line each, streamed to a temporary file that
    replaces the old one only if it differs."""
    target = output / JSONL_FILE
    posts = 0
    handle, temporary = create_partial(output, ".jsonl")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as file:
            db = connect_read_only(output / ARCHIVE_FILE)
            try:
                for record in public_posts(db, since):
                    file.write(public_line(record))
                    posts += 1
            finally:
                db.close()
        changed = not (target.exists() and filecmp.cmp(temporary, target, shallow=False))
        if changed:
            os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return ExportSummary(posts, int(changed), int(not changed), target)


def export_wacz(output: Path, since: str | None = None) -> ExportSummary:
    """The WARC files packaged as a WACZ (webrecorder's ``wacz`` makes it: the WARC files, a CDXJ index, a
    datapackage with every file's hash), with ``pages/pages.jsonl`` listing each archived post page's
    capture and title. Written under a temporary name, then renamed over the old one."""
    try:
        from wacz.main import main as wacz_main  # an extra: only this format needs it
    except ImportError:
        raise CrawlError("--format wacz needs the wacz package: pip install 'finews-archive[wacz]'") from None
    warc_dir = output / WARC_DIR
    warcs = []
    if warc_dir.is_dir():
        seal_interrupted(warc_dir)  # a killed run's file, closed (the lock is ours)
        warcs = sorted(str(path) for path in warc_dir.glob(f"*{WARC_SUFFIX}"))
    if not warcs:
        raise CrawlError(f"no WARC files in {warc_dir}: nothing to package (a crawl writes them)")
    target = output / WACZ_FILE
    handle, pages = create_partial(output, ".jsonl")
    partial = pages.with_suffix(".wacz")
    posts = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as file:
            file.write(json.dumps({"format": "json-pages-1.0", "id": "pages", "title": "Post pages"}) + "\n")
            db = connect_read_only(output / ARCHIVE_FILE)
            try:
                for title, url, date in db.execute(_WACZ_PAGES_SQL, [since, since]):
                    file.write(json.dumps({"url": url, "ts": date, "title": title}, ensure_ascii=False) + "\n")
                    posts += 1
            finally:
                db.close()
        with contextlib.redirect_stdout(io.StringIO()) as said:
            failed = wacz_main(["create", "-o", str(partial), "-p", str(pages), "--title", "finews archive", *warcs])
        if failed:
            raise CrawlError(f"wacz could not package {warc_dir}: {said.getvalue().strip()[-300:]}")
        os.replace(partial, target)
    finally:
        pages.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return ExportSummary(posts, 1, 0, target)


def export(output: Path, format: str = "frontmatter", since: str | None = None) -> ExportSummary:
    if not (output / ARCHIVE_FILE).exists():
        raise FileNotFoundError(f"no archive at {output / ARCHIVE_FILE}")
    if format == "wacz":
        return export_wacz(output, since)
    return export_frontmatter(output, since) if format == "frontmatter" else export_jsonl(output, since)


def run_export(output: Path, format: str = "frontmatter", since: str | None = None) -> ExportSummary:
    """``export`` holding the output's lock (CrawlLocked while a crawl runs: it would race its writes), after
    making ``_posts`` mirror the archive (no file of a row the archive lacks, none missing).
    Raises CrawlError, in one line, when the archive is missing or unreadable or the output unwritable."""
    if not (output / ARCHIVE_FILE).is_file():
        raise CrawlError(f"no archive at {output / ARCHIVE_FILE}")
    with CrawlLock(output / LOCK_FILE):
        mirror_output(output)
        try:
            return export(output, format, since)
        except (OSError, sqlite3.Error) as error:
            raise storage_error(error, output) from None
