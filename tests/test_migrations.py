"""The frozen migrations (pipelines/migrations.py) against the schema's definitions (pipelines/schema.py):
each migration still makes the schema it was released with, an archive at any earlier version upgrades to
exactly what a new archive is, rows and all, and the definitions say what the migrations make."""

from __future__ import annotations

import ast
import re
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines import migrations
from pipelines.archive import Archive
from pipelines.schema import (
    _SQL_TYPES,
    MIGRATIONS_TABLE,
    POST_CHANGES,
    SCHEMA_VERSION,
    SEARCH_INDEXES,
    TABLES,
    VIEWS,
)
from tests.older_archive import archive_at_version, master, released_master
from tests.schema_shape import schema_differences, schema_shape

# Bookkeeping, not rows of ours (nor are the FTS5 index and its shadow tables: filled_tables).
_NOT_FILLED = (MIGRATIONS_TABLE, POST_CHANGES.name)
_VALUES = {"INTEGER": 7, "REAL": 1.5, "BLOB": b"\x00\xff"}


def fresh_archive(path: Path) -> sqlite3.Connection:
    Archive.open(path).close()
    return sqlite3.connect(path)


def filled_tables(shape: dict[str, dict]) -> list[str]:
    """The tables of a schema_shape that hold rows of ours."""
    virtual = tuple(name + "_" for name, entry in shape.items() if (entry["sql"] or "").startswith("CREATE VIRTUAL"))
    return [name for name, entry in shape.items() if entry["type"] == "table" and name not in _NOT_FILLED
            and not entry["sql"].startswith("CREATE VIRTUAL") and not name.startswith(virtual)]


def add_rows(conn: sqlite3.Connection) -> dict[str, dict[int, dict]]:
    """Two rows in every table there is, a value in every column it has; returns them as stored, by rowid."""
    stored = {}
    for table in filled_tables(schema_shape(conn)):
        columns = [(name, kind) for _cid, name, kind, _notnull, _default, _pk, hidden
                   in conn.execute(f"PRAGMA table_xinfo([{table}])") if hidden == 0]
        for number in range(2):
            row = {name: f"{table}.{name}.{number}" if kind == "TEXT" else
                   number + 1 if kind == "INTEGER" else _VALUES[kind] for name, kind in columns}
            if table == "posts":  # values no migration rewrites, and text the search index is asked for
                row |= {"share_status": "ok", "body_origin": "share", "title": f"央行宣布降准{number}",
                        "body_text": f"下调存款准备金率{number}",
                        "published_at": f"2021-12-2{number}T01:36:14+08:00"}
            conn.execute(f"INSERT INTO [{table}] ({', '.join(f'[{name}]' for name in row)}) "
                         f"VALUES ({', '.join('?' for _ in row)})", list(row.values()))
        cursor = conn.execute(f"SELECT rowid AS row_id, * FROM [{table}]")
        names = [column[0] for column in cursor.description]
        stored[table] = {row[0]: dict(zip(names[1:], row[1:], strict=True)) for row in cursor}
    conn.commit()
    return stored


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_archive_at_an_earlier_version_upgrades_to_a_new_archive_keeping_its_rows(version, tmp_path):
    path = tmp_path / "archive.db"
    db = archive_at_version(path, version)
    # The archive at that version is the one released: its migrations were not edited since.
    assert master(db.conn) == released_master(version), f"migrations 1 to {version} were edited after release"
    rows = add_rows(db.conn)
    db.close()

    Archive.open(path).close()

    upgraded, new = sqlite3.connect(path), fresh_archive(tmp_path / "new.db")
    assert schema_differences(schema_shape(upgraded), schema_shape(new)) == []
    assert upgraded.execute("PRAGMA user_version").fetchone() == new.execute("PRAGMA user_version").fetchone()
    applied = f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name"
    assert upgraded.execute(applied).fetchall() == new.execute(applied).fetchall()
    for table, stored in rows.items():
        for rowid, row in stored.items():
            cursor = upgraded.execute(f"SELECT * FROM [{table}] WHERE rowid = ?", [rowid])
            after = dict(zip((column[0] for column in cursor.description), cursor.fetchone(), strict=True))
            assert {name: after[name] for name in row} == row, f"{table} row {rowid}"
    # What later migrations made covers the old rows: the search index, the change feed.
    found = upgraded.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH '\"存款准备金\"' ORDER BY rowid")
    assert [rowid for (rowid,) in found] == sorted(rows["posts"])
    upgraded.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")
    assert upgraded.execute("SELECT count(*) FROM posts WHERE change_seq IS NULL").fetchone()[0] == 0
    upgraded.close()
    new.close()


