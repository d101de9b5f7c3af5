"""`finews export` rebuilds the exported files from the archive alone, and a second export changes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

from pipelines.schema import POST_URLS, POSTS
from tests.test_crawl import crawl_generated_site, finews


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return crawl_generated_site(tmp_path_factory.mktemp("export"), 25)


def snapshot(folder):
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.iterdir()}


def test_export_rebuilds_the_crawled_files_byte_for_byte_then_touches_nothing(archive):
    crawled = {name: data for name, (data, _mtime) in snapshot(archive / "out" / "_posts").items()}
    shutil.rmtree(archive / "out" / "_posts")
    first = finews("export", "--output", "out", cwd=archive)
    assert first.returncode == 0, first.stderr
    rebuilt = snapshot(archive / "out" / "_posts")
    assert {name: data for name, (data, _mtime) in rebuilt.items()} == crawled
    second = finews("export", "--output", "out", cwd=archive)
    assert f"{len(crawled)} posts exported" in second.stdout and ": 0 written" in second.stdout
    assert snapshot(archive / "out" / "_posts") == rebuilt


def test_jsonl_export_has_one_record_per_row_and_is_idempotent(archive):
    assert finews("export", "--output", "out", "--format", "jsonl", cwd=archive).returncode == 0
    lines = (archive / "out" / "posts.jsonl").read_text(encoding="utf-8").splitlines()
    db = sqlite3.connect(archive / "out" / "archive.db")
    codes = [code for (code,) in db.execute("SELECT info_code FROM posts ORDER BY published_at, info_code")]
    db.close()
    records = [json.loads(line) for line in lines]
    assert [record["info_code"] for record in records] == codes
    assert all(isinstance(record["tags"], list) and record["title"] for record in records)
    before = (archive / "out" / "posts.jsonl").stat().st_mtime_ns
    again = finews("export", "--output", "out", "--format", "jsonl", cwd=archive)
    assert ": 0 written, 1 unchanged" in again.stdout
    assert (archive / "out" / "posts.jsonl").stat().st_mtime_ns == before


def test_a_jsonl_record_is_the_public_columns_of_its_row_and_its_urls(archive):
    assert finews("export", "--output", "out", "--format", "jsonl", cwd=archive).returncode == 0
    records = [json.loads(line) for line in (archive / "out" / "posts.jsonl").read_text(encoding="utf-8").splitlines()]
    internal = {column.name for column in POSTS.columns if not column.public}
    assert internal == {"last_seen_run", "share_text_stored", "share_text"}
    public = [column.name for column in POSTS.columns if column.public]
    db = sqlite3.connect(archive / "out" / "archive.db")
    db.row_factory = sqlite3.Row
    for record in records:
        assert list(record) == [*public, "post_urls"]  # no seen_urls, no from_site: nothing internal
        row = dict(db.execute("SELECT * FROM posts WHERE info_code = ?", [record["info_code"]]).fetchone())
        assert {key: record[key] for key in public} == {**{key: row[key] for key in public}, "tags": json.loads(row["tags"])}
        assert record["first_seen_at"] and record["last_seen_at"] and record["updated_at"] and record["published_day"]
        assert record["file_name"] and (archive / "out" / "_posts" / record["file_name"]).exists()
        urls = db.execute(f"SELECT url, kind, first_seen_at FROM {POST_URLS.name} WHERE info_code = ? ORDER BY kind, url",
                          [record["info_code"]]).fetchall()
        assert record["post_urls"] == [dict(url) for url in urls] and record["post_url"] in [url["url"] for url in urls]
    # The twice-published article: one record holding both its post URLs.
    assert max(sum(url["kind"] == "post" for url in record["post_urls"]) for record in records) == 2
    db.close()


def test_since_limits_the_export_to_newer_posts(archive, tmp_path):
    db = sqlite3.connect(archive / "out" / "archive.db")
    dates = sorted(date for (date,) in db.execute("SELECT published_at FROM posts"))
    db.close()
    since = dates[len(dates) // 2][:10]
    result = finews("export", "--output", "out", "--format", "jsonl", "--since", since, cwd=archive)
    expected = sum(date >= since for date in dates)
    assert result.stdout.startswith(f"{expected} posts exported") and 0 < expected < len(dates)


def test_export_without_an_archive_is_a_clear_error(tmp_path):
    result = finews("export", "--output", "nothing-here", cwd=tmp_path)
    assert result.returncode == 1 and "no archive at" in result.stderr
