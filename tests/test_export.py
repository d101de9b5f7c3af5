"""`finews export` rebuilds the exported files from the archive alone, and a second export changes nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

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
