"""End to end: a replica of synthetic posts on loopback, crawled by the real command in its own process."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from crawler.cli import DEFAULT_SITE, DEMO_POSTS
from crawler.lock import LOCK_FILE, CrawlLock
from crawler.postfile import parse_post_date, parse_post_file, split_front_matter
from crawler.replica.generate import generate_site
from crawler.replica.render import SITE_HOST, TEXT, Page, render_site
from crawler.replica.server import NO_ANSWER, ReplicaServer

ROOT = Path(__file__).resolve().parents[1]
POSTS = 30


def finews(*args: str, cwd: Path, proxy: str | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env["PYTHONPATH"] = str(ROOT)
    if proxy:
        env["http_proxy"] = proxy
    return subprocess.run(
        [sys.executable, "-m", "crawler.cli", *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=timeout, check=False,
    )


def crawl_generated_site(work: Path, count: int) -> Path:
    """Crawl a replica of ``count`` generated posts into ``work/out``; returns ``work``."""
    site = generate_site(count)
    with ReplicaServer(render_site(parse_post_file(name, text) for name, text in site.files)) as server:
        result = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    return work


def rows(db_path: Path, sql: str) -> list[dict]:
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in db.execute(sql)]
    finally:
        db.close()


@pytest.fixture(scope="module")
def site():
    return generate_site(POSTS)


@pytest.fixture(scope="module")
def crawled(site, tmp_path_factory):
    """One crawl of the replica into a fresh output; the work folder holds nothing else."""
    work = tmp_path_factory.mktemp("work")
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    with ReplicaServer(pages) as server:
        first = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
        second = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
    return work, first, second


def test_crawl_exits_zero_with_a_summary(crawled):
    _work, first, _second = crawled
    assert first.returncode == 0, first.stderr
    assert "the archive now holds " in first.stdout


def test_the_first_crawl_counts_the_twin_merged_and_writes_one_file_per_post(site, crawled):
    """Two post pages of one article: one record, one file; the second page is a merge, not an update."""
    work, first, _second = crawled
    (run,) = rows(work / "out" / "archive.db", "SELECT * FROM crawl_runs WHERE id = 1")
    valid = len(site.valid_info_codes)
    assert (run["new"], run["merged"], run["updated"], run["rejected"]) == (valid, 1, 0, len(site.malformed))
    assert run["files_written"] == valid == len(list((work / "out" / "_posts").iterdir()))
    assert f"posts {valid} new, 0 updated, 1 merged into their twin's record, " in first.stdout


def test_one_row_per_distinct_valid_infocode(site, crawled):
    work, _first, _second = crawled
    archived = {row["info_code"] for row in rows(work / "out" / "archive.db", "SELECT info_code FROM posts")}
    assert archived == set(site.valid_info_codes)


def test_one_file_per_row_and_nothing_written_outside_the_output(crawled):
    work, _first, _second = crawled
    names = {row["file_name"] for row in rows(work / "out" / "archive.db", "SELECT file_name FROM posts")}
    assert {path.name for path in (work / "out" / "_posts").iterdir()} == names
    assert sorted(path.name for path in work.iterdir()) == ["out"]
    assert sorted(path.name for path in (work / "out").iterdir() if not path.name.startswith("archive.db")) == [
        "_config.yml", "_posts", "warc"
    ]
    assert all(path.name.endswith(".warc.gz") for path in (work / "out" / "warc").iterdir())


def test_twice_published_article_is_one_record_with_both_links(site, crawled):
    work, _first, _second = crawled
    (row,) = rows(work / "out" / "archive.db", f"SELECT * FROM posts WHERE info_code = '{site.twin_info_code}'")
    assert row["kind"] in ("media", "market") and row["name"] == site.twin_info_code
    assert row["share_url"].endswith("infoCode=" + site.twin_info_code)
    assert row["article_url"] and row["article_url"].endswith(site.twin_info_code[2:] + ".html")
    assert row["digest"]
    assert not any(path.name.endswith(f"-{site.twin_info_code[2:]}.md") for path in (work / "out" / "_posts").iterdir())


def test_malformed_posts_are_rejects_with_reason_and_raw_page(site, crawled):
    work, _first, _second = crawled
    rejects = rows(work / "out" / "archive.db", "SELECT url, reason, raw_page FROM rejects")
    for file_name in site.malformed:
        name = parse_post_file(file_name, dict(site.files)[file_name]).name
        (reject,) = [r for r in rejects if r["url"].endswith(f"/{name}.html")]
        assert reject["reason"] and reject["raw_page"].startswith(b"<!DOCTYPE html>")


def test_every_exported_file_parses_and_equals_the_stored_fields(crawled):
    work, _first, _second = crawled
    for row in rows(work / "out" / "archive.db", "SELECT * FROM posts"):
        text = (work / "out" / "_posts" / row["file_name"]).read_text(encoding="utf-8")
        front, body = split_front_matter(text)
        meta = yaml.safe_load(front)
        assert list(meta) == ["layout", "title", "date", "categories", "tags"]
        assert meta["title"] == row["title"]
        assert parse_post_date(str(front.split("date: ")[1].splitlines()[0])).isoformat() == row["published_at"]
        assert str(meta["categories"]) == row["category"]
        assert str(meta["tags"]).split() == json.loads(row["tags"])
        assert row["body_html"] in body and not text.endswith("\n")


def test_exported_files_equal_the_originals_byte_for_byte(site, crawled):
    work, _first, _second = crawled
    exported = {path.name: path.read_bytes() for path in (work / "out" / "_posts").iterdir()}
    originals = dict(site.files)
    compared = [name for name in exported if name in originals]
    assert len(compared) == len(exported)
    assert [name for name in compared if exported[name] != originals[name].encode("utf-8")] == []


def test_second_run_changes_nothing(crawled):
    work, _first, second = crawled
    assert second.returncode == 0, second.stderr
    (run,) = rows(work / "out" / "archive.db", "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")
    assert (run["status"], run["new"], run["updated"], run["files_written"]) == ("finished", 0, 0, 0)
    # Incremental: every archived post is skipped before its page is requested, so none is even "unchanged".
    assert run["skipped_known"] > 0 and run["unchanged"] == 0


@pytest.mark.parametrize(("through_proxy", "loudness"), [(False, ()), (True, ()), (True, ("-q",))])
def test_unreachable_site_exits_nonzero_with_one_line(tmp_path, through_proxy, loudness):
    """Scrapy's retry, robots.txt and listing errors all say the same thing: only the reason is printed."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/"  # bound, never listening: connections are refused
        if through_proxy:
            site = DEFAULT_SITE
            result = finews("crawl", *loudness, "--output", "out", cwd=tmp_path, proxy=refused)
        else:
            site = refused
            result = finews("crawl", *loudness, "--site", refused, "--output", "out", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"finews crawl: site {site} unreachable: ")
    # Not printed, still counted.
    (run,) = rows(tmp_path / "out" / "archive.db", "SELECT status, errors FROM crawl_runs")
    assert run["status"] == "failed" and run["errors"] > 0


