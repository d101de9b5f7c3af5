"""Readers never fail during a crawl: WAL and a busy timeout let a reader query while the crawl writes."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import render_site
from crawler.replica.server import ReplicaServer
from tests.test_crawl import ROOT

READER = r"""
import sqlite3, sys, time, pathlib
db_path, stop = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
queries = errors = 0
# Wait until the crawl has created and migrated the archive (it records its run then), patiently.
while not stop.exists():
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
        started = db.execute("SELECT count(*) FROM crawl_runs").fetchone()[0]
        db.close()
        if started:
            break
    except sqlite3.OperationalError:
        time.sleep(0.01)
# Then query as a downstream tool should: WAL means a reader never waits for a write transaction; the
# short busy timeout covers the instant the writer's last connection checkpoints the WAL on close.
while not stop.exists():
    try:
        db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=1)
        db.execute("SELECT count(*) FROM posts").fetchone()
        db.execute("SELECT info_code, title FROM posts ORDER BY published_at DESC LIMIT 20").fetchall()
        db.close()
        queries += 1
    except sqlite3.OperationalError as error:
        errors += 1
        print("ERROR", error, flush=True)
print("queries", queries, "errors", errors)
"""


def test_a_reader_process_sees_no_lock_errors_while_a_crawl_writes(tmp_path):
    site = generate_site(300)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    db_path, stop = tmp_path / "out" / "archive.db", tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db_path), str(stop)], stdout=subprocess.PIPE, text=True)
    env = {key: value for key, value in os.environ.items() if key.lower() != "no_proxy"}
    env["PYTHONPATH"] = str(ROOT)
    with ReplicaServer(pages) as server:
        env["http_proxy"] = server.proxy_url
        crawl = subprocess.run([sys.executable, "-m", "crawler.cli", "crawl", "--output", "out"], cwd=tmp_path,
                               env=env, capture_output=True, text=True, timeout=300, check=False)
    time.sleep(0.2)
    stop.touch()
    output, _ = reader.communicate(timeout=30)
    assert crawl.returncode == 0, crawl.stderr
    queries, errors = (int(word) for word in output.split()[-3::2])
    assert errors == 0, output
    assert queries > 10  # the reader really ran alongside the crawl