def test_a_body_from_the_page_before_011_is_named_page_html_and_the_change_feed_says_so(tmp_path):
    path = tmp_path / "archive.db"
    db = archive_at_version(path, 10)
    stored = add_rows(db.conn)["posts"]
    page_row, share_row = sorted(stored)
    db.execute("UPDATE posts SET body_origin = 'page' WHERE rowid = ?", [page_row])
    db.conn.commit()
    seq_before = dict(db.execute("SELECT rowid, change_seq FROM posts").fetchall())
    db.close()

    Archive.open(path).close()

    upgraded = sqlite3.connect(path)
    after = {rowid: (origin, seq) for rowid, origin, seq in upgraded.execute("SELECT rowid, body_origin, change_seq FROM posts")}
    upgraded.close()
    assert after[page_row][0] == "page-html" and after[share_row] == ("share", seq_before[share_row])
    assert after[page_row][1] > max(seq_before.values()), "a changed public value is a change in the feed"


def test_013_stores_a_share_text_that_is_the_body_once_and_every_reader_reads_the_same(tmp_path):
    path = tmp_path / "archive.db"
    db = archive_at_version(path, 12)
    add_rows(db.conn)
    db.execute("INSERT INTO posts (info_code, name, title) VALUES ('NW3', '3', 'three'), ('NW4', '4', 'four')")
    rows = [rowid for (rowid,) in db.execute("SELECT rowid FROM posts ORDER BY rowid")]  # four: one a case
    cases = {  # body_origin, body_html, share_text
        rows[0]: ("share", "<p>正文</p>", "<p>正文</p>"),  # the text became the body: stored once
        rows[1]: ("share", "<p>正文</p>", "<p>另一个</p>"),  # differs (no writer does this): kept
        rows[2]: ("page-source", "正文", None),  # the share host gave nothing
        rows[3]: ("page-html", "<p>正文</p>", "<p>正文</p>"),  # the same text, not where the body came from: kept
    }
    for rowid, (origin, body, text) in cases.items():
        db.execute("UPDATE posts SET body_origin = ?, body_html = ?, share_text = ? WHERE rowid = ?",
                   [origin, body, text, rowid])
    db.conn.commit()
    read = "SELECT rowid AS row_id, * FROM posts ORDER BY rowid"
    before = [dict(zip([column[0] for column in cursor.description], row, strict=True))
              for cursor in [db.execute(read)] for row in cursor]
    db.close()

    Archive.open(path).close()

    upgraded = sqlite3.connect(path)
    upgraded.row_factory = sqlite3.Row
    after = [dict(row) for row in upgraded.execute(read)]
    upgraded.close()
    # Every column a reader had reads the same, share_text and change_seq (no change in the feed) included.
    assert [{name: row[name] for name in before[0]} for row in after] == before
    assert {row["row_id"]: row["share_text_stored"] for row in after} == {
        rows[0]: None, rows[1]: "<p>另一个</p>", rows[2]: None, rows[3]: "<p>正文</p>"}


def test_the_current_version_is_recorded_as_a_new_archive_has_it(tmp_path):
    recorded = released_master(SCHEMA_VERSION)
    assert recorded is not None, "a new migration: record its schema with python -m tests.older_archive"
    conn = fresh_archive(tmp_path / "archive.db")
    assert master(conn) == recorded
    conn.close()


@dataclass(frozen=True)
class Made:
    """What the migrations make: a new archive's schema, and sqlite_master at each version."""

    shape: dict[str, dict]
    masters: dict[int, dict[str, list]]

    def since(self, name: str, holds: Callable[[list | None], bool] = lambda row: row is not None) -> int | None:
        """The version from which ``holds`` is true of ``name``'s sqlite_master row, up to now."""
        first = None
        for version in sorted(self.masters):
            first = (first or version) if holds(self.masters[version].get(name)) else None
        return first

    def now(self, name: str) -> Callable[[list | None], bool]:
        return lambda row: row == self.masters[SCHEMA_VERSION][name]


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> Made:
    folder = tmp_path_factory.mktemp("made")
    conn = fresh_archive(folder / "archive.db")
    shape = schema_shape(conn)
    conn.close()
    masters = {}
    for version in range(1, SCHEMA_VERSION + 1):
        db = archive_at_version(folder / f"{version}.db", version)
        masters[version] = master(db.conn)
        db.close()
    return Made(shape, masters)


