"""The change feed: the posts changed after a sequence number, for tools that keep a copy of the archive.

A consumer keeps one integer, the last ``change_seq`` it read, and asks for the posts above it
(``finews changes --after SEQ``). Each post comes once, in its latest state, at its latest number, in
the public record's shape (pipelines/public.py) with its ``change_seq``. The numbers come from triggers
(pipelines/schema.py, ``POST_CHANGES``): one writer at a time takes them inside its transaction, so a
number a reader sees is above every number committed before, and a read in one transaction sees a
prefix of the sequence: a consumer that stores the last number it read never misses a change and never
reads one twice, while a crawl writes or not. Free of Scrapy.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipelines.archive import connect_read_only
from pipelines.public import public_post
from pipelines.schema import POST_CHANGES, POST_URLS, POSTS

SEQUENCE = POST_CHANGES.column


@contextmanager
def reading(archive: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection in one read transaction: every query sees the archive as of one commit."""
    db = connect_read_only(archive, isolation_level=None)
    try:
        db.execute("BEGIN")
        yield db
        db.execute("COMMIT")
    finally:
        db.close()


def changed_posts(db: sqlite3.Connection, after: int, limit: int | None = None) -> Iterator[dict[str, Any]]:
    """The public records of the posts whose last change is numbered above ``after``, in sequence order
    (at most ``limit``), streamed."""
    posts = db.cursor()
    posts.row_factory = sqlite3.Row
    urls_sql = f"SELECT * FROM {POST_URLS.name} WHERE info_code = ?"
    rows = posts.execute(
        f"SELECT * FROM {POSTS.name} WHERE {SEQUENCE} > ? ORDER BY {SEQUENCE} LIMIT ?", [after, limit or -1]
    )
    for row in rows:
        urls = db.cursor()
        urls.row_factory = sqlite3.Row
        yield public_post(row, urls.execute(urls_sql, [row["info_code"]]))


def last_sequence(db: sqlite3.Connection) -> int:
    """The number last given to a change (0 for an archive with no post)."""
    return db.execute(f"SELECT last FROM {POST_CHANGES.name} WHERE id = 1").fetchone()[0]
