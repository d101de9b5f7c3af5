"""An archive as an older finews left it: the frozen migrations up to a version applied, as they were recorded;
and the schema each version was released with (tests/released_schemas.json), to check that they still make it.

``python -m tests.older_archive`` records the schema of each version not recorded yet (a new migration's,
once it is final); a recorded version is never rewritten: a released migration is never edited.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
from pathlib import Path

from pipelines.migrations import MIGRATIONS
from pipelines.schema import MIGRATIONS_TABLE, create_migrations_table
from pipelines.sqlite_utils_lean import sqlite_utils

RELEASED_SCHEMAS = Path(__file__).with_name("released_schemas.json")
# The tables FTS5 makes for an index: SQLite's own, and SQLite's version may change their SQL.
_FTS5_SHADOWS = ("data", "idx", "content", "docsize", "config")


def archive_at_version(path: Path, version: int) -> sqlite_utils.Database:
    """A new archive at ``path`` with migrations 1 to ``version`` applied and recorded (open: add rows)."""
    db = sqlite_utils.Database(path)
    create_migrations_table(db)
    for number, (name, apply) in enumerate(MIGRATIONS[:version], start=1):
        apply(db)
        db[MIGRATIONS_TABLE].insert({"name": name, "applied_at": "2021-12-27T00:00:00+00:00"})
        db.execute(f"PRAGMA user_version = {number}")
    return db


def master(conn: sqlite3.Connection) -> dict[str, list[str | None]]:
    """sqlite_master by name, [type, table, SQL], without the FTS5 shadow tables."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    virtual = [name for kind, name, _table, sql in rows if kind == "table" and (sql or "").startswith("CREATE VIRTUAL")]
    shadows = {f"{name}_{suffix}" for name in virtual for suffix in _FTS5_SHADOWS}
    return {name: [kind, table, sql] for kind, name, table, sql in rows if name not in shadows}


def _recorded() -> dict[str, dict[str, list[str | None] | None]]:
    return json.loads(RELEASED_SCHEMAS.read_text(encoding="utf-8"))["versions"]


def released_master(version: int) -> dict[str, list[str | None]] | None:
    """``master()`` of an archive at ``version`` as that version was released; None when not recorded."""
    recorded = _recorded()
    if str(version) not in recorded:
        return None
    schema: dict[str, list[str | None]] = {}
    for number in range(1, version + 1):
        for name, row in recorded[str(number)].items():  # what migration ``number`` added, changed (or dropped)
            if row is None:
                del schema[name]
            else:
                schema[name] = row
    return schema


def record_released_schemas() -> list[int]:
    """Record the schema of every version not recorded yet; returns their numbers."""
    document = json.loads(RELEASED_SCHEMAS.read_text(encoding="utf-8"))
    added = []
    with tempfile.TemporaryDirectory() as folder:
        for version in range(len(document["versions"]) + 1, len(MIGRATIONS) + 1):
            db = archive_at_version(Path(folder) / f"{version}.db", version)
            now, before = master(db.conn), released_master(version - 1) or {}
            db.close()
            change: dict[str, list[str | None] | None] = {
                name: row for name, row in now.items() if before.get(name) != row
            }
            change |= {name: None for name in before if name not in now}
            document["versions"][str(version)] = change
            RELEASED_SCHEMAS.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
            added.append(version)
    return added


if __name__ == "__main__":
    print("recorded versions:", record_released_schemas() or "none (every version is recorded)", file=sys.stderr)
