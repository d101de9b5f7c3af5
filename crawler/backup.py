"""``finews backup``: an online, consistent copy of the archive, safe while a crawl writes to it.

``cp archive.db`` during a crawl can copy a torn file: SQLite in WAL mode keeps recent commits in
``archive.db-wal`` until a checkpoint, and a copy of one file without the other is an older or broken
database. SQLite's backup API reads the archive as any reader does, inside one read transaction (one
step: every page at once), so the copy is the archive as of one commit, whatever the crawl does meanwhile.
The post files are written from the copy's rows, not copied from ``_posts``, so that they are the files of
exactly the posts in the copy (a file the crawl wrote after the snapshot would belong to no row). The WARC
files are copied after the snapshot, each closed in the copy: the file being written as far as its
complete records go, which holds every record the snapshot's pages index points at.
"""

from __future__ import annotations

import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from crawler.faults import storage_fault
from crawler.output import CrawlError, make_output_folder
from pipelines.archive import ARCHIVE_FILE, connect_read_only
from pipelines.export import export_frontmatter
from pipelines.frontmatter import POSTS_DIR
from pipelines.warc import OPEN_SUFFIX, WARC_DIR, WARC_SUFFIX, complete_length

PARTIAL_BACKUP = ".tmp-archive.db"


@dataclass(frozen=True)
class BackupSummary:
    archive: Path
    posts: int
    size: int
    files: int | None
    warc_files: int = 0
    warc_size: int = 0

    def line(self) -> str:
        files = f", {self.files} post files in {self.archive.parent / POSTS_DIR}" if self.files is not None else ""
        return (f"backed up {self.posts} posts to {self.archive} ({self.size / 1_048_576:.1f} MB, integrity ok)"
                f", {self.warc_files} WARC files ({self.warc_size / 1_048_576:.1f} MB){files}")


def backup(output: Path, destination: Path, with_posts: bool = False) -> BackupSummary:
    """Copy ``output``'s archive into ``destination`` (a new or empty folder), check the copy, and with
    ``with_posts`` write the copy's post files beside it. Raises CrawlError in one line."""
    source = output / ARCHIVE_FILE
    if not source.is_file():
        raise CrawlError(f"no archive at {source}")
    created = not destination.exists()
    make_output_folder(destination)
    if any(destination.iterdir()):
        raise CrawlError(f"{destination} is not empty: a backup goes into a new or empty folder")
    partial = destination / PARTIAL_BACKUP
    target = destination / ARCHIVE_FILE
    try:
        posts = _copy_checked(source, partial)
        # After the snapshot: every record its index points at was written before it was committed.
        warc_files, warc_size = _copy_warc(output / WARC_DIR, destination / WARC_DIR)
        partial.replace(target)
        files = export_frontmatter(destination).written if with_posts else None
    except (OSError, sqlite3.Error) as error:
        # Nothing half-made is left to pass for a backup: the folder goes too, if this made it.
        shutil.rmtree(destination / POSTS_DIR, ignore_errors=True)
        shutil.rmtree(destination / WARC_DIR, ignore_errors=True)
        target.unlink(missing_ok=True)
        if created:
            shutil.rmtree(destination, ignore_errors=True)
        raise CrawlError(f"backup into {destination} failed: {storage_fault(error, partial) or error}") from None
    finally:
        partial.unlink(missing_ok=True)
    return BackupSummary(target, posts, target.stat().st_size, files, warc_files, warc_size)


def _copy_warc(source: Path, copy: Path) -> tuple[int, int]:
    """Every WARC file, closed in the copy: the one a crawl is writing is copied as far as its complete
    records go (it may be closed meanwhile: then its final version is copied). Returns (files, bytes)."""
    if not source.is_dir():
        return 0, 0
    copy.mkdir()
    count = size = 0
    for path in sorted(source.iterdir()):
        name = path.name.removesuffix(OPEN_SUFFIX)
        if not name.endswith(WARC_SUFFIX):
            continue
        try:
            shutil.copyfile(path, copy / name)
        except FileNotFoundError:
            if not (source / name).is_file():
                raise
            shutil.copyfile(source / name, copy / name)  # closed (renamed) while listed
        with open(copy / name, "r+b") as stream:
            stream.truncate(complete_length(copy / name))
        count, size = count + 1, size + (copy / name).stat().st_size
    return count, size


def _copy_checked(source: Path, copy: Path) -> int:
    """The archive as of one commit, into ``copy``; its post count once the copy passes integrity_check."""
    reader = connect_read_only(source)
    writer = sqlite3.connect(copy)
    try:
        reader.backup(writer)  # pages=-1: one step, one read transaction, one snapshot
        # A copy that can be handed on without its -wal file: everything in the main file.
        writer.execute("PRAGMA journal_mode = DELETE")
        problems = [row[0] for row in writer.execute("PRAGMA integrity_check")]
        if problems != ["ok"]:
            raise CrawlError(f"the copy failed integrity_check: {problems[0]}")
        return writer.execute("SELECT count(*) FROM posts").fetchone()[0]
    finally:
        writer.close()
        reader.close()
