"""``finews export``: regenerate files from the archive alone, so ``_posts`` can always be rebuilt.

Idempotent: a file whose bytes would not change is not touched (not even its mtime), so a second
export changes nothing and a `git diff` of an exported tree shows only real changes.
"""

from __future__ import annotations

import filecmp
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from crawler.items import PostItem
from crawler.lock import LOCK_FILE, CrawlLock
from crawler.output import CrawlError, mirror_output, storage_error
from pipelines.archive import ARCHIVE_FILE, item_from_row
from pipelines.files import create_partial, write_atomically
from pipelines.frontmatter import POSTS_DIR, file_name_of, path_inside, post_file_text
from pipelines.public import JSONL_FILE, public_line, public_posts

FORMATS = ("frontmatter", "jsonl")


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
            db = sqlite3.connect(f"file:{output / ARCHIVE_FILE}?mode=ro", uri=True)
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


def export(output: Path, format: str = "frontmatter", since: str | None = None) -> ExportSummary:
    if not (output / ARCHIVE_FILE).exists():
        raise FileNotFoundError(f"no archive at {output / ARCHIVE_FILE}")
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
