"""`finews serve`: the real Datasette on loopback, searched for a Chinese word through its JSON API."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlencode, urljoin

import pytest
import yaml

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import render_site
from crawler.replica.server import ReplicaServer
from pipelines.datasette import METADATA_FILE, SEARCH_QUERY, datasette_metadata, metadata_yaml
from tests.test_crawl import ROOT, finews, rows

STARTUP_SECONDS = 60  # a deadline for the server to come up, not a measurement
# Straight to loopback, whatever http_proxy the environment has.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get_json(url: str) -> dict:
    try:
        with DIRECT.open(url, timeout=30) as answer:
            return json.load(answer)
    except urllib.error.HTTPError as error:
        # Closed, so that the server is not left holding the connection for the tests that follow.
        with error:
            pytest.fail(f"HTTP {error.code} from {url}")


@contextlib.contextmanager
def running(command: list[str], cwd: Path) -> Iterator[str]:
    """A Datasette server started by ``command`` (which listens on ``port``), until the block ends; its base URL."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [*command, "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_SECONDS
    try:
        while True:
            if process.poll() is not None:
                pytest.fail(f"{command[2:4]} exited {process.returncode}: {process.stdout.read()}")
            try:
                get_json(f"{base}/-/versions.json")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail(f"datasette did not answer on {base} within {STARTUP_SECONDS} s")
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A crawled archive, and `finews serve` on it (Datasette, in its own process) until the tests are done."""
    work = tmp_path_factory.mktemp("datasette")
    site = generate_site(30)
    with ReplicaServer(render_site(parse_post_file(name, text) for name, text in site.files)) as server:
        result = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    with running([sys.executable, "-m", "crawler.cli", "serve", "--output", "out"], work) as base:
        yield work, base


# What Datasette writes into its own copy of the metadata as it serves pages: a canned query's name once it
# has run, and on a table's HTML page the source, license and about it inherits from the top.
INHERITED = {"source", "source_url", "license", "license_url", "about", "about_url"}


def as_configured(served: dict) -> dict:
    """The metadata Datasette serves, without what it added to it itself while serving."""
    database = served["databases"]["archive"]
    for name, query in database.get("queries", {}).items():
        if query.get("name") == name:
            del query["name"]
    for table in database["tables"].values():
        for key in INHERITED & set(table):
            if table[key] == served.get(key):
                del table[key]
    return served


def holding_every_word(work: Path, words: str) -> list[str]:
    """The info codes of the posts whose title or text holds every word, newest first (as finews orders them)."""
    archived = rows(work / "out" / "archive.db", "SELECT info_code, title, body_text, published_at FROM posts")
    holding = [row for row in archived
               if all(word in row["title"] or word in row["body_text"] for word in words.split())]
    return [row["info_code"] for row in sorted(holding, key=lambda row: (row["published_at"], row["info_code"]),
                                               reverse=True)]


def test_a_chinese_word_is_found_through_the_datasette_json_api(served):
    work, base = served
    archived = rows(work / "out" / "archive.db", "SELECT info_code, title, body_text FROM posts")
    word = "业内人士"
    expected = sorted(row["info_code"] for row in archived if word in row["title"] or word in row["body_text"])
    assert expected
    answer = get_json(f"{base}/archive/posts.json?_search={quote(word)}&_shape=objects&_size=max")
    assert sorted(row["info_code"] for row in answer["rows"]) == expected
    assert answer["filtered_table_rows_count"] == len(expected)


@pytest.mark.parametrize("words", ["央行", "央行 降准", "板块 业内人士", "营商环境"])
def test_two_character_words_are_found_through_the_served_search_query_as_finews_search_finds_them(served, words):
    work, base = served
    expected = holding_every_word(work, words)
    assert expected or words == "央行 降准"  # two-character words alone: what the posts table's search box misses
    answer = get_json(f"{base}/archive/{SEARCH_QUERY}.json?{urlencode({'words': words})}&_shape=objects")
    assert [row["info_code"] for row in answer["rows"]] == expected
    assert all({"published_at", "outlet", "title", "post_url"} <= set(row) for row in answer["rows"])
    found = finews("search", *words.split(), "--output", "out", "--limit", "1000", cwd=work)
    urls = [line.strip() for line in found.stdout.splitlines() if line.startswith("    http")]
    assert urls == [row["post_url"] for row in answer["rows"]]


def test_the_posts_table_links_to_the_search_query(served):
    _work, base = served
    with DIRECT.open(f"{base}/archive/posts", timeout=30) as answer:
        page = answer.read().decode("utf-8")
    assert f'<a href="{SEARCH_QUERY}">' in page
    with DIRECT.open(urljoin(f"{base}/archive/posts", SEARCH_QUERY), timeout=30) as answer:
        assert answer.status == 200 and 'name="words"' in answer.read().decode("utf-8")


def test_plain_datasette_finds_and_uses_the_search_index_with_no_metadata(served):
    work, _base = served
    expected = holding_every_word(work, "营商环境")
    assert expected
    with running([sys.executable, "-m", "datasette", "serve", "out/archive.db"], work) as plain:
        answer = get_json(f"{plain}/archive/posts.json?_search={quote('营商环境')}&_shape=objects&_size=max")
    assert sorted(row["info_code"] for row in answer["rows"]) == sorted(expected)


README = ROOT / "README.md"


def readme_examples(command: str) -> list[list[str]]:
    """README's shell examples that start with ``command``, as argument lists, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    lines = [line.split(" #")[0].strip() for block in blocks for line in block.splitlines()]
    return [shlex.split(line) for line in lines if line.startswith(f"{command} ")]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """What `finews demo` leaves in ./output, as README's examples expect."""
    work = tmp_path_factory.mktemp("demo")
    result = finews("demo", cwd=work)
    assert result.returncode == 0, result.stderr
    return work


def test_readme_search_examples_find_posts_in_the_demo_archive(demo):
    searches = readme_examples("finews search")
    assert len(searches) >= 2
    for example in searches:
        found = finews(*example[1:], cwd=demo)
        assert found.returncode == 0, (example, found.stderr)
        assert re.fullmatch(r"[1-9]\d* posts match, [1-9]\d* shown \(newest first\)", found.stdout.splitlines()[-1]), example
    for example in readme_examples("sqlite-utils search"):
        found = subprocess.run([sys.executable, "-m", "sqlite_utils", *example[1:]], cwd=demo, capture_output=True,
                               text=True, timeout=60, check=False)
        assert found.returncode == 0 and json.loads(found.stdout), (example, found.stderr)


def test_readme_datasette_examples_find_posts_in_the_demo_archive(demo):
    examples = readme_examples("curl")
    assert examples and [example[1] for example in examples if "_search=" in example[1]]
    with running([sys.executable, "-m", "crawler.cli", "serve"], demo) as base:
        for example in examples:
            url = re.sub(r"^http://127\.0\.0\.1:8001", base, example[1])
            assert url != example[1], "README's curl examples use finews serve's default address"
            answer = get_json(quote(url, safe=":/?&=+%"))
            assert answer["rows"], example


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
    assert as_configured(get_json(f"{base}/-/metadata.json")) == datasette_metadata()
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
