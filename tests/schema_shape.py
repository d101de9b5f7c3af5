"""What an archive's schema is, as SQLite reports it, and how two differ: sqlite_master (tables, indexes,
views, triggers, the FTS5 table and its shadow tables, each with its SQL), and for every table and view
PRAGMA table_xinfo (names, declared types, notnull, defaults, primary key, generated or hidden), and for
every table PRAGMA index_list and index_xinfo. Rootpages are left out: they say where, not what."""

from __future__ import annotations

import sqlite3
from typing import Any

COLUMN_FIELDS = ("name", "type", "notnull", "dflt_value", "pk", "hidden")
INDEX_FIELDS = ("unique", "origin", "partial")
INDEX_COLUMN_FIELDS = ("seqno", "cid", "name", "desc", "coll", "key")


def _rows(conn: sqlite3.Connection, sql: str, parameters: list[Any], fields: tuple[str, ...]) -> list[dict]:
    cursor = conn.execute(sql, parameters)
    names = [column[0] for column in cursor.description]
    return [{field: row[names.index(field)] for field in fields} for row in cursor]


def schema_shape(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    """Every object of sqlite_master by name: its type, table and SQL, and the columns and indexes of tables
    and views."""
    shape: dict[str, dict[str, Any]] = {}
    for kind, name, table, sql in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall():
        entry: dict[str, Any] = {"type": kind, "table": table, "sql": sql}
        if kind in ("table", "view"):
            entry["columns"] = _rows(conn, "SELECT * FROM pragma_table_xinfo(?)", [name], COLUMN_FIELDS)
        if kind == "table":
            entry["indexes"] = {
                index["name"]: {field: index[field] for field in INDEX_FIELDS}
                | {"columns": _rows(conn, "SELECT * FROM pragma_index_xinfo(?)", [index["name"]], INDEX_COLUMN_FIELDS)}
                for index in _rows(conn, "SELECT * FROM pragma_index_list(?)", [name], ("name", *INDEX_FIELDS))
            }
        shape[name] = entry
    return shape


def schema_differences(actual: dict[str, dict[str, Any]], expected: dict[str, dict[str, Any]]) -> list[str]:
    """Each way ``actual`` differs from ``expected`` (two schema_shape results), one line each; [] when alike."""
    differences = [f"missing {expected[name]['type']} {name}" for name in expected if name not in actual]
    differences += [f"unexpected {actual[name]['type']} {name}" for name in actual if name not in expected]
    for name in (name for name in expected if name in actual):
        have, want = actual[name], expected[name]
        differences += [f"{name}: {key} {have[key]!r}, expected {want[key]!r}"
                        for key in ("type", "table", "sql") if have[key] != want[key]]
        have_columns = [column["name"] for column in have.get("columns", [])]
        want_columns = [column["name"] for column in want.get("columns", [])]
        if have_columns != want_columns:
            differences.append(f"{name}: columns {have_columns}, expected {want_columns}")
        by_name = {column["name"]: column for column in have.get("columns", [])}
        for column in (column for column in want.get("columns", []) if column["name"] in by_name):
            differences += [
                f"{name}.{column['name']}: {field} {by_name[column['name']][field]!r}, expected {column[field]!r}"
                for field in COLUMN_FIELDS if by_name[column["name"]][field] != column[field]
            ]
        have_indexes, want_indexes = have.get("indexes", {}), want.get("indexes", {})
        differences += [f"{name}: missing index {index}" for index in want_indexes if index not in have_indexes]
        differences += [f"{name}: unexpected index {index}" for index in have_indexes if index not in want_indexes]
        for index in (index for index in want_indexes if index in have_indexes):
            differences += [
                f"{name}: index {index} {field} {have_indexes[index][field]!r}, expected {want_indexes[index][field]!r}"
                for field in (*INDEX_FIELDS, "columns") if have_indexes[index][field] != want_indexes[index][field]
            ]
    return differences
