"""``_posts/`` mirrors ``posts``: one file per row, named by its ``file_name``, and no other post file.

Every command that writes post files (crawl, share, reparse, export) starts and ends with ``mirror_posts``,
holding the output's lock. Whatever happened before (a kill between a file and its row, a file of an
article that moved to its outlet post's name and could not be deleted, a temporary file of a killed write),
the folder then says exactly what the archive says: a Jekyll build of it publishes each article once.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Protocol

from pipelines.archive import item_from_row
from pipelines.files import PARTIAL_FILE_PREFIX, write_atomically
from pipelines.frontmatter import path_inside, post_file_text

# What Jekyll reads as a post in ``_posts``: any other file there is left alone.
POST_SUFFIXES = (".md", ".markdown")


class Executes(Protocol):
    def execute(self, sql: str, parameters: list[str] = ..., /) -> sqlite3.Cursor: ...


def mirror_posts(db: Executes, posts_dir: Path) -> None:
    """Write the file of every row that has none, and remove every post file (and temporary file) that no
    row names. Raises OSError (or sqlite3.Error) when the output cannot be read or written."""
    posts_dir.mkdir(parents=True, exist_ok=True)
    named = {row[0] for row in db.execute("SELECT file_name FROM posts WHERE file_name IS NOT NULL")}
    present: set[str] = set()
    removed: list[str] = []
    with os.scandir(posts_dir) as entries:
        for entry in entries:
            stray = entry.name.startswith(PARTIAL_FILE_PREFIX) or (
                entry.name.endswith(POST_SUFFIXES) and entry.name not in named
            )
            if stray and entry.is_file(follow_symlinks=False):
                removed.append(entry.name)
            elif entry.name in named:
                present.add(entry.name)
    for name in removed:
        (posts_dir / name).unlink(missing_ok=True)
    missing = named - present
    if missing:
        # One pass over the rows (file_name has no index): a whole folder lost is as cheap as one file.
        cursor = db.execute("SELECT * FROM posts")
        columns = [column[0] for column in cursor.description]
        for values in cursor:
            row = dict(zip(columns, values, strict=True))
            if row["file_name"] in missing:
                write_atomically(path_inside(posts_dir, row["file_name"]), post_file_text(item_from_row(row)))
