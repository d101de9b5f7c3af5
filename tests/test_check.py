"""`finews check`, `finews status --json` and `--metrics` on an archive that lived through a healthy run, a
run with the share host down, a site redesign that dropped the source line, and an hour without a run."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site, without_source_lines
from crawler.replica.render import SHARE_HOST, render_site
from crawler.replica.server import NO_ANSWER, ReplicaServer
from crawler.status import status_json_markdown
from tests.test_crawl import ROOT, finews

POSTS = 40
FAST_SHARE_FAILURE = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", "FINEWS_SHARE_TIMEOUT=1", "-s", "FINEWS_SHARE_BREAKER=2")


def share_host_down(host: str, path: str):
    return NO_ANSWER if host == SHARE_HOST else None


@dataclass(frozen=True)
class Lived:
    """Copies of one output after each of its runs."""

    healthy: Path
    share_down: Path
    redesigned: Path


def crawl(work: Path, files, *settings: str, fault=None) -> None:
    with ReplicaServer(render_site(parse_post_file(name, text) for name, text in files), fault=fault) as server:
        result = finews("crawl", "--output", "out", *settings, cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr


@pytest.fixture(scope="module")
def lived(tmp_path_factory: pytest.TempPathFactory) -> Lived:
    work = tmp_path_factory.mktemp("lived")
    sites = [generate_site(POSTS, seed) for seed in range(4)]
    files: list[tuple[str, str]] = []
    for site in sites[:2]:  # two healthy runs: the baseline
        files += site.files
        crawl(work, files)
    shutil.copytree(work / "out", work / "healthy")
    files += sites[2].files  # new posts while the share host is down: bodies from their pages
    crawl(work, files, *FAST_SHARE_FAILURE, fault=share_host_down)
    shutil.copytree(work / "out", work / "share-down")
    files += sites[3].files  # then the site drops the source line from every new post
    crawl(work, without_source_lines(files))
    shutil.copytree(work / "out", work / "redesigned")
    return Lived(work / "healthy", work / "share-down", work / "redesigned")


def check(output: Path, *options: str) -> subprocess.CompletedProcess:
    return finews("check", "--output", str(output), *options, cwd=output.parent)


def last_finished(output: Path) -> datetime:
    db = sqlite3.connect(output / "archive.db")
    (value,) = db.execute("SELECT max(finished_at) FROM crawl_runs WHERE status = 'finished'").fetchone()
    db.close()
    return datetime.fromisoformat(value)


def test_a_healthy_archive_is_ok(lived: Lived) -> None:
    result = check(lived.healthy)
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("OK - ") and " | posts=" in result.stdout.splitlines()[0]


def test_a_run_with_the_share_host_down_warns_naming_the_share_failure_rate(lived: Lived) -> None:
    result = check(lived.share_down)
    assert result.returncode == 1, result.stdout
    first = result.stdout.splitlines()[0]
    assert first.startswith("WARNING - share-failure rate 100% in run 3"), first


def test_a_redesign_that_drops_the_source_line_is_critical_naming_the_field(lived: Lived) -> None:
    result = check(lived.redesigned)
    assert result.returncode == 2, result.stdout
    first = result.stdout.splitlines()[0]
    assert first.startswith("CRITICAL - source coverage 0% in run 4"), first
    # The editor note is in the body too, and still found: only the field that went is named.
    assert "editor coverage" not in first


def test_an_hour_without_a_run_is_critical(lived: Lived) -> None:
    finished = last_finished(lived.healthy)
    fresh = check(lived.healthy, "--now", (finished + timedelta(minutes=29)).isoformat())
    assert fresh.returncode == 0, fresh.stdout
    stale = check(lived.healthy, "--now", (finished + timedelta(hours=1)).isoformat())
    assert stale.returncode == 2
    assert stale.stdout.startswith("CRITICAL - no run finished for 60 min (last: run 2)")
    # And six hours without a new post, whatever the runs do.
    quiet = check(lived.healthy, "--now", (finished + timedelta(hours=7)).isoformat(), "--max-age-minutes", "1000")
    assert quiet.returncode == 2 and quiet.stdout.startswith("CRITICAL - no new post for 7")


def test_thresholds_are_options(lived: Lived) -> None:
    assert check(lived.redesigned, "--min-posts", "1000").returncode == 0  # too few posts to judge a rate
    assert check(lived.share_down, "--warn", "0.9", "--crit", "1").returncode == 1
    assert check(lived.healthy, "--max-age-minutes", "0", "--now", last_finished(lived.healthy).isoformat(),
                 ).returncode == 0
    late = (last_finished(lived.healthy) + timedelta(seconds=1)).isoformat()
    assert check(lived.healthy, "--max-age-minutes", "0", "--now", late).returncode == 2


@pytest.mark.parametrize("options", [("--warn", "2"), ("--bogus",), ("--now", "yesterday"), ("--min-posts", "0"),
                                     ("--max-age-minutes", "1e13"), ("--new-post-hours", "inf"), ("--max-age", "10"),
                                     ("--warn", "0.6", "--crit", "0.5")])
def test_a_usage_error_is_unknown_on_stdout(options: tuple[str, ...], tmp_path: Path) -> None:
    result = finews("check", *options, cwd=tmp_path)
    assert result.returncode == 3 and result.stdout.startswith("UNKNOWN - finews check: ")
    assert len(result.stdout.splitlines()) == 1


def test_no_readable_archive_is_unknown(tmp_path: Path) -> None:
    missing = finews("check", "--output", "out", cwd=tmp_path)
    assert (missing.returncode, missing.stdout.strip()) == (3, "UNKNOWN - no archive at out/archive.db")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "archive.db").write_bytes(b"not sqlite" * 500)
    garbage = finews("check", "--output", "out", cwd=tmp_path)
    assert garbage.returncode == 3 and garbage.stdout.startswith("UNKNOWN - archive out/archive.db cannot be read")


def test_check_reads_without_scrapy_and_writes_nothing(lived: Lived, tmp_path: Path) -> None:
    copy = tmp_path / "ro"
    shutil.copytree(lived.healthy, copy)
    # Every file but SQLite's companions of a WAL archive (-shm, the index every reader maps and updates, and
    # -wal, which a reader opens, empty, where there was none).
    before = {path: path.stat().st_mtime_ns for path in copy.rglob("*") if not path.name.endswith(("-shm", "-wal"))}
    copy.chmod(0o555)
    (copy / "archive.db").chmod(0o444)
    code = ("import sys; from crawler.cli import main; state = main(['check', '--output', sys.argv[1]]); "
            "print('scrapy' in sys.modules, 'twisted' in sys.modules, state)")
    result = subprocess.run([sys.executable, "-c", code, str(copy)], cwd=ROOT, capture_output=True, text=True,
                            check=False)
    copy.chmod(0o755)
    assert result.stdout.splitlines()[-1] == "False False 0", result.stdout + result.stderr
    assert {path: path.stat().st_mtime_ns for path in copy.rglob("*")
            if not path.name.endswith(("-shm", "-wal"))} == before


def test_status_json_is_the_documented_shape(lived: Lived) -> None:
    result = finews("status", "--output", str(lived.share_down), "--json", cwd=lived.share_down.parent)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    documented = (ROOT / "docs" / "status-json.md").read_text(encoding="utf-8")
    assert documented == status_json_markdown(), "regenerate: python -m crawler.status > docs/status-json.md"
    keys = {line.split("`")[1] for line in documented.splitlines() if line.startswith("| `")}
    found = {"format", "runs"} | {f"archive.{key}" for key in document["archive"]} | {
        f"crawl.{key}" for key in document["crawl"]} | {f"runs[].{key}" for run in document["runs"] for key in run}
    assert found == keys
    assert [run["id"] for run in document["runs"]] == [3, 2, 1]
    assert document["runs"][0]["new_body_from_page"] == document["runs"][0]["new_shareable"] > 0
    assert document["archive"]["posts"] == sum(run["new"] for run in document["runs"])
    captures = list((lived.share_down / "warc").iterdir())
    assert len(captures) == 3  # one a run, each closed when its run ended
    assert (document["archive"]["warc_files"], document["archive"]["warc_files_open"],
            document["archive"]["warc_bytes"]) == (3, 0, sum(path.stat().st_size for path in captures))


def test_metrics_are_prometheus_text_with_the_check_states(lived: Lived) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    result = finews("status", "--output", str(lived.redesigned), "--metrics", cwd=lived.redesigned.parent)
    assert result.returncode == 0, result.stderr
    samples = {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(result.stdout) for sample in family.samples}
    db = sqlite3.connect(lived.redesigned / "archive.db")
    posts = db.execute("SELECT count(*) FROM posts").fetchone()[0]
    db.close()
    assert samples[("finews_archive_posts", ())] == posts
    assert samples[("finews_last_run_count", (("count", "new_with_source"),))] == 0
    assert samples[("finews_rate", (("rate", "source coverage"), ("window", "recent")))] == 0
    assert samples[("finews_check_state", (("check", "coverage"),))] == 2
    assert samples[("finews_check_state", (("check", "all"),))] == 2


def test_an_archive_alone_on_a_read_only_medium_is_read(lived: Lived, tmp_path: Path) -> None:
    """A WAL archive copied without its -shm onto a read-only mount: SQLite's mode=ro cannot open it there."""
    source, mounted = tmp_path / "source", tmp_path / "mounted"
    source.mkdir()
    mounted.mkdir()
    db = sqlite3.connect(lived.healthy / "archive.db")
    db.execute(f"VACUUM INTO '{source / 'archive.db'}'")
    db.close()
    db = sqlite3.connect(source / "archive.db")
    db.execute("PRAGMA journal_mode = WAL")  # as finews leaves it: WAL, its companions gone with the last close
    db.close()
    bind = subprocess.run(["mount", "--bind", str(source), str(mounted)], capture_output=True, check=False)
    if bind.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {bind.stderr.decode().strip()}")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(mounted)], capture_output=True,
                          check=False).returncode != 0:
            pytest.skip("cannot remount read-only here")
        checked = check(mounted)
        status = finews("status", "--output", str(mounted), "--json", cwd=tmp_path)
        feed = finews("changes", "--output", str(mounted), "--format", "text", cwd=tmp_path)
    finally:
        subprocess.run(["umount", str(mounted)], check=True)
    assert checked.returncode == 0, checked.stdout
    assert status.returncode == 0 and json.loads(status.stdout)["archive"]["posts"] > 0, status.stderr
    assert feed.returncode == 0 and len(feed.stdout.splitlines()) == json.loads(status.stdout)["archive"]["posts"]
    assert sorted(path.name for path in source.iterdir()) == ["archive.db"]
