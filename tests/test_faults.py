"""Unattended runs meet real faults: a disk that fills, a folder that turns read-only, a site that throttles
or dies. Each ends with the right exit code, a line or two of stderr, an intact archive, one file per row;
and ``finews crawl --resume`` afterwards reaches the same rows and bytes as a crawl never disturbed.

Real parts only: the replica on loopback (throttling, dying), a tmpfs or RLIMIT_FSIZE (a full disk),
``chattr +i`` as root or a mode of 0555 otherwise (an unwritable folder), the real command in its own process.
"""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from crawler.postfile import parse_post_file
from crawler.replica.generate import SyntheticSite, generate_site
from crawler.replica.render import SITE_HOST, TEXT, Page, PageKey, render_site
from crawler.replica.server import NO_ANSWER, ReplicaServer
from tests.test_crawl import ROOT, finews
from tests.test_scheduled import POST_PAGE, integrity, post_files, wait_until

POSTS = 200
SLOW = 0.03
WAIT_SECONDS = 90


@dataclass(frozen=True)
class ArchiveState:
    """What a crawl leaves that must not depend on how it got there (no times, no run ids)."""

    posts: tuple[tuple, ...]
    files: dict[str, bytes]
    rejects: tuple[tuple[str, str], ...]
    frontier: int


def archive_state(out: Path) -> ArchiveState:
    db = sqlite3.connect(out / "archive.db")
    try:
        posts = tuple(db.execute(
            "SELECT info_code, name, kind, media, content_hash, file_name, body_origin, share_status FROM posts "
            "ORDER BY info_code"
        ))
        rejects = tuple(db.execute("SELECT url, reason FROM rejects ORDER BY url"))
        frontier = db.execute("SELECT count(*) FROM frontier").fetchone()[0]
    finally:
        db.close()
    files = {path.name: path.read_bytes() for path in (out / "_posts").iterdir()}
    return ArchiveState(posts, files, rejects, frontier)


def last_run(out: Path) -> dict:
    db = sqlite3.connect(out / "archive.db")
    db.row_factory = sqlite3.Row
    try:
        return dict(db.execute("SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone())
    finally:
        db.close()


def assert_rows_equal_files(out: Path) -> None:
    db = sqlite3.connect(out / "archive.db")
    try:
        named = {row[0] for row in db.execute("SELECT file_name FROM posts")}
    finally:
        db.close()
    assert named == {path.name for path in (out / "_posts").iterdir()}


def files_written(out: Path) -> int:
    return len(post_files(out)) if (out / "_posts").is_dir() else 0


def start_crawl(*args: str, cwd: Path, proxy: str, preexec: Callable[[], None] | None = None) -> subprocess.Popen:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env.update(PYTHONPATH=str(ROOT), http_proxy=proxy)
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "crawl", "--output", "out", *args], cwd=cwd, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=preexec,  # noqa: PLW1509 - only setrlimit, one system call that takes no lock
    )


@pytest.fixture(scope="module")
def site() -> SyntheticSite:
    return generate_site(POSTS)


@pytest.fixture(scope="module")
def pages(site: SyntheticSite) -> dict[PageKey, Page]:
    return render_site(parse_post_file(name, text) for name, text in site.files)


@pytest.fixture(scope="module")
def undisturbed(pages: dict[PageKey, Page], tmp_path_factory: pytest.TempPathFactory) -> ArchiveState:
    work = tmp_path_factory.mktemp("undisturbed")
    with ReplicaServer(pages) as server:
        result = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    state = archive_state(work / "out")
    assert state.frontier == 0 and len(state.files) == len(state.posts) > POSTS // 2
    return state


