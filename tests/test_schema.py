import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from pipelines.archive import Archive
from pipelines.schema import MIGRATIONS_TABLE, SCHEMA_VERSION, TABLES, SchemaError, schema_markdown

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schema.md"


def test_docs_are_generated_from_the_schema_module():
    assert DOCS.read_text(encoding="utf-8") == schema_markdown(), "run: python -m pipelines.schema > docs/schema.md"


def test_new_archive_has_every_documented_column_wal_and_its_version(tmp_path):
    archive = Archive.open(tmp_path / "archive.db")
    archive.close()
    db = sqlite3.connect(tmp_path / "archive.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    for table in TABLES:
        columns = [row[1] for row in db.execute(f"PRAGMA table_info({table.name})")]
        assert columns == [column.name for column in table.columns]
    applied = [row[0] for row in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")]
    assert len(applied) == SCHEMA_VERSION


def test_reopening_keeps_rows_and_applies_nothing_twice(tmp_path):
    archive = Archive.open(tmp_path / "archive.db")
    run_id = archive.start_run("http://finews.withounder.com/")
    archive.close()
    archive = Archive.open(tmp_path / "archive.db")
    assert archive.run(run_id)["status"] == "running"
    assert archive.db[MIGRATIONS_TABLE].count == SCHEMA_VERSION
    archive.close()


def test_an_archive_from_a_newer_version_is_refused_not_rewritten(tmp_path):
    db = sqlite_utils.Database(tmp_path / "archive.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(SchemaError, match="newer"):
        Archive.open(tmp_path / "archive.db")
