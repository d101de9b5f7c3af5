"""An archive as an older finews left it: the migrations up to a version applied, as they were recorded."""

from __future__ import annotations

from pathlib import Path

from pipelines.schema import MIGRATIONS, MIGRATIONS_TABLE
from pipelines.sqlite_utils_lean import sqlite_utils


def archive_at_version(path: Path, version: int) -> sqlite_utils.Database:
    """A new archive at ``path`` with migrations 1 to ``version`` applied and recorded (open: add rows)."""
    db = sqlite_utils.Database(path)
    db[MIGRATIONS_TABLE].create({"name": str, "applied_at": str}, pk="name")
    for number, (name, apply) in enumerate(MIGRATIONS[:version], start=1):
        apply(db)
        db[MIGRATIONS_TABLE].insert({"name": name, "applied_at": "2021-12-27T00:00:00+00:00"})
        db.execute(f"PRAGMA user_version = {number}")
    return db