def test_verbose_keeps_every_error_of_an_unreachable_site(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        result = finews("crawl", "-v", "--output", "out", cwd=tmp_path, proxy=refused)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1].startswith(f"finews crawl: site {DEFAULT_SITE} unreachable: ")
    assert any(f"ERROR: Listing {DEFAULT_SITE} failed" in line for line in lines), result.stderr


def test_ctrl_c_outside_a_runs_own_signal_handling_is_one_line_and_exit_130(tmp_path):
    """While Python still loads Scrapy, say: Python's own SIGINT handler raises KeyboardInterrupt. In a
    process of its own with that handler, as in a terminal: a test run started in the background by a
    non-interactive shell inherits SIGINT ignored, and Python then installs no handler."""
    code = ("import signal, sys; from crawler import cli; "
            "signal.signal(signal.SIGINT, signal.default_int_handler); "
            "cli._status = lambda _args: signal.raise_signal(signal.SIGINT); "
            "sys.exit(cli.main(['status', '--output', sys.argv[1]]))")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, cwd=ROOT,
                            check=False)
    assert (result.returncode, result.stderr) == (130, "finews status: interrupted\n")


def test_a_log_level_set_with_s_wins_over_quiet(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/"
        quiet = finews("crawl", "-q", "--output", "quiet", cwd=tmp_path, proxy=refused)
        told = finews("crawl", "-q", "-s", "LOG_LEVEL=INFO", "--output", "told", cwd=tmp_path, proxy=refused)
    assert "INFO" not in quiet.stderr and len(quiet.stderr.splitlines()) == 1
    assert "[scrapy.core.engine] INFO: Spider opened" in told.stderr, told.stderr
    assert told.stderr.splitlines()[-1] == quiet.stderr.strip()  # the one line -q prints, still last


def test_errors_of_a_site_that_answers_are_printed_and_a_post_not_archived_fails_the_run(site, tmp_path):
    """A post that fails, and errors from before the site's first answer (its robots.txt never answered),
    printed when the run ends; then the line that says the run did not archive everything it listed."""
    pages = dict(render_site(parse_post_file(name, text) for name, text in site.files))
    pages[(SITE_HOST, "/robots.txt")] = NO_ANSWER
    failing = next(path for host, path in pages if host == SITE_HOST and path.startswith("/emnews/20"))
    pages[(SITE_HOST, failing)] = Page(500, TEXT, b"Internal Server Error\n")
    with ReplicaServer(pages) as server:
        result = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 1, result.stderr
    errors = result.stderr.splitlines()
    assert errors[-1] == (f"finews crawl: 1 posts not archived (last: http 500 (http://{SITE_HOST}{failing})); "
                          "they stay in the frontier, which the next run fetches first")
    assert rows(tmp_path / "out" / "archive.db", "SELECT url FROM frontier") == [{"url": f"http://{SITE_HOST}{failing}"}]
    assert any("ERROR: Gave up retrying <GET http://finews.withounder.com/robots.txt>" in line for line in errors)
    assert any(f"ERROR: Gave up retrying <GET http://{SITE_HOST}{failing}> (failed 3 times): 500" in line
               for line in errors), result.stderr


def test_scrapy_crawl_refuses_an_output_another_crawl_holds(tmp_path):
    """`scrapy crawl site` takes the output's lock as `finews crawl` does (here the test process holds it)."""
    (tmp_path / "out").mkdir()
    with CrawlLock(tmp_path / "out" / LOCK_FILE):
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "site", "-s", f"FINEWS_OUTPUT={tmp_path / 'out'}"],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )
    # Refused before Scrapy starts (no banner), as `finews crawl` refuses: exit 75 and one line.
    assert result.returncode == 75
    assert result.stderr.splitlines() == [(f"scrapy crawl: another crawl (pid {os.getpid()}) is running on "
                                           f"{tmp_path / 'out'}")]
    assert not (tmp_path / "out" / "archive.db").exists()


