"""Redis can delay or drop a distributed crawl's work, never run code in it (issue 20): a real redis-server
with a password, foreign entries pushed into the frontier and the records list during a crawl with a
worker, and a crafted pickle that would create a file if anything unpickled it."""

from __future__ import annotations

import json
import pickle
import sqlite3
from pathlib import Path

import pytest
import redis

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import render_site
from crawler.replica.server import ReplicaServer
from tests.redis_server import RedisServer, needs_redis
from tests.test_crawl import finews
from tests.test_distributed import RUN_TIMEOUT, files, finews_process, posts_and_hashes, wait_until_archived
from tests.test_request_codec import CreatesAFile

pytestmark = needs_redis
PASSWORD = "finews-test-secret"


def test_foreign_entries_are_dropped_counted_and_never_run_and_the_archive_is_a_single_crawls(tmp_path: Path):
    site = generate_site(300, seed=11)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    ran = tmp_path / "ran"
    with ReplicaServer(pages) as replica:
        single = finews("crawl", "--output", "single", cwd=tmp_path, proxy=replica.proxy_url, timeout=RUN_TIMEOUT)
    assert single.returncode == 0, single.stderr
    with RedisServer(tmp_path / "redis", password=PASSWORD) as server, ReplicaServer(pages, delay=0.02) as replica:
        crawl = finews_process("crawl", "--redis", server.url, "--output", "shared", cwd=tmp_path,
                               proxy=replica.proxy_url, log=tmp_path / "crawl.log")
        worker = finews_process("worker", "--redis", server.url, "--idle-exit", "10", cwd=tmp_path,
                                proxy=replica.proxy_url, log=tmp_path / "worker.log")
        wait_until_archived(tmp_path / "shared", 20)
        client = redis.Redis(host="127.0.0.1", port=server.port, password=PASSWORD)
        payload = pickle.dumps(CreatesAFile(ran))
        # Lowest scores: taken next. Three pickles (distinct members: bytes after a pickle's STOP are ignored
        # by pickle.loads) and a JSON request naming a method that is not a callback.
        foreign_requests = [payload + bytes([number]) for number in range(3)]
        foreign_requests.append(json.dumps({"v": 1, "url": "http://finews.withounder.com/x.html",
                                            "callback": "__init__"}).encode())
        client.zadd("finews:requests", {entry: -100 for entry in foreign_requests})
        foreign_records = [payload] * 3 + [json.dumps({"v": 1, "record": "os.system", "command": "touch"}).encode()]
        client.rpush("finews:items", *foreign_records)
        client.close()
        assert crawl.wait(timeout=RUN_TIMEOUT) == 0, (tmp_path / "crawl.log").read_text()
        assert worker.wait(timeout=RUN_TIMEOUT) == 0, (tmp_path / "worker.log").read_text()
    assert not ran.exists()
    assert posts_and_hashes(tmp_path / "shared") == posts_and_hashes(tmp_path / "single")
    assert files(tmp_path / "shared") == files(tmp_path / "single")
    logs = (tmp_path / "crawl.log").read_text() + (tmp_path / "worker.log").read_text()
    # Named once per reader (the frontier of each process, the writer's records list), not once per entry.
    assert logs.count("Dropped an entry of the records list") == 1, logs
    assert 1 <= logs.count("Dropped an entry of the frontier") <= 2, logs
    db = sqlite3.connect(tmp_path / "shared" / "archive.db")
    try:
        (errors,) = db.execute("SELECT errors FROM crawl_runs ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        db.close()
    assert errors >= len(foreign_requests) + len(foreign_records), errors


@pytest.mark.parametrize("command", [["crawl", "--output", "out"], ["worker", "--idle-exit", "1"]])
def test_a_wrong_password_stops_before_any_work_with_one_line(command: list[str], tmp_path: Path):
    with RedisServer(tmp_path / "redis", password=PASSWORD) as server:
        wrong = server.url.replace(PASSWORD, "not-the-password")
        result = finews(*command, "--redis", wrong, cwd=tmp_path, proxy="http://127.0.0.1:9", timeout=RUN_TIMEOUT)
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"finews {command[0]}: Redis at ") and "not-the-password" not in line, line
    assert "password" in line.lower() or "auth" in line.lower(), line
    assert not (tmp_path / "out").exists()
