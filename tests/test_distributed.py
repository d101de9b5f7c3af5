"""The distributed crawl end to end: a real redis-server, the replica on loopback, ``finews crawl --redis``
and ``finews worker`` as real processes, real SQLite files; compared with a single-process crawl."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from crawler.distributed import local
from crawler.postfile import parse_post_file
from crawler.replica.generate import SyntheticSite, generate_site
from crawler.replica.render import render_site
from crawler.replica.server import ReplicaServer
from tests.redis_server import RedisServer, needs_redis
from tests.test_crawl import ROOT, finews, rows

pytestmark = needs_redis

POSTS = 2_000
# Killed worker's requests come back this long after its last heartbeat (FINEWS_WORKER_TTL).
TTL = "2"
RUN_TIMEOUT = 300


def finews_process(*args: str, cwd: Path, proxy: str, log: Path) -> subprocess.Popen[str]:
    """``finews`` started in the background (as an operator starts workers), its output to ``log``."""
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env["PYTHONPATH"] = str(ROOT)
    env["http_proxy"] = proxy
    return subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", *args], cwd=cwd, env=env, text=True,
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )


def finished(process: subprocess.Popen[str], log: Path) -> str:
    """Wait for ``process``; its output. Fails the test with that output if it did not exit 0."""
    code = process.wait(timeout=RUN_TIMEOUT)
    output = log.read_text()
    assert code == 0, output
    return output


def posts_and_hashes(output: Path) -> set[tuple[str, str]]:
    return {(row["info_code"], row["content_hash"]) for row in rows(output / "archive.db", "SELECT * FROM posts")}


def files(output: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in (output / "_posts").iterdir()}


@pytest.fixture(scope="module")
def site() -> SyntheticSite:
    return generate_site(POSTS)


@pytest.fixture(scope="module")
def replica(site: SyntheticSite) -> Iterator[ReplicaServer]:
    with ReplicaServer(render_site(parse_post_file(name, text) for name, text in site.files)) as server:
        yield server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def two_workers(replica: ReplicaServer, redis_server: RedisServer, tmp_path_factory: pytest.TempPathFactory):
    """The same replica crawled by one process, and by ``finews crawl --redis`` with one more worker."""
    work = tmp_path_factory.mktemp("distributed")
    single = finews("crawl", "--output", "single", cwd=work, proxy=replica.proxy_url, timeout=RUN_TIMEOUT)
    assert single.returncode == 0, single.stderr
    redis_server.flush()
    requests_before = len(replica.requests)
    crawl = finews_process("crawl", "--redis", redis_server.url, "--output", "shared", cwd=work,
                           proxy=replica.proxy_url, log=work / "crawl.log")
    worker = finews_process("worker", "--redis", redis_server.url, "--idle-exit", "10", cwd=work,
                            proxy=replica.proxy_url, log=work / "worker.log")
    crawl_output = finished(crawl, work / "crawl.log")
    worker_output = finished(worker, work / "worker.log")
    requested = replica.requests[requests_before:]
    return work, crawl_output, worker_output, requested


def test_two_workers_archive_what_one_process_archives(site, two_workers):
    work, crawl_output, worker_output, _requested = two_workers
    assert posts_and_hashes(work / "shared") == posts_and_hashes(work / "single")
    assert {code for code, _hash in posts_and_hashes(work / "shared")} == set(site.valid_info_codes)
    assert files(work / "shared") == files(work / "single")
    for table, key in (("post_urls", "url, kind, info_code"), ("rejects", "url, reason"), ("pages", "url, status")):
        query = f"SELECT {key} FROM {table}"
        assert rows(work / "shared" / "archive.db", query) and sorted(
            map(tuple, map(dict.values, rows(work / "shared" / "archive.db", query)))
        ) == sorted(map(tuple, map(dict.values, rows(work / "single" / "archive.db", query))))
    assert " finished: " in crawl_output, crawl_output
    # Both processes did part of the work.
    handed_off = int(worker_output.split(" posts handed off")[0].rsplit(" ", 1)[1])
    assert 0 < handed_off < POSTS, worker_output


def test_no_page_is_fetched_twice_across_workers(two_workers):
    _work, _crawl, _worker, requested = two_workers
    post_pages = [url for url in requested if url.endswith(".html") and "/20" in url]
    assert post_pages and not [url for url, times in Counter(post_pages).items() if times > 1]


def test_the_run_is_recorded_once_with_both_workers_counts(two_workers):
    work, _crawl, _worker, requested = two_workers
    (run,) = rows(work / "shared" / "archive.db", "SELECT * FROM crawl_runs")
    assert run["status"] == "finished" and run["exit_code"] == 0
    assert run["new"] == len(posts_and_hashes(work / "shared")) and run["rejected"] == 2
    # Each worker's requests, robots.txt included, added to the one run: all the replica answered.
    assert run["requests"] == len(requested)


def test_a_second_distributed_run_fetches_no_archived_post(replica, redis_server, two_workers):
    work, *_ = two_workers
    before = len(replica.requests)
    crawl = finews_process("crawl", "--redis", redis_server.url, "--output", "shared", cwd=work,
                           proxy=replica.proxy_url, log=work / "again.log")
    worker = finews_process("worker", "--redis", redis_server.url, "--idle-exit", "5", cwd=work,
                            proxy=replica.proxy_url, log=work / "again-worker.log")
    finished(crawl, work / "again.log")
    finished(worker, work / "again-worker.log")
    fetched_posts = [url for url in replica.requests[before:] if "/20" in url and url.endswith(".html")]
    assert fetched_posts == []
    last = rows(work / "shared" / "archive.db", "SELECT * FROM crawl_runs ORDER BY id DESC LIMIT 1")[0]
    assert last["new"] == 0 and last["skipped_known"] >= len(posts_and_hashes(work / "shared"))
    # Every archived post was seen by this run, whichever worker read the listing.
    stale = rows(work / "shared" / "archive.db", f"SELECT name FROM posts WHERE last_seen_run != {last['id']}")
    assert stale == []


@pytest.fixture
def slow_replica() -> Iterator[tuple[SyntheticSite, ReplicaServer]]:
    site = generate_site(400, seed=7)
    with ReplicaServer(render_site(parse_post_file(name, text) for name, text in site.files), delay=0.03) as server:
        yield site, server


def _leases_of(redis_server: RedisServer, pid: int) -> tuple[str, int] | None:
    client = redis_server.client
    for member in client.smembers("finews:workers"):
        worker = member.decode()
        if worker.split(":")[-2] == str(pid):
            return worker, int(client.hlen(f"finews:leases:{worker}"))
    return None


def test_a_worker_killed_mid_run_loses_nothing_and_duplicates_nothing(slow_replica, redis_server, tmp_path):
    site, replica = slow_replica
    redis_server.flush()
    ttl = ("-s", f"FINEWS_WORKER_TTL={TTL}")
    crawl = finews_process("crawl", "--redis", redis_server.url, "--output", "out", *ttl, cwd=tmp_path,
                           proxy=replica.proxy_url, log=tmp_path / "crawl.log")
    victim = finews_process("worker", "--redis", redis_server.url, *ttl, cwd=tmp_path, proxy=replica.proxy_url,
                            log=tmp_path / "victim.log")
    survivor = finews_process("worker", "--redis", redis_server.url, *ttl, "--idle-exit", "10", cwd=tmp_path,
                              proxy=replica.proxy_url, log=tmp_path / "survivor.log")
    deadline = time.monotonic() + 60
    held = None
    while time.monotonic() < deadline:
        held = _leases_of(redis_server, victim.pid)
        if held and held[1] > 0 and _count_posts(tmp_path / "out") > 40:
            break
        time.sleep(0.05)
    assert held and held[1] > 0, "the victim never held a request"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    crawl_output = finished(crawl, tmp_path / "crawl.log")
    finished(survivor, tmp_path / "survivor.log")
    archived = {row["info_code"] for row in rows(tmp_path / "out" / "archive.db", "SELECT info_code FROM posts")}
    assert archived == set(site.valid_info_codes), crawl_output
    assert len(list((tmp_path / "out" / "_posts").iterdir())) == len(archived)
    assert not list((tmp_path / "out" / "_posts").glob(".tmp-*"))
    # What the victim held went back to the frontier and was fetched by the others.
    client = redis_server.client
    assert client.hlen(f"finews:leases:{held[0]}") == 0 and not client.sismember("finews:workers", held[0])
    (run,) = rows(tmp_path / "out" / "archive.db", "SELECT * FROM crawl_runs")
    assert run["status"] == "finished" and run["new"] == len(archived)


def wait_until_archived(output: Path, count: int) -> None:
    """Until the running crawl into ``output`` has archived more than ``count`` posts (a minute at most)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _count_posts(output) <= count:
        time.sleep(0.05)


