"""Grouped commits (``Archive.group_commits``): a crawl's writes share one transaction committed a few times
a second. On real SQLite files, with a real process killed by SIGKILL: what was committed is whole (a
post with its run count and its frontier row gone), what was not is entirely absent, and the frontier is
durable before any request could go out."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from crawler.spiders.site import post_link
from pipelines.archive import Archive
from tests.test_archive_runs import OUTLET_URL, SITE, post
from tests.test_crawl import ROOT

OTHER_URL = SITE + "jinwanbao/2021/12/27/NW202112272226582498.html"

# A child that archives one post and commits, archives a second without committing, then is killed.
CHILD = r"""
import os, signal, sys
from pathlib import Path
from crawler.spiders.site import post_link
from pipelines.archive import Archive
from tests.test_archive_runs import OUTLET_URL, post
from tests.test_grouped_commits import OTHER_URL

archive = Archive.open(Path(sys.argv[1]))
archive.group_commits()
run_id = archive.start_run("http://finews.withounder.com/")
archive.plan_links([post_link(OUTLET_URL), post_link(OTHER_URL)], run_id)
archive.save_post(post(), "a.md", run_id)
archive.forget_frontier("NW202112262218010203")
archive.commit()
archive.save_post(post("NW202112272226582498"), "b.md", run_id)
archive.forget_frontier("NW202112272226582498")
os.kill(os.getpid(), signal.SIGKILL)
"""


def read(path: Path, sql: str) -> list[tuple]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_grouped_writes_are_seen_by_others_only_once_committed(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    archive = Archive.open(path)
    archive.group_commits()
    try:
        run_id = archive.start_run(SITE)
        archive.commit()
        archive.save_post(post(), "a.md", run_id)
        # The writer sees its own writes (dedupe reads what it just stored); other connections do not yet.
        assert archive.get_post("NW202112262218010203") is not None
        assert read(path, "SELECT count(*) FROM posts") == [(0,)]
        archive.commit()
        assert read(path, "SELECT count(*) FROM posts") == [(1,)]
        assert read(path, f"SELECT new FROM crawl_runs WHERE id = {run_id}") == [(1,)]
        archive.save_post(post("NW202112272226582498"), "b.md", run_id)
    finally:
        archive.close()
    # Closing commits the last group rather than rolling it back.
    assert read(path, "SELECT count(*) FROM posts") == [(2,)]


def test_planned_links_enter_the_frontier_durably_before_they_are_requested(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    archive = Archive.open(path)
    archive.group_commits()
    try:
        plan = archive.plan_links([post_link(OUTLET_URL)], archive.start_run(SITE))
        assert [link.name for link in plan.fetch] == ["NW202112262218010203"]
        assert read(path, "SELECT name FROM frontier") == [("NW202112262218010203",)]
    finally:
        archive.close()


def test_a_kill_loses_the_uncommitted_group_whole_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "archive.db"
    child = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                           timeout=60, env={"PYTHONPATH": str(ROOT)}, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert read(path, "PRAGMA integrity_check") == [("ok",)]
    assert read(path, "SELECT info_code FROM posts") == [("NW202112262218010203",)]
    # The second post's row, its count and its leaving the frontier were lost together: it is fetched again.
    assert read(path, "SELECT name FROM frontier") == [("NW202112272226582498",)]
    assert read(path, "SELECT new, status FROM crawl_runs") == [(1, "running")]
