"""`finews backup`: a consistent copy of the archive while a crawl writes to it, and a restore from it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import render_site
from crawler.replica.server import ReplicaServer
from pipelines.warc import read_capture
from tests.test_crawl import ROOT, finews, rows
from tests.warc_check import warcio_check

POSTS = 2000


def archived(db_path):
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        try:
            return db.execute("SELECT count(*) FROM posts").fetchone()[0]
        finally:
            db.close()
    except sqlite3.OperationalError:
        return 0  # not created or migrated yet


def test_backups_taken_during_a_crawl_are_whole_and_restore(tmp_path):
    site = generate_site(POSTS)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    env = {key: value for key, value in os.environ.items() if key.lower() != "no_proxy"}
    env["PYTHONPATH"] = str(ROOT)
    copies = []
    with ReplicaServer(pages) as server:
        env["http_proxy"] = server.proxy_url
        crawl = subprocess.Popen([sys.executable, "-m", "crawler.cli", "crawl", "--output", "out"], cwd=tmp_path,
                                 env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for threshold in (200, 800, 1400):
                while archived(tmp_path / "out" / "archive.db") < threshold and crawl.poll() is None:
                    time.sleep(0.05)
                result = finews("backup", f"copy-{threshold}", "--posts", "--output", "out", cwd=tmp_path)
                copies.append((f"copy-{threshold}", crawl.poll() is None, result))
        finally:
            _, errors = crawl.communicate(timeout=600)
    assert crawl.returncode == 0, errors
    assert copies[0][1], "the crawl ended before the first backup: nothing was tested"
    counts = []
    for name, _during, result in copies:
        assert result.returncode == 0, result.stderr
        copy = tmp_path / name / "archive.db"
        db = sqlite3.connect(copy)
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        files = {row[0] for row in db.execute("SELECT file_name FROM posts")}
        db.close()
        counts.append(len(files))
        assert result.stdout.startswith(f"backed up {len(files)} posts to {name}/archive.db")
        # The files of exactly the posts in the copy, as an export from it writes them.
        assert {path.name for path in (tmp_path / name / "_posts").iterdir()} == files
        exported = finews("export", "--output", name, cwd=tmp_path)
        assert exported.returncode == 0 and f"{len(files)} posts exported" in exported.stdout, exported.stderr
        assert ": 0 written" in exported.stdout
        # The raw captures too: closed, valid, and holding every record the copy's pages index points at.
        warc_files = sorted((tmp_path / name / "warc").iterdir())
        assert warc_files and all(path.name.endswith(".warc.gz") for path in warc_files)
        assert [warcio_check(path) for path in warc_files] == [""] * len(warc_files)
        for row in rows(copy, "SELECT * FROM pages"):
            read_capture(tmp_path / name / "warc", row["warc_file"], row["warc_offset"], row["warc_length"])
    assert counts == sorted(counts) and 0 < counts[0] < len(site.valid_info_codes)

    # Restore the first copy as the output and resume: the archive is complete again, each post once.
    restored = tmp_path / "restored"
    restored.mkdir()
    (tmp_path / copies[0][0] / "archive.db").rename(restored / "archive.db")
    (tmp_path / copies[0][0] / "warc").rename(restored / "warc")
    with ReplicaServer(pages) as server:
        env["http_proxy"] = server.proxy_url
        resumed = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "--resume", "--output", "restored"],
                                 cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert resumed.returncode == 0, resumed.stderr
    db = sqlite3.connect(restored / "archive.db")
    codes = [row[0] for row in db.execute("SELECT info_code FROM posts")]
    db.close()
    assert sorted(codes) == sorted(site.valid_info_codes)
    assert len(list((restored / "_posts").iterdir())) == len(codes)


def test_a_backup_never_overwrites(tmp_path):
    (tmp_path / "out").mkdir()
    sqlite3.connect(tmp_path / "out" / "archive.db").close()
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "something").write_text("mine")
    result = finews("backup", "taken", "--output", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "finews backup: argument DEST: taken is not empty: give a new or empty folder"
    assert (tmp_path / "taken" / "something").read_text() == "mine"
    missing = finews("backup", "copy", "--output", "nothing-here", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip() == "finews backup: no archive at nothing-here/archive.db"
