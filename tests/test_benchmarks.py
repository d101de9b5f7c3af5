"""A smoke run of the benchmark command (``python -m benchmarks``) on a small site: it works, not how fast.

Real processes throughout: the static site served by nginx when it is installed (the replica's own
server otherwise, and the report says which), bare Scrapy and ``finews`` crawling it through
``http_proxy``, real SQLite files. No timing is asserted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from benchmarks.servers import NginxServer, nginx_binary
from benchmarks.static_site import static_site
from crawler.replica.generate import generate_site
from tests.benchmark_smoke import run_benchmark
from tests.redis_server import needs_redis
from tests.test_crawl import ROOT

POSTS = 200


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    return run_benchmark("benchmarks", POSTS, tmp_path_factory.mktemp("bench"))


def test_the_benchmark_command_runs_every_measurement_and_prints_the_table(smoke) -> None:
    result, results = smoke
    assert result.returncode == 0, result.stdout + result.stderr
    scenarios = [row["scenario"] for row in results["rows"]]
    assert scenarios == ["bare", "bare+share", "crawl", "crawl-workers-2", "crawl-unthrottled", "incremental", "export",
                         "killed", "resume"]
    assert all(row["ok"] for row in results["rows"]), results["rows"]
    assert "| posts | run | rounds | wall s |" in result.stdout
    assert "| target | goal |" in result.stdout


def test_the_server_used_is_named_and_is_nginx_where_installed(smoke) -> None:
    result, results = smoke
    expected = "nginx" if nginx_binary() else "replica"
    assert results["server"] == expected
    if expected == "replica":
        assert "these numbers are not benchmarks" in result.stdout


def test_bare_and_finews_ask_for_the_same_pages(smoke) -> None:
    _result, results = smoke
    rows = {row["scenario"]: row for row in results["rows"]}
    site = generate_site(POSTS)
    for name in ("bare", "bare+share", "crawl"):
        assert rows[name]["post_pages"] == len(site.files), name
    assert rows["bare"]["share_texts"] == 0
    # One share text per post page; finews asks twice for the article published twice (both pages need it).
    assert rows["bare+share"]["share_texts"] == len(site.files)
    assert rows["crawl"]["share_texts"] == len(site.files)
    assert rows["crawl"]["extra"]["archived"] == len(site.valid_info_codes)


def test_incremental_fetches_no_post_and_resume_fetches_what_the_kill_left(smoke) -> None:
    _result, results = smoke
    rows = {row["scenario"]: row for row in results["rows"]}
    assert rows["incremental"]["post_pages"] == 0 and rows["incremental"]["requests"] < rows["crawl"]["requests"]
    assert rows["killed"]["extra"]["archived_at_kill"] < rows["crawl"]["extra"]["archived"]
    assert rows["resume"]["extra"]["fetched_twice"] == 0
    assert 0 < rows["resume"]["post_pages"] < POSTS
    assert rows["export"]["done"] == len(generate_site(POSTS).valid_info_codes)
    assert all(row["peak_rss_bytes"] > 0 for row in results["rows"])


@pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed (scripts/test.sh installs nginx-light as root)")
def test_nginx_answers_both_hosts_through_the_proxy_and_refuses_others(tmp_path: Path) -> None:
    site = static_site(20, tmp_path / "site")
    code = sorted(site.site.valid_info_codes)[0]
    urls = {
        "http://finews.withounder.com/": 200,
        "http://finews.withounder.com/feed.xml": 200,
        f"http://finews.zning.xyz/NewsData/GetNewsText.do?id={code}": 200,
        "http://finews.zning.xyz/NewsData/GetNewsText.do?id=..%2Fx": 404,
        "http://example.com/": 502,
    }
    with NginxServer(site, tmp_path / "nginx") as server:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": server.proxy_url}))
        for url, status in urls.items():
            try:
                answered = opener.open(url, timeout=30).status
            except urllib.error.HTTPError as error:
                answered = error.code
            assert answered == status, url
        logged = server.requests_since(0)
    assert [status for _url, status in logged] == list(urls.values())


@needs_redis
def test_early_peak_reports_each_process_of_a_workers_crawl_and_their_sum(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.early_peak", "--posts", str(POSTS), "--seconds", "2", "--work", str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stderr
    *processes, total = result.stdout.splitlines()
    assert sorted(line.split()[0] for line in processes) == ["crawl", "redis-server", "worker"], result.stdout
    megabytes = [int(line.split()[-2]) for line in processes]
    assert all(size > 0 for size in megabytes) and total.split()[0] == "sum"
    assert abs(int(total.split()[-2]) - sum(megabytes)) <= len(megabytes)  # each line is rounded on its own