def test_unwritable_output_exits_nonzero_with_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    result = finews("crawl", "--output", "a-file/out", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() .startswith("finews crawl: output a-file/out is not writable")


def test_demo_leaves_one_row_per_valid_infocode(tmp_path):
    result = finews("demo", "--output", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    expected = generate_site(DEMO_POSTS).valid_info_codes
    archived = rows(tmp_path / "out" / "archive.db", "SELECT info_code FROM posts")
    assert {row["info_code"] for row in archived} == set(expected)
    assert len(list((tmp_path / "out" / "_posts").iterdir())) == len(expected)
    assert f"the archive now holds {len(expected)} posts" in result.stdout


def test_scrapy_crawl_site_uses_the_same_settings(site, tmp_path):
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    env = {key: value for key, value in os.environ.items() if key.lower() != "no_proxy"}
    with ReplicaServer(pages) as server:
        env["http_proxy"] = server.proxy_url
        result = subprocess.run(
            [sys.executable, "-m", "scrapy", "crawl", "site", "-s", f"FINEWS_OUTPUT={tmp_path / 'out'}",
             "-s", "LOG_LEVEL=WARNING"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
        )
    assert result.returncode == 0, result.stderr
    archived = rows(tmp_path / "out" / "archive.db", "SELECT info_code FROM posts")
    assert {row["info_code"] for row in archived} == set(site.valid_info_codes)
