"""`finews serve`: the real Datasette on loopback, searched for a Chinese word through its JSON API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest
import yaml

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import render_site
from crawler.replica.server import ReplicaServer
from pipelines.datasette import METADATA_FILE, datasette_metadata, metadata_yaml
from tests.test_crawl import ROOT, finews, rows

STARTUP_SECONDS = 60  # a deadline for the server to come up, not a measurement
# Straight to loopback, whatever http_proxy the environment has.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> dict:
    with DIRECT.open(url, timeout=30) as answer:
        return json.load(answer)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A crawled archive, and `finews serve` on it (Datasette, in its own process) until the tests are done."""
    work = tmp_path_factory.mktemp("datasette")
    site = generate_site(30)
    with ReplicaServer(render_site(parse_post_file(name, text) for name, text in site.files)) as server:
        result = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler.cli", "serve", "--output", "out", "--port", str(port)],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"finews serve exited {process.returncode}: {process.stdout.read()}")
            try:
                get_json(f"{base}/-/versions.json")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"datasette did not answer on {base} within {STARTUP_SECONDS} s")
                time.sleep(0.1)
        yield work, base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_a_chinese_word_is_found_through_the_datasette_json_api(served):
    work, base = served
    archived = rows(work / "out" / "archive.db", "SELECT info_code, title, body_text FROM posts")
    word = "业内人士"
    expected = sorted(row["info_code"] for row in archived if word in row["title"] or word in row["body_text"])
    assert expected
    answer = get_json(f"{base}/archive/posts.json?_search={quote(word)}&_shape=objects&_size=max")
    assert sorted(row["info_code"] for row in answer["rows"]) == expected
    assert answer["filtered_table_rows_count"] == len(expected)


def test_posts_have_facets_on_category_media_and_day(served):
    work, base = served
    answer = get_json(f"{base}/archive/posts.json?_shape=objects")
    facets = answer["facet_results"]
    assert {"category", "media", "published_day"} <= set(facets)
    counts = {result["value"]: result["count"] for result in facets["category"]["results"]}
    expected = rows(work / "out" / "archive.db", "SELECT category, count(*) AS n FROM posts GROUP BY category")
    assert counts == {row["category"]: row["n"] for row in expected}


def test_datasette_serves_the_project_metadata_and_the_views(served):
    _work, base = served
    assert get_json(f"{base}/-/metadata.json") == datasette_metadata()
    per_day = get_json(f"{base}/archive/posts_per_day.json?_shape=objects")["rows"]
    assert per_day and set(per_day[0]) == {"day", "category", "posts"}


def test_the_metadata_file_is_written_beside_the_archive_from_the_schema(served):
    work, _base = served
    written = work / "out" / METADATA_FILE
    assert written.read_text(encoding="utf-8") == metadata_yaml()
    tables = yaml.safe_load(written.read_text(encoding="utf-8"))["databases"]["archive"]["tables"]
    assert tables["posts"]["fts_table"] == "posts_fts"
    assert {"facets", "description", "columns"} <= set(tables["posts"])
    assert sorted(path.name for path in work.iterdir()) == ["out"]


def test_serve_without_an_archive_is_a_clear_error(tmp_path):
    result = finews("serve", "--output", "nothing-here", cwd=tmp_path)
    assert result.returncode == 1 and "no archive at nothing-here/archive.db" in result.stderr
