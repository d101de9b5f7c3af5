"""A smoke run of ``python -m benchmarks.distributed`` on a small site: it works, not how fast.

Real processes throughout: the benchmark's own redis-server, the static site served by nginx when it is
installed (the replica's own server otherwise, and the report says which), ``finews crawl``,
``finews crawl --redis`` and ``finews worker`` crawling it through ``http_proxy``. No timing is asserted.
"""

from __future__ import annotations

import subprocess

import pytest

from benchmarks.redis_server import redis_binary
from benchmarks.servers import nginx_binary
from crawler.replica.generate import generate_site
from tests.benchmark_smoke import run_benchmark

POSTS = 100

pytestmark = pytest.mark.skipif(redis_binary() is None,
                                reason="redis-server is not installed (Debian: apt-get install redis-server)")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    return run_benchmark("benchmarks.distributed", POSTS, tmp_path_factory.mktemp("bench-distributed"))


def test_the_distributed_benchmark_measures_every_run_and_prints_the_table(smoke) -> None:
    result, results = smoke
    assert result.returncode == 0, result.stdout + result.stderr
    assert [row["scenario"] for row in results["rows"]] == ["single", "redis-1", "redis-2"]
    assert all(row["ok"] for row in results["rows"]), results["rows"]
    assert "| posts | run | rounds | wall s | posts/s | × bare | × single | × redis-1 |" in result.stdout
    assert "| redis-2 vs single, 100 posts | ≥ 1.6× posts/s |" in result.stdout
    assert "| redis-2 vs redis-1, 100 posts |" in result.stdout
    assert "NOT OK" not in result.stdout


def test_every_run_archives_every_valid_post_and_the_worker_takes_part(smoke) -> None:
    _result, results = smoke
    rows = {row["scenario"]: row for row in results["rows"]}
    valid = len(generate_site(POSTS).valid_info_codes)
    assert all(row["extra"]["archived"] == valid for row in rows.values())
    assert all(row["post_pages"] == POSTS for row in rows.values())
    # The worker joined the crawl and ended with it (its summary line was read).
    assert rows["redis-2"]["extra"]["worker_handed_off"] >= 0
    assert rows["redis-2"]["extra"]["worker_exit_after_seconds"] < 30
    assert rows["redis-2"]["peak_rss_bytes"] > rows["redis-1"]["peak_rss_bytes"]


def test_the_server_used_is_named(smoke) -> None:
    result, results = smoke
    assert results["server"] == ("nginx" if nginx_binary() else "replica")
    assert "Redis server v=" in result.stdout
