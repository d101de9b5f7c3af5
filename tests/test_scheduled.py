"""Scheduled and resumable runs, end to end: the real ``finews`` command in its own process, real signals,
real SQLite, and the replica on loopback (slowed where a test must stop a crawl midway).

What each test reads from the replica is its request log: the requests the crawl really made.
"""

from __future__ import annotations

import os
import pty
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from crawler.lock import LOCK_FILE, CrawlLock, lock_holder
from crawler.postfile import parse_post_file
from crawler.replica.generate import SyntheticSite, generate_site
from crawler.replica.render import SHARE_HOST, SITE_HOST, render_site
from crawler.replica.server import ReplicaServer
from crawler.runner import CLEAN_STOP_MARK, EXIT_LOCKED, JOBS_DIR
from pipelines.warc import read_capture
from tests.test_crawl import ROOT, finews, rows
from tests.warc_check import warcio_check

POST_PAGE = re.compile(rf"^http://{re.escape(SITE_HOST)}/.+/\d{{4}}/\d{{2}}/\d{{2}}/[^/]+\.html$")
# A crawl slowed this much per request takes a few seconds, long enough to be stopped midway.
SLOW = 0.05
STOPPED_POSTS = 120
# Seconds between a stopped run and its resume.
GAP = 3
WAIT_SECONDS = 60


# Helpers -------------------------------------------------------------------------------------------


def replica(files: list[tuple[str, str]], delay: float = 0.0) -> ReplicaServer:
    return ReplicaServer(render_site(parse_post_file(name, text) for name, text in files), delay=delay)


def start_finews(*args: str, cwd: Path, proxy: str) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env.update(PYTHONPATH=str(ROOT), http_proxy=proxy)
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def post_pages(requests: list[str]) -> list[str]:
    return [url for url in requests if POST_PAGE.match(url)]


def share_requests(requests: list[str]) -> list[str]:
    return [url for url in requests if url.startswith(f"http://{SHARE_HOST}/")]


def post_url_name(url: str) -> str:
    return url.rsplit("/", 1)[1].removesuffix(".html")


def info_code_of(file_name: str) -> str:
    """Synthetic posts are keyed ``NW`` + the 18 digits their name ends with."""
    return "NW" + Path(file_name).stem[-18:]