def resume_reaches(undisturbed: ArchiveState, pages: dict[PageKey, Page], work: Path) -> None:
    """``finews crawl --resume`` on the healthy site: exit 0, and the state of the undisturbed crawl."""
    with ReplicaServer(pages) as server:
        result = finews("crawl", "--resume", "--output", "out", cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    state = archive_state(work / "out")
    assert state.posts == undisturbed.posts
    assert state.files == undisturbed.files
    assert state.rejects == undisturbed.rejects
    assert state.frontier == 0
    assert integrity(work / "out") == "ok"


def assert_failed_in_one_line(process: subprocess.Popen, out: Path, *words: str) -> str:
    _stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == 1, stderr[-3000:]
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr[-3000:]
    assert lines[0].startswith("finews crawl: ") and all(word in lines[0] for word in words), lines[0]
    assert integrity(out) == "ok"
    run = last_run(out)
    assert (run["status"], run["exit_code"]) == ("failed", 1)
    assert run["failure"] and run["failure"] in lines[0]
    return lines[0]


# An unwritable _posts ---------------------------------------------------------------------------


@contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """``folder`` refuses new files, for root too: ``chattr +i`` as root, mode 0555 otherwise."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)],
                                                            capture_output=True, check=False).returncode != 0:
            pytest.skip("running as root on a file system without chattr +i")
        undo = ["chattr", "-i", str(folder)]
    else:
        folder.chmod(0o555)
        undo = None
    try:
        yield
    finally:
        if undo:
            subprocess.run(undo, check=True)
        else:
            folder.chmod(0o755)


def test_posts_folder_made_unwritable_mid_crawl_stops_the_run_then_resume_completes_it(
    pages: dict[PageKey, Page], undisturbed: ArchiveState, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with ReplicaServer(pages, delay=SLOW) as server:
        process = start_crawl(cwd=tmp_path, proxy=server.proxy_url)
        wait_until(lambda: files_written(out) >= 20, process)
        with unwritable(out / "_posts"):
            line = assert_failed_in_one_line(process, out, str(out / "_posts"))
            assert "Operation not permitted" in line or "Permission denied" in line
            # Every row has its file: a post whose file failed was not archived, and stays in the frontier.
            assert_rows_equal_files(out)
            assert archive_state(out).frontier > 0
    resume_reaches(undisturbed, pages, tmp_path)


# A full disk ------------------------------------------------------------------------------------


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Callable[[str], None]]:
    """A tmpfs of ``size`` on ``folder``; yields a function that resizes it. Skips where mounting is refused."""
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                           capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root, or no mount privilege); RLIMIT_FSIZE covers it")

    def resize(new_size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={new_size}", str(folder)], check=True)

    try:
        yield resize
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_disk_that_fills_mid_crawl_stops_the_run_then_resume_completes_it(
    pages: dict[PageKey, Page], undisturbed: ArchiveState, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    with tmpfs(out, "2000k") as resize:
        with ReplicaServer(pages) as server:
            process = start_crawl(cwd=tmp_path, proxy=server.proxy_url)
            assert_failed_in_one_line(process, out, "disk full")
            # Stopped at the fault: far from every post of the site fetched.
            assert len([url for url in server.requests if POST_PAGE.match(url)]) < POSTS
        assert_rows_equal_files(out)
        resize("64m")
        resume_reaches(undisturbed, pages, tmp_path)


def file_size_limit(limit: int) -> Callable[[], None]:
    def limit_file_size() -> None:
        # Python ignores SIGXFSZ: a write past the limit fails with EFBIG, as on a full file system.
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return limit_file_size


def test_a_file_that_may_not_grow_stops_the_run_then_resume_completes_it(
    pages: dict[PageKey, Page], undisturbed: ArchiveState, tmp_path: Path
) -> None:
    """RLIMIT_FSIZE: the archive (or its WAL) cannot grow past 600 KB, for any user, on any file system."""
    out = tmp_path / "out"
    with ReplicaServer(pages) as server:
        process = start_crawl(cwd=tmp_path, proxy=server.proxy_url, preexec=file_size_limit(600_000))
        _stdout, stderr = process.communicate(timeout=WAIT_SECONDS)
    assert process.returncode == 1, stderr[-3000:]
    assert len(stderr.splitlines()) == 1, stderr[-3000:]
    assert "archive.db" in stderr and ("disk full" in stderr or "cannot write" in stderr), stderr
    assert integrity(out) == "ok"
    assert_rows_equal_files(out)
    resume_reaches(undisturbed, pages, tmp_path)


# A site that throttles --------------------------------------------------------------------------


class Throttle:
    """The site answers 429 with Retry-After to every post page for ``seconds`` from the first post request."""

    def __init__(self, seconds: float, retry_after: Callable[[], str]) -> None:
        self.seconds = seconds
        self.retry_after = retry_after
        self.started: float | None = None
        self.post_requests: list[tuple[float, bool]] = []  # (time, throttled)
        self.lock = threading.Lock()

    def __call__(self, host: str, path: str) -> Page | None:
        if host != SITE_HOST or not POST_PAGE.match(f"http://{host}{path}"):
            return None
        now = time.monotonic()
        with self.lock:
            if self.started is None:
                self.started = now
            throttled = now - self.started < self.seconds
            self.post_requests.append((now, throttled))
        if throttled:
            return Page(429, TEXT, b"Too Many Requests\n", headers=(("Retry-After", self.retry_after()),))
        return None


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_a_site_that_throttles_is_waited_for_and_every_post_archived(
    form: str, pages: dict[PageKey, Page], undisturbed: ArchiveState, tmp_path: Path
) -> None:
    pause = 3
    if form == "seconds":
        throttle = Throttle(6.0, lambda: str(pause))
    else:
        # One second more: an HTTP-date has whole seconds, and its second may be about to end.
        throttle = Throttle(6.0, lambda: format_datetime(datetime.now(UTC) + timedelta(seconds=pause + 1),
                                                         usegmt=True))
    with ReplicaServer(pages, fault=throttle) as server:
        result = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stderr == ""
    state = archive_state(tmp_path / "out")
    assert (state.posts, state.files, state.rejects, state.frontier) == (
        undisturbed.posts, undisturbed.files, undisturbed.rejects, 0)
    throttled = [at for at, was in throttle.post_requests if was]
    first = throttled[0]
    # The requests already on their way when the first 429 came (at most CONCURRENT_REQUESTS), then about
    # one probe per pause: not Scrapy's immediate retries, hundreds a second.
    assert len(throttled) <= 16 + throttle.seconds / pause + 3, len(throttled)
    # Retry-After honoured: once those on their way are answered (well within a second), nothing until the
    # pause is over.
    assert not [at for at, _was in throttle.post_requests if first + 1.0 < at < first + pause - 0.1]


def test_a_site_that_never_stops_throttling_fails_the_run_once_the_bound_is_passed(
    pages: dict[PageKey, Page], tmp_path: Path
) -> None:
    throttle = Throttle(3600.0, lambda: "1")
    with ReplicaServer(pages, fault=throttle) as server:
        result = finews("crawl", "--output", "out", "-s", "FINEWS_THROTTLE_GIVE_UP=3", cwd=tmp_path,
                        proxy=server.proxy_url)
    assert result.returncode == 1, result.stderr[-3000:]
    (line,) = result.stderr.splitlines()
    assert "kept throttling the crawl" in line and "429" in line, line
    out = tmp_path / "out"
    assert archive_state(out).rejects == archive_state(out).rejects  # readable
    db = sqlite3.connect(out / "archive.db")
    try:
        assert db.execute("SELECT count(*) FROM rejects WHERE reason LIKE '%429%'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM frontier").fetchone()[0] > 0
    finally:
        db.close()


# A site that dies -------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [NO_ANSWER, Page(503, TEXT, b"Service Unavailable\n")],
                         ids=["no answer", "503 without Retry-After"])
def test_a_site_killed_mid_crawl_stops_the_run_and_leaves_its_posts_in_the_frontier(
    answer: Page, pages: dict[PageKey, Page], undisturbed: ArchiveState, tmp_path: Path
) -> None:
    """Killed, or behind a proxy that answers 503 (with no Retry-After: no throttle) once it is gone."""
    out = tmp_path / "out"
    dead = threading.Event()

    def site_gone(host: str, _path: str) -> Page | None:
        # The site only: the share host, another service, still answers (the replica serves both).
        return answer if dead.is_set() and host == SITE_HOST else None

    with ReplicaServer(pages, delay=SLOW, fault=site_gone) as server:
        process = start_crawl(cwd=tmp_path, proxy=server.proxy_url)
        wait_until(lambda: files_written(out) >= POSTS // 4, process)
        # Killed: every connection to it closes unanswered.
        dead.set()
        killed_at = len(server.requests)
        started = time.monotonic()
        line = assert_failed_in_one_line(process, out, "stopped answering")
        assert time.monotonic() - started < 30
        # The breaker: a few attempts (those in flight, then FINEWS_SITE_BREAKER in a row), not every post's.
        asked_dead_site = [url for url in server.requests[killed_at:] if url.startswith(f"http://{SITE_HOST}/")]
        assert len(asked_dead_site) <= 40, len(asked_dead_site)
    db = sqlite3.connect(out / "archive.db")
    try:
        rejects = set(db.execute("SELECT url, reason FROM rejects"))
        assert rejects <= set(undisturbed.rejects), rejects  # malformed posts only: no connection failure
        assert db.execute("SELECT count(*) FROM frontier").fetchone()[0] > 0
    finally:
        db.close()
    assert_rows_equal_files(out)
    assert "frontier" in line
    resume_reaches(undisturbed, pages, tmp_path)


# What a failed run leaves for the next ---------------------------------------------------------


def test_an_outlet_post_that_failed_after_its_twin_was_archived_is_fetched_next_run_and_rejects_resolve(
    site: SyntheticSite, pages: dict[PageKey, Page], undisturbed: ArchiveState, tmp_path: Path
) -> None:
    """Run 1: the outlet post of the twice-published article answers 500 (its emnews twin is archived), and
    another post 404. Run 2, on the healthy site: both are fetched (the outlet post even with no frontier row:
    its infoCode being archived does not make its page known), the record becomes the outlet post's, the
    404's reject is resolved, and the archive is exactly the undisturbed crawl's."""
    outlet = next(path for host, path in pages if host == SITE_HOST and path.endswith(f"/{site.twin_info_code}.html"))
    gone = next(path for host, path in pages if host == SITE_HOST and "/jinwanbao/20" in path and path != outlet)
    failing = {outlet: Page(500, TEXT, b"Internal Server Error\n"), gone: Page(404, TEXT, b"Not Found\n")}
    with ReplicaServer(pages, fault=lambda host, path: failing.get(path) if host == SITE_HOST else None) as server:
        first = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert first.returncode == 1
    assert first.stderr.splitlines()[-1].startswith("finews crawl: 1 posts not archived (last: http 500")
    out = tmp_path / "out"
    db = sqlite3.connect(out / "archive.db")
    try:
        assert db.execute("SELECT kind FROM posts WHERE info_code = ?", [site.twin_info_code]).fetchone() == ("emnews",)
        assert db.execute("SELECT count(*) FROM rejects WHERE url LIKE ?", [f"%{gone}"]).fetchone()[0] == 1
        with db:
            db.execute("DELETE FROM frontier")  # as before this fix: only "known" decides
    finally:
        db.close()
    with ReplicaServer(pages) as server:
        second = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert second.returncode == 0, second.stderr
    assert {url for url in server.requests if POST_PAGE.match(url)} == {f"http://{SITE_HOST}{outlet}",
                                                                       f"http://{SITE_HOST}{gone}"}
    state = archive_state(out)
    assert (state.posts, state.files, state.rejects, state.frontier) == (
        undisturbed.posts, undisturbed.files, undisturbed.rejects, 0)


def test_every_command_leaves_one_file_per_row_and_removes_what_killed_commands_left(
    pages: dict[PageKey, Page], undisturbed: ArchiveState, tmp_path: Path
) -> None:
    with ReplicaServer(pages) as server:
        assert finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url).returncode == 0
        out = tmp_path / "out"
        kept = sorted(undisturbed.files)
        for command in (["export"], ["crawl"], ["export", "--format", "jsonl"], ["reparse"]):
            # A twin's file left behind, temporary files of killed writers, and a post file deleted by hand.
            (out / "_posts" / "2021-12-27-202112272299999999.md").write_text("---\ntitle: twin\n---\n")
            (out / "_posts" / ".tmp-killed.md").write_text("half")
            (out / ".tmp-killed.jsonl").write_text("half")
            (out / "_posts" / kept[0]).unlink()
            result = finews(*command, "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
            assert result.returncode == 0, (command, result.stderr)
            assert archive_state(out).files == undisturbed.files, command
            assert not (out / ".tmp-killed.jsonl").exists()


def test_export_takes_the_crawl_lock(pages: dict[PageKey, Page], tmp_path: Path) -> None:
    from crawler.lock import LOCK_FILE, CrawlLock

    with ReplicaServer(pages) as server:
        assert finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url).returncode == 0
    with CrawlLock(tmp_path / "out" / LOCK_FILE):
        result = finews("export", "--output", "out", cwd=tmp_path)
    assert result.returncode == 75
    assert result.stderr == f"finews export: another crawl (pid {os.getpid()}) is running on out\n"


@pytest.mark.parametrize("command", [["crawl"], ["export"], ["status"], ["search", "央行"], ["reparse"]])
def test_a_garbage_archive_is_one_line_and_exit_1(command: list[str], tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "archive.db").write_bytes(b"not SQLite at all\n" * 512)
    result = finews(*command, "--output", "out", cwd=tmp_path, proxy="http://127.0.0.1:9")
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"finews {command[0]}: ") and "archive.db" in line and "not a database" in line, line


def test_a_full_disk_before_the_run_is_one_line_and_exit_1(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with tmpfs(out, "256k"):
        filler = out / "filler"
        with open(filler, "wb") as file, pytest.raises(OSError):
            while True:
                file.write(bytes(64 * 1024))
                file.flush()
        result = finews("crawl", "--output", "out", cwd=tmp_path, proxy="http://127.0.0.1:9")
        assert result.returncode == 1, result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith("finews crawl: ") and "No space left on device" in line, line


# The pieces, alone --------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [
    (b"5", 5.0), ("120", 120.0), (" 7 ", 7.0),
    ("Sat, 05 Dec 2026 00:00:30 GMT", 30.0),  # RFC 9110's IMF-fixdate
    ("Saturday, 05-Dec-26 00:00:30 GMT", 30.0),  # the obsolete RFC 850 form
    ("Sat, 05 Dec 2026 00:00:00 GMT", 0.0), ("Fri, 04 Dec 2026 23:00:00 GMT", 0.0),  # now, or past: no wait
    ("-5", None), ("5.5", None), ("soon", None), ("", None), (None, None),
])
def test_retry_after_is_read_in_both_forms_and_junk_is_none(value, seconds):
    from crawler.throttle import retry_after_seconds

    now = datetime(2026, 12, 5, 0, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(value, now) == seconds


def test_a_download_error_wrapping_twisted_failures_is_said_in_their_words():
    from scrapy.exceptions import DownloadFailedError
    from twisted.internet.error import ConnectionDone
    from twisted.python.failure import Failure

    from crawler.sitehost import exception_words

    assert exception_words(DownloadFailedError([Failure(ConnectionDone())])) == (
        "ConnectionDone: Connection was closed cleanly.")
    assert exception_words(TimeoutError()) == "TimeoutError"


@pytest.mark.parametrize(("error", "reason"), [
    (OSError(28, "No space left on device", "out/_posts/x.md"), "disk full: out/_posts/x.md: No space left on device"),
    (OSError(30, "Read-only file system", "out/x"), "cannot write: out/x: Read-only file system"),
    (OSError(13, "Permission denied"), "cannot write: the output: Permission denied"),
    (sqlite3.OperationalError("database or disk is full"), "disk full: out/archive.db: database or disk is full"),
    (sqlite3.OperationalError("attempt to write a readonly database"),
     "cannot write: out/archive.db: attempt to write a readonly database"),
    (sqlite3.OperationalError("no such table: posts"), None),  # a bug, not the disk: it stays an error
    (OSError(104, "Connection reset by peer"), None),
    (ValueError("x"), None),
])
def test_storage_faults_are_told_from_other_errors(error, reason):
    from crawler.faults import storage_fault

    assert storage_fault(error, "out/archive.db") == reason
