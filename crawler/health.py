"""What the archive says of its own health, read without writing: ``finews status --json`` and
``--metrics``, and ``finews check``, all read it here.

Opened read-only (``mode=ro``): a monitor runs beside a crawl, as another user, on a read-only mount of a
backup, and never migrates, locks or creates anything. Free of Scrapy, so a check every minute is cheap.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.lock import LOCK_FILE, lock_holder
from pipelines.archive import ARCHIVE_FILE, connect_read_only
from pipelines.frontmatter import POSTS_DIR
from pipelines.schema import CRAWL_RUNS, POST_CHANGES, POSTS
from pipelines.warc import WARC_DIR, warc_totals

# How a run marked running that no live process holds is shown: its process died (kill -9, power loss).
ABANDONED = "abandoned"


class HealthUnknown(RuntimeError):
    """The archive cannot be read: no health can be told (Nagios UNKNOWN)."""


@dataclass(frozen=True)
class ArchiveFacts:
    path: Path
    size_bytes: int
    schema_version: int
    posts: int
    rejects: int
    frontier: int
    revisions: int
    post_files: int
    last_change_seq: int | None
    last_first_seen_at: str | None
    warc_files: int  # closed ones, in warc/
    warc_files_open: int  # being written, or left by a killed run
    warc_bytes: int
    crawl_pid: int | None  # None: no crawl runs; 0: one runs, its pid unknown
    runs: list[dict[str, Any]]  # newest first, every crawl_runs column, and ``shown_status``


def shown_status(run: dict[str, Any], crawl_running: bool) -> str:
    """A run still marked ``running`` when no process holds the lock belongs to a process that died:
    ``abandoned``. Only the next crawl, holding the lock, records it ``interrupted``."""
    if run["status"] == "running" and not crawl_running:
        return ABANDONED
    return run["status"]


def archive_size(path: Path) -> int:
    """The archive's bytes on disk, its WAL included."""
    return sum(part.stat().st_size for part in path.parent.glob(path.name + "*") if part.is_file())


def read_facts(output: Path, runs: int) -> ArchiveFacts:
    path = output / ARCHIVE_FILE
    if not path.is_file():
        raise HealthUnknown(f"no archive at {path}")
    pid = lock_holder(output / LOCK_FILE)
    try:
        db = connect_read_only(path, isolation_level=None)
    except sqlite3.Error as error:
        raise HealthUnknown(f"archive {path} cannot be read: {error}") from None
    db.row_factory = sqlite3.Row
    try:
        db.execute("BEGIN")  # one snapshot for every figure
        counts = {table: db.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]
                  for table in (POSTS.name, "rejects", "frontier", "post_revisions")}
        version = db.execute("PRAGMA user_version").fetchone()[0]
        first_seen = db.execute(f"SELECT max(first_seen_at) FROM {POSTS.name}").fetchone()[0]
        try:
            last_change = db.execute(f"SELECT last FROM {POST_CHANGES.name}").fetchone()[0]
        except sqlite3.OperationalError:  # an archive from before the change feed
            last_change = None
        rows = [dict(row) for row in db.execute(f"SELECT * FROM {CRAWL_RUNS.name} ORDER BY id DESC LIMIT ?", [runs])]
        db.execute("COMMIT")
    except sqlite3.Error as error:
        raise HealthUnknown(f"archive {path} cannot be read: {error}") from None
    finally:
        db.close()
    for row in rows:
        row["shown_status"] = shown_status(row, pid is not None)
    posts_dir = output / POSTS_DIR
    files = sum(1 for entry in posts_dir.iterdir() if entry.is_file()) if posts_dir.is_dir() else 0
    warc = warc_totals(output / WARC_DIR)
    return ArchiveFacts(
        path=path, size_bytes=archive_size(path), schema_version=version, posts=counts[POSTS.name],
        rejects=counts["rejects"], frontier=counts["frontier"], revisions=counts["post_revisions"], post_files=files,
        last_change_seq=last_change, last_first_seen_at=first_seen, warc_files=warc.closed,
        warc_files_open=warc.open, warc_bytes=warc.size_bytes, crawl_pid=pid, runs=rows,
    )
