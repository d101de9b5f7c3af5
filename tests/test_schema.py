import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlite_utils

from pipelines.archive import Archive
from pipelines.public import public_markdown
from pipelines.schema import MIGRATIONS, MIGRATIONS_TABLE, SCHEMA_VERSION, TABLES, SchemaError, schema_markdown
from tests.older_archive import archive_at_version

DOCS = Path(__file__).resolve().parents[1] / "docs" / "schema.md"
JSONL_DOCS = DOCS.with_name("posts-jsonl.md")


def test_docs_are_generated_from_the_schema_module():
    assert DOCS.read_text(encoding="utf-8") == schema_markdown(), "run: python -m pipelines.schema > docs/schema.md"


def test_the_jsonl_docs_are_generated_from_the_schema_module():
    expected = public_markdown()
    assert JSONL_DOCS.read_text(encoding="utf-8") == expected, "run: python -m pipelines.public > docs/posts-jsonl.md"


def test_new_archive_has_every_documented_column_wal_and_its_version(tmp_path):
    archive = Archive.open(tmp_path / "archive.db")
    archive.close()
    db = sqlite3.connect(tmp_path / "archive.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    for table in TABLES:
        # table_xinfo: generated columns too (hidden 2); hidden 1 would be a virtual table's hidden column.
        columns = [row[1] for row in db.execute(f"PRAGMA table_xinfo({table.name})") if row[6] != 1]
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


# An archive from an older finews ----------------------------------------------------------------

OLD_POSTS = [
    {"info_code": "NW202112272226582498", "name": "NW202112272226582498", "title": "央行宣布全面降准0.5个百分点",
     "published_at": "2021-12-27T01:36:14+08:00", "category": "jinwanbao", "tags": '["今晚报新闻"]', "kind": "media",
     "media": "今晚报", "body_html": "<p>中国人民银行决定下调金融机构存款准备金率。</p>",
     "body_text": "中国人民银行决定下调金融机构存款准备金率。", "content_hash": "a" * 64,
     "file_name": "2021-12-27-NW202112272226582498.md"},
    {"info_code": "NW202112262226000001", "name": "202112262226000001", "title": "沪深两市成交额突破万亿元",
     "published_at": "2021-12-26T15:00:00+08:00", "category": "emnews", "tags": '["东财滚动新闻"]', "kind": "emnews",
     "body_html": "<p>北向资金净买入。</p>", "body_text": "北向资金净买入。", "content_hash": "b" * 64,
     "file_name": "2021-12-26-202112262226000001.md"},
]


def version_1_archive(path):
    """An archive as finews wrote it at schema version 1: migration 001 only, with rows in it."""
    db = sqlite_utils.Database(path)
    db.enable_wal()
    db[MIGRATIONS_TABLE].create({"name": str, "applied_at": str}, pk="name")
    name, apply = MIGRATIONS[0]
    apply(db)
    db[MIGRATIONS_TABLE].insert({"name": name, "applied_at": "2021-12-27T00:00:00+00:00"})
    db.execute("PRAGMA user_version = 1")
    db["posts"].insert_all(OLD_POSTS)
    db["rejects"].insert({"url": "http://finews.withounder.com/sitenews/2021/12/08/init.html", "reason": "missing title",
                          "raw_page": b"<html></html>", "times": 1})
    db["crawl_runs"].insert({"id": 1, "site": "http://finews.withounder.com/", "status": "finished", "new": 2})
    db.close()


def test_an_archive_written_at_version_1_is_upgraded_in_place_and_keeps_its_rows(tmp_path):
    path = tmp_path / "archive.db"
    version_1_archive(path)
    inode = path.stat().st_ino
    before = {row["info_code"]: row for row in sqlite_utils.Database(path)["posts"].rows}
    rowids = dict(sqlite3.connect(path).execute("SELECT info_code, rowid FROM posts").fetchall())

    Archive.open(path).close()

    assert path.stat().st_ino == inode  # the same file, not a rebuilt one
    db = sqlite3.connect(path)
    db.row_factory = sqlite3.Row
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert [row[0] for row in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY name")] == [
        name for name, _apply in MIGRATIONS
    ]
    after = {row["info_code"]: dict(row) for row in db.execute("SELECT * FROM posts")}
    assert {code: {key: after[code][key] for key in row} for code, row in before.items()} == before
    assert dict(db.execute("SELECT info_code, rowid FROM posts").fetchall()) == rowids
    assert db.execute("SELECT reason FROM rejects").fetchone()[0] == "missing title"
    assert db.execute("SELECT status, new FROM crawl_runs WHERE id = 1").fetchone()[:] == ("finished", 2)
    # What later migrations added exists, and covers the old rows.
    objects = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert {"pages", "posts_fts", "latest_posts", "posts_per_day", "post_urls"} <= objects
    assert after["NW202112272226582498"]["published_day"] == "2021-12-27"
    found = db.execute("SELECT rowid FROM posts_fts WHERE posts_fts MATCH '\"存款准备金\"'").fetchall()
    assert [row[0] for row in found] == [rowids["NW202112272226582498"]]
    assert [tuple(row) for row in db.execute("SELECT * FROM posts_per_day")] == [
        ("2021-12-27", "jinwanbao", 1), ("2021-12-26", "emnews", 1)
    ]
    assert [row[0] for row in db.execute("SELECT info_code FROM latest_posts")] == [
        "NW202112272226582498", "NW202112262226000001"
    ]
    db.close()


# Full-text search and views ---------------------------------------------------------------------


def fts_matches(db, phrase):
    return sorted(row[0] for row in db.execute(
        "SELECT posts.info_code FROM posts JOIN posts_fts ON posts_fts.rowid = posts.rowid WHERE posts_fts MATCH ?",
        [f'"{phrase}"'],
    ))


def test_the_search_index_follows_every_insert_update_and_delete(tmp_path):
    archive = Archive.open(tmp_path / "archive.db")
    db = archive.db
    db["posts"].insert_all(OLD_POSTS)
    assert fts_matches(db, "人民银行") == ["NW202112272226582498"]
    assert fts_matches(db, "全面降准") == ["NW202112272226582498"]  # the title is indexed too
    db["posts"].upsert({"info_code": "NW202112272226582498", "body_text": "国务院常务会议部署稳增长。"}, pk="info_code")
    assert fts_matches(db, "人民银行") == []
    assert fts_matches(db, "常务会议") == ["NW202112272226582498"]
    # An update of other columns (every crawl marks listed posts seen) leaves the index alone and right.
    db.execute("UPDATE posts SET last_seen_at = '2021-12-28T00:00:00+00:00'")
    db.execute("INSERT OR REPLACE INTO posts (info_code, title, body_text, published_at) "
               "VALUES ('NW202112262226000001', '北向资金大幅流入', '外资持续加仓。', '2021-12-26T15:00:00+08:00')")
    assert fts_matches(db, "成交额") == []
    assert fts_matches(db, "北向资金") == ["NW202112262226000001"]
    db.execute("DELETE FROM posts WHERE info_code = 'NW202112272226582498'")
    assert fts_matches(db, "常务会议") == []
    # rank = 1: the index is checked against the posts table itself.
    db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")
    archive.close()


# What finews wrote at schema version 4 and 5: an index sqlite-utils and Datasette did not recognise.
VERSION_5_SEARCH_INDEX = (
    ("CREATE VIRTUAL TABLE [posts_fts] USING fts5(title, body_text, content='posts', content_rowid='rowid', "
     "tokenize='trigram')"),
    """CREATE TRIGGER [posts_fts_insert] AFTER INSERT ON [posts] BEGIN
        INSERT INTO [posts_fts] (rowid, title, body_text) VALUES (new.rowid, new.title, new.body_text); END""",
    """CREATE TRIGGER [posts_fts_delete] AFTER DELETE ON [posts] BEGIN
        INSERT INTO [posts_fts] ([posts_fts], rowid, title, body_text)
        VALUES ('delete', old.rowid, old.title, old.body_text); END""",
    """CREATE TRIGGER [posts_fts_update] AFTER UPDATE OF title, body_text ON [posts] BEGIN
        INSERT INTO [posts_fts] ([posts_fts], rowid, title, body_text)
        VALUES ('delete', old.rowid, old.title, old.body_text);
        INSERT INTO [posts_fts] (rowid, title, body_text) VALUES (new.rowid, new.title, new.body_text); END""",
    "INSERT INTO [posts_fts] ([posts_fts]) VALUES ('rebuild')",
)


def version_5_archive(path):
    """An archive as finews wrote it at schema version 5, its search index as that version declared it."""
    db = archive_at_version(path, 5)
    db.enable_wal()
    if not db["posts_fts"].exists():  # migration 004 made it up to version 5; migration 007 does now
        for statement in VERSION_5_SEARCH_INDEX:
            db.execute(statement)
    db["posts"].insert_all(OLD_POSTS)
    db.close()


def test_sqlite_utils_and_datasette_find_the_search_index_of_a_new_archive(tmp_path):
    from datasette.utils import detect_fts

    archive = Archive.open(tmp_path / "archive.db")
    archive.db["posts"].insert_all(OLD_POSTS)
    archive.close()
    db = sqlite_utils.Database(tmp_path / "archive.db")
    assert db["posts"].detect_fts() == "posts_fts"
    assert detect_fts(db.conn, "posts") == "posts_fts"
    assert [row["info_code"] for row in db["posts"].search("存款准备金")] == ["NW202112272226582498"]
    assert "tokenize='trigram'" in db["posts_fts"].schema and "content=[posts]" in db["posts_fts"].schema
    db.close()


def test_an_archive_written_at_version_5_gets_an_index_other_tools_find_with_its_rows(tmp_path):
    from datasette.utils import detect_fts

    path = tmp_path / "archive.db"
    version_5_archive(path)
    assert sqlite_utils.Database(path)["posts"].detect_fts() is None  # what the issue reported
    rowids = dict(sqlite3.connect(path).execute("SELECT info_code, rowid FROM posts").fetchall())

    archive = Archive.open(path)
    db = archive.db
    assert db["posts"].detect_fts() == "posts_fts" and detect_fts(db.conn, "posts") == "posts_fts"
    assert dict(db.execute("SELECT info_code, rowid FROM posts").fetchall()) == rowids
    assert fts_matches(db, "存款准备金") == ["NW202112272226582498"]  # the old rows are in the new index
    triggers = sorted(row[0] for row in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'posts_fts%'"))
    assert triggers == ["posts_fts_delete", "posts_fts_insert", "posts_fts_update"]
    # The triggers feed the new index: one row each way, and it still agrees with posts.
    db.execute("UPDATE posts SET body_text = '北向资金净流入。' WHERE info_code = 'NW202112262226000001'")
    assert fts_matches(db, "北向资金") == ["NW202112262226000001"]
    db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")
    archive.close()


def test_posts_per_day_counts_by_the_day_in_shanghai(tmp_path):
    archive = Archive.open(tmp_path / "archive.db")
    # 00:30 in Shanghai is the day before in UTC: it counts on its Shanghai day.
    archive.db["posts"].insert_all([
        {"info_code": f"NW{n:020d}", "category": category, "published_at": published}
        for n, (category, published) in enumerate([
            ("jinwanbao", "2021-12-27T00:30:00+08:00"), ("jinwanbao", "2021-12-27T23:59:59+08:00"),
            ("emnews", "2021-12-27T08:00:00+08:00"), ("jinwanbao", "2021-12-26T23:00:00+08:00"),
        ])
    ])
    rows = archive.db.execute("SELECT day, category, posts FROM posts_per_day").fetchall()
    archive.close()
    assert rows == [("2021-12-27", "emnews", 1), ("2021-12-27", "jinwanbao", 2), ("2021-12-26", "jinwanbao", 1)]


def test_the_archive_imports_sqlite_utils_without_numpy_and_leaves_numpy_importable(tmp_path):
    """sqlite-utils would import numpy (and pandas) when installed: 11 MB of every crawl process."""
    pytest.importorskip("numpy")
    # sqlite-utils is imported when first used (a command that only reads the archive never does): here, by
    # opening an archive.
    code = ("import sys, pathlib, pipelines.archive as a; print('sqlite_utils' in sys.modules); "
            "a.Archive.open(pathlib.Path(sys.argv[1])).close(); import sqlite_utils.db; "
            "print('numpy' in sys.modules, sqlite_utils.db.np); import numpy; print(numpy.__name__)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "archive.db")], capture_output=True,
                            text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    assert result.stdout.split() == ["False", "False", "None", "numpy"]


# Share statuses as free text (before 008) -------------------------------------------------------------

LEGACY_SHARE_STATUSES = {
    # share_status as finews wrote it before migration 008: (share_status, share_detail) after it.
    "ok": ("ok", None),
    "not fetched": ("not-fetched", None),
    "skipped: share host unavailable: 7 requests in a row failed (last: http 500)": (
        "skipped", "share host unavailable: 7 requests in a row failed (last: http 500)"),
    "skipped: share host unavailable: 8 requests in a row failed (last: http 500)": (
        "skipped", "share host unavailable: 8 requests in a row failed (last: http 500)"),
    "http 404": ("missing", "http 404"),
    "http 500": ("http-error", "http 500"),
    "DownloadTimeoutError: Getting http://finews.zning.xyz/x took longer than 10.0 seconds.": (
        "timeout", "DownloadTimeoutError: Getting http://finews.zning.xyz/x took longer than 10.0 seconds."),
    "invalid json: Expecting value: line 1 column 1 (char 0)": (
        "invalid", "invalid json: Expecting value: line 1 column 1 (char 0)"),
    "no text: neither 'text' nor 'content' holds a string": (
        "invalid", "no text: neither 'text' nor 'content' holds a string"),
    "IgnoreRequest: Forbidden by robots.txt": ("refused", "IgnoreRequest: Forbidden by robots.txt"),
    "DownloadFailedError: [<twisted.python.failure.Failure twisted.internet.error.ConnectionDone: closed.>]": (
        "unreachable", "DownloadFailedError: [<twisted.python.failure.Failure twisted.internet.error.ConnectionDone: closed.>]"),
}


def test_free_text_share_statuses_become_the_fixed_values_with_their_words_in_share_detail(tmp_path):
    path = tmp_path / "archive.db"
    db = archive_at_version(path, 5)
    codes = {f"NW2021122722265824{index:02d}": status for index, status in enumerate(LEGACY_SHARE_STATUSES)}
    db["posts"].insert_all({**OLD_POSTS[0], "info_code": code, "name": code, "share_status": status}
                           for code, status in codes.items())
    db.close()

    Archive.open(path).close()

    db = sqlite3.connect(path)
    after = {code: (status, detail) for code, status, detail in
             db.execute("SELECT info_code, share_status, share_detail FROM posts")}
    assert after == {code: LEGACY_SHARE_STATUSES[status] for code, status in codes.items()}
    # GROUP BY share_status now says how an outage went: one group for every post the breaker held back.
    assert dict(db.execute("SELECT share_status, count(*) FROM posts GROUP BY share_status")) == {
        "ok": 1, "not-fetched": 1, "skipped": 2, "missing": 1, "http-error": 1, "timeout": 1, "invalid": 2,
        "refused": 1, "unreachable": 1}
    db.close()