def assert_resume_finishes_the_run(
    redis_server: RedisServer, replica: ReplicaServer, site: SyntheticSite, work: Path
) -> None:
    """``finews crawl --redis --resume`` on ``work/out`` archives every valid post, in the stopped run."""
    resumed = finews("crawl", "--redis", redis_server.url, "--resume", "--output", "out", cwd=work,
                     proxy=replica.proxy_url, timeout=RUN_TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr
    archived = {row["info_code"] for row in rows(work / "out" / "archive.db", "SELECT info_code FROM posts")}
    assert archived == set(site.valid_info_codes)
    (run,) = rows(work / "out" / "archive.db", "SELECT * FROM crawl_runs")
    assert run["status"] == "finished" and run["resumes"] == 1 and run["new"] == len(archived)


def _count_posts(output: Path) -> int:
    """Posts archived so far, read as any reader would during a crawl; 0 before the archive exists."""
    if not (output / "archive.db").exists():
        return 0
    db = sqlite3.connect(f"file:{output / 'archive.db'}?mode=ro", uri=True, timeout=5)
    try:
        return int(db.execute("SELECT count(*) FROM posts").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        db.close()


def test_a_worker_with_no_crawl_to_join_exits_after_idle_exit(redis_server, tmp_path):
    redis_server.flush()
    started = time.monotonic()
    result = finews("worker", "--redis", redis_server.url, "--idle-exit", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no crawl to join" in result.stdout and time.monotonic() - started < 30
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_redis_is_one_line_and_exit_1(tmp_path):
    result = finews("crawl", "--redis", "redis://127.0.0.1:1/0", "--output", "out", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Redis at redis://127.0.0.1:1/0 cannot be reached" in result.stderr
    worker = finews("worker", "--redis", "redis://127.0.0.1:1/0", cwd=tmp_path)
    assert worker.returncode == 1 and "cannot be reached" in worker.stderr


def test_redis_lost_mid_run_is_one_line_and_exit_1_and_a_resume_finishes_the_run(slow_replica, tmp_path):
    site, replica = slow_replica
    with RedisServer(tmp_path / "redis-lost") as lost:
        crawl = finews_process("crawl", "--redis", lost.url, "--output", "out", cwd=tmp_path,
                               proxy=replica.proxy_url, log=tmp_path / "crawl.log")
        wait_until_archived(tmp_path / "out", 20)
    code = crawl.wait(timeout=RUN_TIMEOUT)
    output = (tmp_path / "crawl.log").read_text()
    assert code == 1, output
    assert output.strip().splitlines()[-1].startswith(f"finews crawl: Redis at {lost.url} was lost: ")
    (run,) = rows(tmp_path / "out" / "archive.db", "SELECT * FROM crawl_runs")
    assert run["status"] == "interrupted" and run["exit_code"] == 1
    # A new Redis server knows nothing of the run: the resume finds every post not archived in the listings.
    with RedisServer(tmp_path / "redis-new") as fresh:
        assert_resume_finishes_the_run(fresh, replica, site, tmp_path)


def test_an_unusable_setting_is_refused_before_the_run_starts(redis_server, tmp_path):
    result = finews("crawl", "--redis", redis_server.url, "--output", "out", "-s", "FINEWS_WORKER_TTL=soon",
                    cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "finews crawl: argument -s/--set: FINEWS_WORKER_TTL='soon': not a number"
    assert not (tmp_path / "out").exists()


def test_sigterm_stops_the_crawl_and_its_workers_and_resume_finishes_the_run(slow_replica, redis_server, tmp_path):
    site, replica = slow_replica
    redis_server.flush()
    crawl = finews_process("crawl", "--redis", redis_server.url, "--output", "out", cwd=tmp_path,
                           proxy=replica.proxy_url, log=tmp_path / "crawl.log")
    worker = finews_process("worker", "--redis", redis_server.url, cwd=tmp_path, proxy=replica.proxy_url,
                            log=tmp_path / "worker.log")
    wait_until_archived(tmp_path / "out", 40)
    crawl.send_signal(signal.SIGTERM)
    assert crawl.wait(timeout=RUN_TIMEOUT) == 143, (tmp_path / "crawl.log").read_text()
    # The worker stops with the run (well before its 30 s idle exit), returning what it held.
    finished(worker, tmp_path / "worker.log")
    assert redis_server.client.scard("finews:workers") == 0
    (run,) = rows(tmp_path / "out" / "archive.db", "SELECT * FROM crawl_runs")
    assert run["status"] == "interrupted" and run["exit_code"] == 143
    assert _count_posts(tmp_path / "out") < len(site.valid_info_codes)
    assert_resume_finishes_the_run(redis_server, replica, site, tmp_path)


# finews crawl --workers N: the same on this machine's cores, nothing set up by hand ----------------------------


def _children_of(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _both_helpers(children: list[psutil.Process]) -> bool:
    try:
        commands = [" ".join(child.cmdline()) for child in children]
    except psutil.NoSuchProcess:  # one ended between being listed and being read: look again
        return False
    return any("redis-server" in command for command in commands) and any(" worker" in command for command in commands)


def test_workers_2_archives_what_one_process_archives_and_leaves_no_process(two_workers, replica, tmp_path):
    work, *_ = two_workers
    before = len(replica.requests)
    crawl = finews_process("crawl", "--workers", "2", "--output", "local", cwd=tmp_path, proxy=replica.proxy_url,
                           log=tmp_path / "crawl.log")
    # Its helpers while it runs: a redis-server on a socket only this user may open, and one worker.
    # Until both are there as what they run: a child just forked still shows its parent's command line.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _both_helpers(helpers := _children_of(crawl.pid)):
        time.sleep(0.05)
    names = sorted(" ".join(child.cmdline()[:4]) for child in helpers)
    server = next(child for child in helpers if "redis-server" in child.name())
    assert server.net_connections(kind="inet") == [], "no TCP port"
    (socket_path,) = {connection.laddr for connection in server.net_connections(kind="unix") if connection.laddr}
    assert stat.S_IMODE(Path(socket_path).parent.stat().st_mode) == 0o700
    # Redis shares this machine's memory with the crawl: the worker's backlog is the smaller local one.
    (worker_command,) = [child.cmdline() for child in helpers if "worker" in child.cmdline()]
    assert f"FINEWS_MAX_BACKLOG={local.LOCAL_MAX_BACKLOG}" in worker_command
    output = finished(crawl, tmp_path / "crawl.log")
    assert any("redis-server" in name for name in names) and any("crawler.cli worker" in name for name in names), names
    assert " finished: " in output and "worker" not in output, output
    assert posts_and_hashes(tmp_path / "local") == posts_and_hashes(work / "single")
    assert files(tmp_path / "local") == files(work / "single")
    post_pages = [url for url in replica.requests[before:] if url.endswith(".html") and "/20" in url]
    assert len(post_pages) == len(set(post_pages)) == POSTS
    assert not [child for child in helpers if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]


def test_a_killed_workers_crawl_takes_its_helpers_with_it_and_resume_finishes(slow_replica, tmp_path):
    site, replica = slow_replica
    crawl = finews_process("crawl", "--workers", "2", "--output", "out", cwd=tmp_path, proxy=replica.proxy_url,
                           log=tmp_path / "crawl.log")
    wait_until_archived(tmp_path / "out", 40)
    helpers = _children_of(crawl.pid)
    assert len(helpers) >= 2, helpers
    crawl.send_signal(signal.SIGKILL)
    crawl.wait(timeout=RUN_TIMEOUT)
    _gone, alive = psutil.wait_procs(helpers, timeout=30)
    assert alive == [], [child.cmdline() for child in alive]
    resumed = finews("crawl", "--workers", "2", "--resume", "--output", "out", cwd=tmp_path, proxy=replica.proxy_url,
                     timeout=RUN_TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr
    assert {code for code, _hash in posts_and_hashes(tmp_path / "out")} == set(site.valid_info_codes)


def test_without_redis_server_workers_stop_before_the_run_with_one_line(monkeypatch):
    monkeypatch.setattr(local, "redis_binary", lambda: None)
    with pytest.raises(local.CrawlError, match=r"^--workers needs redis-server: `apt-get install redis-server`"):
        local.run_crawl_on_local_workers("http://finews.withounder.com/", Path("never-made"), 2, {}, {})
    assert not Path("never-made").exists()


def test_workers_with_redis_is_refused(tmp_path):
    result = finews("crawl", "--workers", "2", "--redis", "redis://127.0.0.1:1/0", cwd=tmp_path)
    assert result.returncode == 2
    assert "--workers starts its own Redis server" in result.stderr


def test_a_workers_crawl_whose_posts_folder_turns_unwritable_fails_in_one_line_and_resume_finishes(
    slow_replica, tmp_path
):
    """A storage fault in the writer of a distributed crawl stops every process of it, as in one process."""
    from tests.test_faults import assert_rows_equal_files, last_run, unwritable

    site, replica = slow_replica
    out = tmp_path / "out"
    crawl = finews_process("crawl", "--workers", "2", "--output", "out", cwd=tmp_path, proxy=replica.proxy_url,
                           log=tmp_path / "crawl.log")
    wait_until_archived(out, 40)
    with unwritable(out / "_posts"):
        assert crawl.wait(timeout=RUN_TIMEOUT) == 1
        (line,) = (tmp_path / "crawl.log").read_text().splitlines()
        assert line.startswith(f"finews crawl: cannot write: {out / '_posts'}/"), line
        assert_rows_equal_files(out)
        assert last_run(out)["status"] == "failed" and last_run(out)["failure"] in line
    resumed = finews("crawl", "--workers", "2", "--resume", "--output", "out", cwd=tmp_path, proxy=replica.proxy_url,
                     timeout=RUN_TIMEOUT)
    assert resumed.returncode == 0, resumed.stderr
    assert {code for code, _hash in posts_and_hashes(out)} == set(site.valid_info_codes)
    assert_rows_equal_files(out)