def test_the_table_definitions_are_what_the_migrations_make_column_by_column(made):
    assert sorted(filled_tables(made.shape)) == sorted(table.name for table in TABLES)
    for table in TABLES:
        columns = [column for column in made.shape[table.name]["columns"] if column["hidden"] != 1]
        assert [(column["name"], column["type"], column["pk"], column["notnull"], column["dflt_value"],
                 column["hidden"] == 2) for column in columns] == [
            (column.name, _SQL_TYPES[column.type],
             table.pk_columns.index(column.name) + 1 if column.name in table.pk_columns else 0,
             int(column.name in table.pk_columns), None, column.generated is not None)
            for column in table.columns
        ], f"{table.name} as pipelines/schema.py defines it (name, type, pk, notnull, default, generated)"
        for column in (column for column in table.columns if column.generated):
            assert f"GENERATED ALWAYS AS ({column.generated}) VIRTUAL" in made.shape[table.name]["sql"]


def test_each_table_and_column_came_with_the_migration_its_since_names(made):
    for table in TABLES:
        assert made.since(table.name) == table.since, table.name
        for column in table.columns:
            declared = re.compile(rf'[\["]{column.name}[\]"] ')  # "name" TEXT, [name] TEXT: not in a key's list
            added = made.since(table.name, lambda row, declared=declared: row is not None and bool(
                declared.search(row[2])))
            assert added == column.since, f"{table.name}.{column.name}"


def test_the_views_search_index_and_change_feed_are_what_the_migrations_make(made):
    shape = made.shape
    for view in VIEWS:
        assert shape[view.name]["sql"] == f"CREATE VIEW [{view.name}] AS {view.select}"
        assert [column["name"] for column in shape[view.name]["columns"]] == [column.name for column in view.columns]
        assert made.since(view.name, made.now(view.name)) == view.since, view.name
    triggers = {name: entry["table"] for name, entry in shape.items() if entry["type"] == "trigger"}
    for index in SEARCH_INDEXES:
        sql = shape[index.name]["sql"]
        assert sql.startswith(f"CREATE VIRTUAL TABLE [{index.name}] USING FTS5 (")
        assert f"tokenize='{index.tokenize}'" in sql and f"content=[{index.table}]" in sql
        indexed = [column["name"] for column in shape[index.name]["columns"] if column["hidden"] == 0]
        assert indexed == list(index.columns)
        for event in ("insert", "delete", "update"):
            assert triggers[f"{index.name}_{event}"] == index.table
        assert made.since(index.name, made.now(index.name)) == index.since, index.name
    feed = POST_CHANGES
    assert shape[feed.name]["type"] == "table" and made.since(feed.name) == feed.since
    assert feed.column in [column["name"] for column in shape[feed.table]["columns"]]
    assert triggers[f"{feed.name}_insert"] == feed.table
    watched = re.match(r"CREATE TRIGGER \[\w+\] AFTER UPDATE OF (.*?) ON ", shape[f"{feed.name}_update"]["sql"])
    assert watched[1] == ", ".join(f"[{column}]" for column in feed.watched)
    for child, reference in feed.children:
        assert triggers[f"{feed.name}_{child}"] == child
        assert f"WHERE [{feed.key}] = new.[{reference}]" in shape[f"{feed.name}_{child}"]["sql"]


def test_the_migrations_never_read_the_current_definitions():
    """pipelines/migrations.py imports nothing of the schema's definitions: they cannot rewrite a migration."""
    tree = ast.parse(Path(migrations.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    ours = {module for module in imported if module.split(".")[0] in ("pipelines", "crawler", "tests")}
    assert ours == {"pipelines.sqlite_utils_lean"}
    # Libraries whose output a migration writes (012: warcio's WARC records), but never the product's own code.
    assert {module.split(".")[0] for module in imported - ours} <= {
        "__future__", "collections", "datetime", "http", "io", "json", "os", "pathlib", "zlib", "warcio"}