def archived_posts(out: Path) -> int:
    """Rows in ``posts``, read the way any other reader would while a crawl writes (WAL)."""
    try:
        db = sqlite3.connect(f"file:{out / 'archive.db'}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return 0
    try:
        return db.execute("SELECT count(*) FROM posts").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0
    finally:
        db.close()


def committed_run(out: Path, run_id: int) -> dict:
    """A crawl_runs row as any other reader sees it while a crawl writes: what the crawl has committed."""
    db = sqlite3.connect(f"file:{out / 'archive.db'}?mode=ro", uri=True, timeout=5)
    db.row_factory = sqlite3.Row
    try:
        return dict(db.execute("SELECT * FROM crawl_runs WHERE id = ?", [run_id]).fetchone())
    finally:
        db.close()


def post_files(out: Path) -> set[str]:
    """The post files in ``_posts``, without the temporary files of writes under way."""
    return {path.name for path in (out / "_posts").iterdir() if not path.name.startswith(".")}


def wait_until(condition: Callable[[], bool], process: subprocess.Popen) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        assert process.poll() is None, f"the crawl ended before the moment to stop it: {process.communicate()}"
        assert time.monotonic() < deadline, "the crawl made no progress"
        time.sleep(0.01)


def integrity(out: Path) -> str:
    db = sqlite3.connect(out / "archive.db")
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        db.close()


def assert_posts_folder_whole(out: Path, temporary_allowed: bool = False) -> None:
    """Every post file is complete (it parses); a kill may leave a dot-named temporary file, never a part."""
    for path in (out / "_posts").iterdir():
        if path.name.startswith("."):
            assert temporary_allowed, f"left behind: {path.name}"
            continue
        parse_post_file(path.name, path.read_text(encoding="utf-8"))


def assert_one_file_per_row(out: Path) -> None:
    names = {row["file_name"] for row in rows(out / "archive.db", "SELECT file_name FROM posts")}
    assert {path.name for path in (out / "_posts").iterdir()} == names


# Incremental runs ----------------------------------------------------------------------------------


@dataclass
class Crawled:
    site: SyntheticSite
    work: Path
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess
    first_requests: list[str]
    second_requests: list[str]


@pytest.fixture(scope="module")
def crawled_twice(tmp_path_factory: pytest.TempPathFactory) -> Crawled:
    site = generate_site(40)
    work = tmp_path_factory.mktemp("twice")
    with replica(site.files) as server:
        first = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
        first_requests = list(server.requests)
        server.requests.clear()
        second = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
    return Crawled(site, work, first, second, first_requests, list(server.requests))


def test_second_run_over_an_unchanged_site_requests_only_listings_and_the_feed(crawled_twice: Crawled) -> None:
    assert crawled_twice.first.returncode == 0, crawled_twice.first.stderr
    assert crawled_twice.second.returncode == 0, crawled_twice.second.stderr
    assert len(post_pages(crawled_twice.first_requests)) == len(crawled_twice.site.files)
    requests = crawled_twice.second_requests
    assert post_pages(requests) == [] and share_requests(requests) == []
    paths = sorted(url.removeprefix(f"http://{SITE_HOST}") for url in requests)
    listings = [p for p in paths if p not in ("/", "/emnews/", "/feed.xml", "/robots.txt")]
    assert "/feed.xml" in paths and "/" in paths and "/emnews/" in paths
    assert listings and all(re.fullmatch(r"/category/[^/]+\.html", path) for path in listings), paths
    (run,) = rows(crawled_twice.work / "out" / "archive.db", "SELECT * FROM crawl_runs WHERE id = 2")
    # Every post page the site lists skipped by name: the twin's two pages as archived, the malformed ones as rejected.
    malformed = len(crawled_twice.site.malformed)
    assert (run["skipped_known"], run["skipped_rejected"]) == (len(crawled_twice.site.files) - malformed, malformed)
    assert (run["status"], run["exit_code"], run["new"], run["updated"], run["unchanged"]) == ("finished", 0, 0, 0, 0)
    assert run["requests"] == len(requests)


def test_under_cron_a_run_prints_one_summary_line_and_nothing_else(crawled_twice: Crawled) -> None:
    for result in (crawled_twice.first, crawled_twice.second):
        assert result.stderr == ""
        (line,) = result.stdout.splitlines()
        assert re.fullmatch(r"run \d+ finished: posts \d+ new, .* s; the archive now holds \d+ posts", line), line
    site = crawled_twice.site
    valid, malformed = len(site.valid_info_codes), len(site.malformed)
    # The first crawl: each page counted once, the twin's second page as merged, one file per post.
    assert crawled_twice.first.stdout.startswith(
        f"run 1 finished: posts {valid} new, 0 updated, 1 merged into their twin's record, 0 unchanged, "
        f"{malformed} rejected; listed pages not fetched: 0 already archived, 0 already rejected; "
        f"{valid} files written, ")
    assert crawled_twice.second.stdout.startswith(
        "run 2 finished: posts 0 new, 0 updated, 0 merged into their twin's record, 0 unchanged, 0 rejected; "
        f"listed pages not fetched: {valid + 1} already archived, {malformed} already rejected; 0 files written, ")


def test_status_prints_the_last_runs_and_the_archive_size(crawled_twice: Crawled) -> None:
    result = finews("status", "--output", "out", cwd=crawled_twice.work)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    valid = len(crawled_twice.site.valid_info_codes)
    assert lines[0].startswith("archive out/archive.db (") and f"{valid} posts, 2 rejects, 0 pending" in lines[0]
    # Each run wrote one WARC file, closed when it ended.
    assert re.fullmatch(r"captures: 2 closed WARC files in out/warc \([0-9.]+ KB\)", lines[1]), lines[1]
    assert lines[2] == "no crawl running"
    headings = lines[3].split()
    assert headings[:7] == ["run", "status", "mode", "started", "(UTC)", "ran", "sessions"]
    second, first = lines[4].split(), lines[5].split()
    assert second[:3] == ["2", "finished", "incremental"] and first[:3] == ["1", "finished", "incremental"]
    assert second[6] == "1" and first[6] == "1"  # sessions: neither was resumed
    malformed = len(crawled_twice.site.malformed)
    counts = dict(zip(headings[-9:], second[-9:], strict=True))
    assert (counts["skip:archived"], counts["skip:rejected"]) == (str(len(crawled_twice.site.files) - malformed),
                                                                 str(malformed))
    assert dict(zip(headings[-9:], first[-9:], strict=True))["merged"] == "1"
    assert any(line.startswith("sessions: ") or "sessions: 1, plus one per" in line for line in lines[6:])
    assert finews("status", "--output", "nowhere", cwd=crawled_twice.work).returncode == 1


def test_status_shows_a_run_no_process_holds_as_abandoned_without_relabelling_it(
    crawled_twice: Crawled, tmp_path: Path
) -> None:
    shutil.copytree(crawled_twice.work / "out", tmp_path / "out")
    out = tmp_path / "out"
    db = sqlite3.connect(out / "archive.db")
    with db:  # the row a crawl killed with -9 leaves
        db.execute("UPDATE crawl_runs SET status = 'running', finished_at = NULL, exit_code = NULL WHERE id = 2")
    db.close()
    lines = finews("status", "--output", "out", cwd=tmp_path).stdout.splitlines()
    assert lines[2] == "no crawl running" and lines[4].split()[:2] == ["2", "abandoned"]
    with CrawlLock(out / LOCK_FILE):  # a live process holds the output: its run is running
        lines = finews("status", "--output", "out", cwd=tmp_path).stdout.splitlines()
    assert lines[2] == f"a crawl is running (pid {os.getpid()})" and lines[4].split()[:2] == ["2", "running"]
    # A reader: the next crawl, holding the lock, is what records the run interrupted.
    assert [row["status"] for row in rows(out / "archive.db", "SELECT status FROM crawl_runs ORDER BY id")] == [
        "finished", "running"]


def test_added_posts_are_exactly_what_the_next_run_archives_and_vanished_posts_stay(
    crawled_twice: Crawled, tmp_path: Path
) -> None:
    site = crawled_twice.site
    shutil.copytree(crawled_twice.work / "out", tmp_path / "out")
    other = generate_site(30, seed=1)
    twin_digits = other.twin_info_code[2:]
    added = [(name, text) for name, text in other.files if name not in other.malformed and twin_digits not in name][:5]
    vanished = [name for name, _ in site.files if name not in site.malformed and site.twin_info_code[2:] not in name][:3]
    files = [(name, text) for name, text in site.files if name not in vanished] + added
    with replica(files) as server:
        result = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    fetched = post_pages(server.requests)
    assert sorted(post_url_name(url) for url in fetched) == sorted(Path(name).stem[11:] for name, _ in added)
    out = tmp_path / "out"
    (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")
    assert (run["new"], run["updated"], run["unchanged"], run["rejected"]) == (5, 0, 0, 0)
    seen = {row["info_code"]: row["last_seen_run"] for row in rows(out / "archive.db", "SELECT * FROM posts")}
    assert set(seen) == set(site.valid_info_codes) | {info_code_of(name) for name, _ in added}
    assert {seen[info_code_of(name)] for name in vanished} == {run["id"] - 1}  # kept, last seen by the run before
    assert {code for code, run_id in seen.items() if run_id != run["id"]} == {info_code_of(n) for n in vanished}
    assert_one_file_per_row(out)


def test_full_run_updates_a_changed_post_and_keeps_its_previous_version(crawled_twice: Crawled, tmp_path: Path) -> None:
    site = crawled_twice.site
    shutil.copytree(crawled_twice.work / "out", tmp_path / "out")
    out = tmp_path / "out"
    changed = next(name for name, text in site.files if "NW" in name and name not in site.malformed
                   and site.twin_info_code not in name)
    before = {row["info_code"]: row for row in rows(out / "archive.db", "SELECT * FROM posts")}
    old = before[info_code_of(changed)]
    files = [(name, text.replace(old["title"], old["title"] + "（更新）", 1) if name == changed else text)
             for name, text in site.files]
    with replica(files) as server:
        result = finews("crawl", "--full", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    assert len(post_pages(server.requests)) == len(site.files)
    (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")
    assert (run["mode"], run["new"], run["updated"], run["files_written"]) == ("full", 0, 1, 1)
    # Every other post page, the twin's two pages included (both merge into one unchanged record).
    assert run["unchanged"] == len(site.files) - len(site.malformed) - 1 and run["skipped_known"] == 0
    assert run["rejected"] == len(site.malformed)
    after = {row["info_code"]: row for row in rows(out / "archive.db", "SELECT * FROM posts")}
    assert after[info_code_of(changed)]["title"] == old["title"] + "（更新）"
    (revision,) = rows(out / "archive.db", "SELECT * FROM post_revisions")
    assert (revision["info_code"], revision["revision"], revision["title"], revision["content_hash"]) == (
        old["info_code"], 1, old["title"], old["content_hash"])
    assert revision["body_html"] == old["body_html"]
    for code, row in after.items():
        if code != old["info_code"]:  # unchanged: only seen again
            assert {k: v for k, v in row.items() if k not in ("last_seen_at", "last_seen_run")} == {
                k: v for k, v in before[code].items() if k not in ("last_seen_at", "last_seen_run")}
            assert row["last_seen_run"] == run["id"]
    assert old["title"] + "（更新）" in (out / "_posts" / old["file_name"]).read_text(encoding="utf-8")


# Never overlapping --------------------------------------------------------------------------------


def test_a_crawl_refuses_an_output_another_process_holds_and_names_it(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with CrawlLock(tmp_path / "out" / LOCK_FILE):
        assert lock_holder(tmp_path / "out" / LOCK_FILE) == os.getpid()
        started = time.monotonic()
        result = finews("crawl", "--site", "http://127.0.0.1:9/", "--output", "out", cwd=tmp_path)
        assert time.monotonic() - started < 10
    assert result.returncode == EXIT_LOCKED
    assert result.stderr.strip() == f"finews crawl: another crawl (pid {os.getpid()}) is running on out"
    assert result.stdout == "" and not (tmp_path / "out" / "archive.db").exists()
    assert lock_holder(tmp_path / "out" / LOCK_FILE) is None


def test_two_crawls_started_together_one_exits_75_naming_the_other(tmp_path: Path) -> None:
    site = generate_site(60)
    with replica(site.files, delay=SLOW) as server:
        crawls = [start_finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url) for _ in range(2)]
        finished_first = None
        while finished_first is None:
            finished_first = next((crawl for crawl in crawls if crawl.poll() is not None), None)
            time.sleep(0.01)
        (other,) = [crawl for crawl in crawls if crawl is not finished_first]
        still_running = other.poll() is None
        results = {crawl.pid: crawl.communicate(timeout=WAIT_SECONDS) for crawl in crawls}
    assert still_running, "the refused crawl must exit at once, while the other is still crawling"
    assert finished_first.returncode == EXIT_LOCKED and other.returncode == 0, results
    _out, refused = results[finished_first.pid]
    assert refused.strip() == f"finews crawl: another crawl (pid {other.pid}) is running on out"
    assert {row["info_code"] for row in rows(tmp_path / "out" / "archive.db", "SELECT * FROM posts")} == set(
        site.valid_info_codes)
    assert len(rows(tmp_path / "out" / "archive.db", "SELECT * FROM crawl_runs")) == 1


# Stopped, killed, resumed -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def slow_site() -> SyntheticSite:
    return generate_site(STOPPED_POSTS)


def test_kill_9_at_half_then_resume_archives_every_post_exactly_once(slow_site: SyntheticSite, tmp_path: Path) -> None:
    out = tmp_path / "out"
    valid = len(slow_site.valid_info_codes)
    with replica(slow_site.files, delay=SLOW) as server:
        crawl = start_finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
        wait_until(lambda: archived_posts(out) >= valid // 2, crawl)
        crawl.kill()
        crawl.communicate()
        assert crawl.returncode == -signal.SIGKILL
        archived_at_kill = archived_posts(out)
        assert archived_at_kill < valid, "killed too late to test anything"
        assert integrity(out) == "ok"
        assert_posts_folder_whole(out, temporary_allowed=True)
        # The WARC file the killed run wrote is still named open; every committed index row points at a
        # complete record in it.
        assert [path.suffix for path in (out / "warc").iterdir()] == [".open"]
        assert_every_capture_readable(out)
        status = finews("status", "--output", "out", cwd=tmp_path).stdout.splitlines()
        assert status[1].startswith("captures: 0 closed WARC files, 1 being written (or left by a killed run")
        # Nobody holds the lock: the run marked running belongs to a dead process.
        assert status[2] == "no crawl running" and status[4].split()[:2] == ["1", "abandoned"]
        pending = {row["name"] for row in rows(out / "archive.db", "SELECT name FROM frontier")}
        done = {row["name"] for row in rows(out / "archive.db", "SELECT name FROM posts")} | {
            post_url_name(row["url"]) for row in rows(out / "archive.db", "SELECT url FROM rejects")} | {
            # An emnews page merged into its outlet post's record (it brought the article link) is done too.
            row["digits"] for row in rows(out / "archive.db", "SELECT substr(info_code, 3) AS digits FROM posts "
                                          "WHERE kind IN ('media', 'market') AND article_url IS NOT NULL")}
        # Every page not done was discovered (lists come first) and is in the frontier.
        assert pending and {Path(name).stem[11:] for name, _ in slow_site.files} - done <= pending

        server.requests.clear()
        resumed = finews("crawl", "--resume", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert resumed.returncode == 0, resumed.stderr
    fetched = post_pages(server.requests)
    assert len(fetched) == len(set(fetched)), "a post page fetched twice"
    assert len(fetched) <= 0.6 * len(slow_site.files), f"resume fetched {len(fetched)} of {len(slow_site.files)} posts"
    assert {post_url_name(url) for url in fetched} == pending  # exactly the frontier
    (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs")
    assert (run["status"], run["exit_code"], run["resumes"]) == ("finished", 0, 1)
    # Counted in the transaction that wrote each post: exactly once each, across the kill. Every page once: the
    # resumed session lists again what the killed one archived, and counts none of it as skipped.
    assert run["new"] == valid and run["rejected"] == len(slow_site.malformed)
    assert (run["merged"], run["skipped_known"], run["skipped_rejected"]) == (1, 0, 0)
    assert run["new"] + run["merged"] + run["rejected"] == len(slow_site.files)
    assert {row["info_code"] for row in rows(out / "archive.db", "SELECT info_code FROM posts")} == set(
        slow_site.valid_info_codes)
    assert rows(out / "archive.db", "SELECT * FROM frontier") == []
    assert integrity(out) == "ok"
    assert_posts_folder_whole(out)
    assert_one_file_per_row(out)
    assert not (out / JOBS_DIR).exists()
    # The killed run's file was sealed (cut after its last whole record), the resumed run's closed: all valid.
    files = sorted((out / "warc").iterdir())
    assert len(files) == 2 and all(path.name.endswith(".warc.gz") for path in files)
    assert [warcio_check(path) for path in files] == ["", ""]
    assert_every_capture_readable(out)


def assert_every_capture_readable(out: Path) -> None:
    for row in rows(out / "archive.db", "SELECT * FROM pages"):
        read_capture(out / "warc", row["warc_file"], row["warc_offset"], row["warc_length"])


def test_kill_9_loses_at_most_the_last_commit_of_the_counts_from_scrapy_stats(tmp_path: Path) -> None:
    """requests, skipped_known, errors and files_written are added to the run at every grouped commit, with
    the posts: a kill -9 loses only what the last group would have added. An incremental run over an
    archived site, with new posts to fetch slowly, is killed after one commit is seen to follow a moment
    whose requests and files are known, then resumed."""
    known = generate_site(40)
    other = generate_site(STOPPED_POSTS, seed=1)
    added = [(name, text) for name, text in other.files
             if name not in other.malformed and other.twin_info_code[2:] not in name]
    out = tmp_path / "out"
    with replica(known.files) as server:
        assert finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url).returncode == 0
    files_before = post_files(out)
    everything = known.files + added
    with replica(everything, delay=SLOW) as server:
        crawl = start_finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
        wait_until(lambda: archived_posts(out) >= len(known.valid_info_codes) + len(added) // 6, crawl)
        # The replica logs a request as it arrives, after Scrapy counted it; a file exists once counted.
        requests_seen = len(server.requests)
        files_seen = len(post_files(out) - files_before)
        committed = committed_run(out, 2)["requests"]

        def committed_again_while_running() -> bool:
            run = committed_run(out, 2)
            return run["status"] == "running" and run["requests"] > committed

        # A commit after that moment, mid-crawl: it added every request and file counted by then.
        wait_until(committed_again_while_running, crawl)
        crawl.kill()
        crawl.communicate()
        assert crawl.returncode == -signal.SIGKILL
        assert archived_posts(out) < len(known.valid_info_codes) + len(added), "killed too late to test anything"
        at_kill = committed_run(out, 2)
        assert at_kill["requests"] >= requests_seen
        assert at_kill["files_written"] >= files_seen
        # Listings come before posts: every known post page was skipped, and committed, by then.
        assert at_kill["skipped_known"] == len(known.files) - len(known.malformed)
        assert at_kill["skipped_rejected"] == len(known.malformed)
        status = finews("status", "--output", "out", cwd=tmp_path).stdout.splitlines()
        assert status[4].split()[:2] == ["2", "abandoned"]

        server.requests.clear()
        resumed = finews("crawl", "--resume", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert resumed.returncode == 0, resumed.stderr
    (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs WHERE id = 2")
    assert (run["status"], run["resumes"], run["new"], run["errors"]) == ("finished", 1, len(added), 0)
    # The resumed session counts all of its own: every request the replica saw since.
    assert run["requests"] == at_kill["requests"] + len(server.requests)
    # It lists every post page again, but counts none the killed session accounted for: each page is counted
    # once in the run, skipped as archived, skipped as rejected, or new.
    assert (run["skipped_known"], run["skipped_rejected"]) == (at_kill["skipped_known"], at_kill["skipped_rejected"])
    assert run["skipped_known"] + run["skipped_rejected"] + run["new"] == len(everything)
    # Each added post's file is counted at most once; every post new in the resumed session wrote one.
    assert at_kill["files_written"] + run["new"] - at_kill["new"] <= run["files_written"] <= len(added)
    assert post_files(out) - files_before == {name for name, _text in added}


def crawl_stopped_at_a_third(
    site: SyntheticSite, tmp_path: Path, proxy: str, stops: list[signal.Signals]
) -> tuple[subprocess.Popen, str, str]:
    """A crawl into tmp_path/out sent ``stops`` (20 ms apart) once a third of the posts are archived."""
    crawl = start_finews("crawl", "--output", "out", cwd=tmp_path, proxy=proxy)
    wait_until(lambda: archived_posts(tmp_path / "out") >= len(site.valid_info_codes) // 3, crawl)
    for number, stop in enumerate(stops):
        if number:
            time.sleep(0.02)
        crawl.send_signal(stop)
    stdout, stderr = crawl.communicate(timeout=WAIT_SECONDS)
    return crawl, stdout, stderr


@pytest.mark.parametrize(("stop", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stop_signal_records_the_run_interrupted_and_resume_completes_it(
    slow_site: SyntheticSite, tmp_path: Path, stop: signal.Signals, exit_code: int
) -> None:
    out = tmp_path / "out"
    valid = len(slow_site.valid_info_codes)
    with replica(slow_site.files, delay=SLOW) as server:
        crawl, stdout, stderr = crawl_stopped_at_a_third(slow_site, tmp_path, server.proxy_url, [stop])
        assert crawl.returncode == exit_code, stderr
        assert stdout.startswith(f"run 1 interrupted by {stop.name}: ")
        assert stderr.strip().splitlines()[-1] == "finews crawl: run 1 interrupted; `finews crawl --resume` continues it"
        (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs")
        assert (run["status"], run["exit_code"]) == ("interrupted", exit_code)
        assert valid // 3 <= run["new"] < valid, "stopped at once, after finishing what was in flight"
        assert (out / JOBS_DIR / "run-1" / CLEAN_STOP_MARK).exists()
        assert integrity(out) == "ok"
        assert_posts_folder_whole(out)

        time.sleep(GAP)  # the operator resumes later: the run's time is what it ran, not this gap
        resumed = finews("crawl", "--resume", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("run 1 finished (resumed; counts and time of the whole run): ")
    (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs")
    assert (run["status"], run["exit_code"], run["resumes"], run["new"]) == ("finished", 0, 1, valid)
    assert (run["merged"], run["skipped_known"], run["skipped_rejected"]) == (1, 0, 0)
    wall = (datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])).total_seconds()
    assert 0 < run["running_seconds"] <= wall - GAP + 1  # the timestamps have whole seconds
    assert f"{run['running_seconds']:.1f} s;" in resumed.stdout
    status = finews("status", "--output", "out", cwd=tmp_path).stdout.splitlines()
    assert status[4].split()[4:7] == [f"{run['running_seconds']:.0f}", "s", "2"]  # ran, sessions
    assert {row["info_code"] for row in rows(out / "archive.db", "SELECT info_code FROM posts")} == set(
        slow_site.valid_info_codes)
    assert rows(out / "archive.db", "SELECT * FROM frontier") == []
    assert_one_file_per_row(out)
    assert not (out / JOBS_DIR).exists()


def test_a_second_signal_stops_at_once_and_still_records_the_run_interrupted(
    slow_site: SyntheticSite, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with replica(slow_site.files, delay=SLOW) as server:
        crawl, _stdout, stderr = crawl_stopped_at_a_third(
            slow_site, tmp_path, server.proxy_url, [signal.SIGINT, signal.SIGINT])
        assert crawl.returncode == 130, stderr
        assert "Traceback" not in stderr
        (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs")
        assert (run["status"], run["exit_code"]) == ("interrupted", 130)
        assert integrity(out) == "ok"

        resumed = finews("crawl", "--resume", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert resumed.returncode == 0, resumed.stderr
    assert {row["info_code"] for row in rows(out / "archive.db", "SELECT info_code FROM posts")} == set(
        slow_site.valid_info_codes)
    assert rows(out / "archive.db", "SELECT * FROM frontier") == []
    assert_one_file_per_row(out)


def test_a_post_whose_file_a_crash_kept_from_being_written_is_completed_by_the_next_run(
    crawled_twice: Crawled, tmp_path: Path
) -> None:
    """A row without its file, a temporary file, and the post still in the frontier: the next command writes
    the file from its row before it crawls (``_posts`` mirrors ``posts``), and the crawl fetches the post."""
    shutil.copytree(crawled_twice.work / "out", tmp_path / "out")
    out = tmp_path / "out"
    row = rows(out / "archive.db", "SELECT * FROM posts ORDER BY info_code LIMIT 1")[0]
    (out / "_posts" / row["file_name"]).rename(out / "_posts" / ".tmp-killed.md")
    db = sqlite3.connect(out / "archive.db")
    with db:
        db.execute("INSERT INTO frontier (name, url, discovered_at, run_id) VALUES (?, ?, '', 2)",
                   [row["name"], row["post_url"]])
    db.close()
    with replica(crawled_twice.site.files) as server:
        result = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    assert post_pages(server.requests) == [row["post_url"]]
    (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")
    assert (run["new"], run["updated"], run["unchanged"], run["files_written"]) == (0, 0, 1, 0)
    assert (out / "_posts" / row["file_name"]).is_file()
    assert rows(out / "archive.db", "SELECT * FROM frontier") == []
    assert_posts_folder_whole(out)
    assert_one_file_per_row(out)


def test_resume_with_nothing_to_resume_starts_a_new_run(crawled_twice: Crawled, tmp_path: Path) -> None:
    shutil.copytree(crawled_twice.work / "out", tmp_path / "out")
    with replica(crawled_twice.site.files) as server:
        result = finews("crawl", "--resume", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("run 3 finished: ") and post_pages(server.requests) == []


def test_full_and_resume_together_is_a_usage_error(tmp_path: Path) -> None:
    result = finews("crawl", "--full", "--resume", "--output", "out", cwd=tmp_path)
    assert result.returncode == 2 and "not allowed with argument" in result.stderr
    assert not (tmp_path / "out").exists()


# Output -------------------------------------------------------------------------------------------


def read_terminal(process: subprocess.Popen, master: int) -> Iterator[bytes]:
    while True:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # Linux: the terminal's other side closed with the process
                return
            if not chunk:
                return
            yield chunk
        elif process.poll() is not None:
            return


def test_on_a_terminal_a_live_progress_display_then_the_summary(tmp_path: Path) -> None:
    site = generate_site(40)
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    with replica(site.files, delay=0.02) as server:
        env.update(PYTHONPATH=str(ROOT), http_proxy=server.proxy_url, COLUMNS="200", TERM="xterm")
        master, terminal = pty.openpty()
        crawl = subprocess.Popen(
            [sys.executable, "-m", "crawler.cli", "crawl", "--output", "out"], cwd=tmp_path, env=env,
            stdin=terminal, stdout=terminal, stderr=terminal,
        )
        os.close(terminal)
        try:
            shown = b"".join(read_terminal(crawl, master)).decode("utf-8", "replace")
        finally:
            os.close(master)
        assert crawl.wait(timeout=WAIT_SECONDS) == 0, shown
    plain = without_escapes(shown)
    assert re.search(r"posts +\d+/\d+ .*\d+:\d\d:\d\d new \d+ · updated \d+ · merged \d+ · unchanged \d+ · "
                     r"rejected \d+ · skipped \d+ archived, \d+ rejected · lists \d+ · [\d.]+ req/s", plain), plain
    assert f"{len(site.files)}/{len(site.files)}" in plain  # the display's last state: every post done
    assert plain.rstrip().splitlines()[-1].startswith("run 1 finished: ")


HIDE_CURSOR, SHOW_CURSOR = b"\x1b[?25l", b"\x1b[?25h"
# What a progress line starts with: rich's spinner ("dots"), one of these at each refresh, or a space once done.
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def without_escapes(shown: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", shown)


@dataclass
class OnTerminal:
    """A ``finews crawl`` on a pseudo-terminal of ``columns`` columns, and every byte it wrote there."""

    process: subprocess.Popen
    shown: bytearray
    reader: threading.Thread

    def wait(self) -> bytes:
        self.process.wait(timeout=WAIT_SECONDS)
        self.reader.join(timeout=WAIT_SECONDS)
        return bytes(self.shown)


def crawl_on_a_terminal(cwd: Path, proxy: str, columns: int) -> OnTerminal:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env.update(PYTHONPATH=str(ROOT), http_proxy=proxy, COLUMNS=str(columns), LINES="24", TERM="xterm")
    master, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "--output", "out"], cwd=cwd, env=env,
        stdin=terminal, stdout=terminal, stderr=terminal,
    )
    os.close(terminal)
    shown = bytearray()

    def read() -> None:
        # Read all along: a terminal nobody reads blocks its writer, and the crawl with it.
        try:
            for chunk in read_terminal(process, master):
                shown.extend(chunk)
        finally:
            os.close(master)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return OnTerminal(process, shown, reader)


def test_a_double_ctrl_c_on_a_terminal_shows_the_cursor_again_and_nothing_after_the_exit_line(
    slow_site: SyntheticSite, tmp_path: Path
) -> None:
    with replica(slow_site.files, delay=SLOW) as server:
        crawl = crawl_on_a_terminal(tmp_path, server.proxy_url, columns=120)
        wait_until(lambda: archived_posts(tmp_path / "out") >= len(slow_site.valid_info_codes) // 3, crawl.process)
        crawl.process.send_signal(signal.SIGINT)
        time.sleep(0.02)
        crawl.process.send_signal(signal.SIGINT)
        shown = crawl.wait()
    assert crawl.process.returncode == 130, shown
    assert HIDE_CURSOR in shown, "the display never ran"
    assert shown.rindex(SHOW_CURSOR) > shown.rindex(HIDE_CURSOR), "the cursor is left hidden"
    exit_line = b"finews crawl: run 1 interrupted; `finews crawl --resume` continues it"
    assert exit_line in shown, shown
    after = shown[shown.index(exit_line) + len(exit_line):]
    # Nothing drawn after the exit line: no progress line, no escape at all.
    assert after.strip() == b"", after


def test_at_80_columns_the_progress_line_keeps_the_posts_done_of_queued(tmp_path: Path) -> None:
    site = generate_site(40)
    with replica(site.files, delay=0.02) as server:
        crawl = crawl_on_a_terminal(tmp_path, server.proxy_url, columns=80)
        shown = crawl.wait()
    assert crawl.process.returncode == 0, shown
    lines = [line for line in without_escapes(shown.decode("utf-8", "replace")).replace("\r", "\n").splitlines()
             if line.strip()]
    progress = [line for line in lines if re.match(rf"[{SPINNER} ] ", line)]
    assert progress, lines
    assert all(len(line) <= 80 for line in progress), progress
    # Done of queued and the time always show; the counts are cut short with an ellipsis when they do not fit.
    assert all(re.search(r"posts +\d+/(\d+|\?) .*\d+:\d\d:\d\d", line) for line in progress), progress
    assert f"{len(site.files)}/{len(site.files)}" in progress[-1]


def test_quiet_prints_nothing_when_all_is_well(crawled_twice: Crawled, tmp_path: Path) -> None:
    shutil.copytree(crawled_twice.work / "out", tmp_path / "out")
    with replica(crawled_twice.site.files) as server:
        result = finews("crawl", "--quiet", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
