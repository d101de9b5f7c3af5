"""The archive's side of scheduled runs, on real SQLite files: migration 002, known posts, the frontier,
revisions, run counts; and the output lock, with real flocks."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from crawler.items import PostItem
from crawler.lock import CrawlLock, CrawlLocked, lock_holder
from crawler.spiders.site import post_link, post_priority
from pipelines.archive import MARK_SEEN_SQL, OWN_PAGE_ARCHIVED_SQL, READ_REJECT_SQL, Archive
from pipelines.schema import MIGRATIONS, MIGRATIONS_TABLE, SCHEMA_VERSION, TABLES

SITE = "http://finews.withounder.com/"
OUTLET_URL = SITE + "shanghaizhengquanbao/2021/12/26/NW202112262218010203.html"
EMNEWS_TWIN_URL = SITE + "emnews/2021/12/26/202112262218010203.html"


def post(info_code: str = "NW202112262218010203", title: str = "标题", body: str = "<p>正文</p>") -> PostItem:
    return PostItem(
        post_url=OUTLET_URL, info_code=info_code, name=info_code, title=title, published_at="2021-12-26T10:00:00+08:00",
        category="shanghaizhengquanbao", tags=["上海证券报新闻"], kind="media", body_html=body,
        content_hash=f"{title}|{body}",
    )


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    archive = Archive.open(tmp_path / "archive.db")
    yield archive
    archive.close()


def test_an_archive_made_by_migration_001_is_upgraded_in_place_keeping_its_rows(tmp_path: Path) -> None:
    db = sqlite_utils.Database(tmp_path / "archive.db")
    db[MIGRATIONS_TABLE].create({"name": str, "applied_at": str}, pk="name")
    name, first = MIGRATIONS[0]
    first(db)
    db[MIGRATIONS_TABLE].insert({"name": name, "applied_at": "2021-12-27T00:00:00+00:00"})
    db.execute("PRAGMA user_version = 1")
    db["posts"].insert({"info_code": "NW202112262218010203", "name": "NW202112262218010203", "title": "旧"})
    db["crawl_runs"].insert({"site": SITE, "status": "finished", "new": 1})
    db.close()

    archive = Archive.open(tmp_path / "archive.db")
    try:
        for table in TABLES:
            # table_xinfo: generated columns too (hidden 2); hidden 1 would be a virtual table's hidden column.
            columns = [row[1] for row in archive.db.execute(f"PRAGMA table_xinfo({table.name})") if row[6] != 1]
            assert columns == [column.name for column in table.columns]
        assert archive.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
        assert archive.get_post("NW202112262218010203")["title"] == "旧"
        assert archive.run(1)["new"] == 1 and archive.run(1)["skipped_known"] is None
        assert archive.db["post_revisions"].pks == ["info_code", "revision"]
    finally:
        archive.close()


def test_listed_posts_are_looked_up_by_index_never_by_scanning(archive: Archive) -> None:
    for sql, parameters in ((MARK_SEEN_SQL, ["now", 1, "NW1", "name"]), (READ_REJECT_SQL, ["name"]),
                            (OWN_PAGE_ARCHIVED_SQL, ["name", "url"])):
        plan = " | ".join(row[3] for row in archive.db.execute("EXPLAIN QUERY PLAN " + sql, parameters))
        # SCAN CONSTANT ROW is the SELECT of two EXISTS, no table's.
        assert "SCAN" not in plan.replace("SCAN CONSTANT ROW", "") and "USING" in plan and "INDEX" in plan, plan


def test_a_twin_is_known_only_once_its_own_page_is_archived(archive: Archive) -> None:
    """The emnews twin of an archived outlet post shares its infoCode, but its page was never read."""
    run_id = archive.start_run(SITE)
    outlet = post()
    outlet.seen_urls = [("post", OUTLET_URL)]
    archive.save_post(outlet, "2021-12-26-NW202112262218010203.md", run_id)
    plan = archive.plan_links([post_link(OUTLET_URL), post_link(EMNEWS_TWIN_URL)], run_id)
    assert (plan.fetch, plan.skipped_known) == ((post_link(EMNEWS_TWIN_URL),), 1)
    assert archive.get_post("NW202112262218010203")["last_seen_run"] == run_id
    # Its page read and merged into the one record (the outlet post's name stays): now it is known too.
    twin = post()
    twin.seen_urls = [("post", EMNEWS_TWIN_URL)]
    assert archive.save_post(twin, "2021-12-26-NW202112262218010203.md", run_id) == "merged"
    plan = archive.plan_links([post_link(OUTLET_URL), post_link(EMNEWS_TWIN_URL)], archive.start_run(SITE))
    assert (plan.fetch, plan.skipped_known) == ((), 2)


def test_an_outlet_post_is_not_known_because_its_emnews_twin_was_archived(archive: Archive) -> None:
    run_id = archive.start_run(SITE)
    twin = PostItem(
        post_url=EMNEWS_TWIN_URL, info_code="NW202112262218010203", name="202112262218010203", title="标题",
        published_at="2021-12-26T10:00:00+08:00", category="emnews", kind="emnews", content_hash="x",
        seen_urls=[("post", EMNEWS_TWIN_URL)],
    )
    archive.save_post(twin, "2021-12-26-202112262218010203.md", run_id)
    plan = archive.plan_links([post_link(OUTLET_URL)], run_id)
    assert (plan.fetch, plan.skipped_known) == ((post_link(OUTLET_URL),), 0)


def test_unknown_posts_enter_the_frontier_and_leave_it_when_archived_or_rejected(archive: Archive) -> None:
    run_id = archive.start_run(SITE)
    notice = post_link(SITE + "2021/12/08/init.html")  # a site notice: no infoCode in its name
    failed = post_link(SITE + "jinwanbao/2021/12/27/NW202112272226582498.html")
    plan = archive.plan_links([post_link(OUTLET_URL), notice, failed], run_id)
    assert [link.name for link in plan.fetch] == ["NW202112262218010203", "init", "NW202112272226582498"]
    assert [link.name for link in archive.frontier()] == ["NW202112272226582498", "NW202112262218010203", "init"]

    archive.save_post(post(), "2021-12-26-NW202112262218010203.md", run_id)
    archive.forget_frontier("NW202112262218010203")
    archive.add_reject(run_id, notice.url, "missing title", b"<html>", "init", page_received=True)
    archive.add_reject(run_id, failed.url, "http 500", b"", failed.name, page_received=False)
    assert archive.frontier() == []
    # A page that was read stays known; a page that could not be fetched is fetched when listed again.
    again = archive.plan_links([post_link(OUTLET_URL), notice, failed], run_id + 1)
    assert [link.name for link in again.fetch] == ["NW202112272226582498"]
    # The archived post's page and the rejected one's, each named for what it is.
    assert (again.skipped_known, again.skipped_rejected) == (1, 1)
    run = archive.run(run_id)
    assert (run["new"], run["rejected"]) == (1, 2)
    assert archive.plan_links([post_link(OUTLET_URL)], run_id + 2, refetch_known=True).fetch == (post_link(OUTLET_URL),)


def test_the_second_route_of_an_article_is_counted_merged_whichever_came_first(archive: Archive) -> None:
    run_id = archive.start_run(SITE)
    outlet = post()
    outlet.seen_urls = [("post", OUTLET_URL)]
    twin = post()
    twin.digest, twin.content_hash, twin.seen_urls = "摘要", "with digest", [("post", EMNEWS_TWIN_URL)]
    assert [archive.save_post(item, "a.md", run_id) for item in (outlet, twin)] == ["new", "merged"]
    other = archive.start_run(SITE)
    twin.info_code = outlet.info_code = "NW202112262218010204"
    twin.content_hash = "emnews first"
    outlet.seen_urls = [("post", OUTLET_URL.replace("0203", "0204"))]
    twin.seen_urls = [("post", EMNEWS_TWIN_URL.replace("0203", "0204"))]
    assert [archive.save_post(item, "b.md", other) for item in (twin, outlet)] == ["new", "merged"]
    # Read again (``--full``): both pages are the record's, so neither is a merge.
    assert [archive.save_post(item, "b.md", other) for item in (twin, outlet)] == ["updated", "updated"]
    assert [(archive.run(run)["new"], archive.run(run)["merged"]) for run in (run_id, other)] == [(1, 1), (1, 1)]
    assert archive.run(other)["updated"] == 2


def test_a_resumed_run_neither_counts_nor_fetches_again_what_an_earlier_session_accounted_for(
    archive: Archive,
) -> None:
    """A kill -9 after a session archived a post and skipped another: the resumed session lists both again."""
    earlier = archive.start_run(SITE)
    archive.save_post(post(), "a.md", earlier)
    archive.settle_post("NW202112262218010203", OUTLET_URL, earlier)
    notice = post_link(SITE + "2021/12/08/init.html")
    archive.add_reject(earlier, notice.url, "missing title", b"<html>", "init", page_received=True, listed_run=earlier)
    run_id = archive.start_run(SITE)
    new_post = post_link(SITE + "jinwanbao/2021/12/27/NW202112272226582498.html")
    plan = archive.plan_links([post_link(OUTLET_URL), notice, new_post], run_id)
    assert (plan.fetch, plan.skipped_known, plan.skipped_rejected) == ((new_post,), 1, 1)
    archive.save_post(post("NW202112272226582498"), "b.md", run_id)
    archive.settle_post(new_post.name, new_post.url, run_id)
    archive.mark_abandoned_runs()
    archive.resume_run(run_id)
    # The same listings again, in the resumed session: every post was accounted for before the kill.
    again = archive.plan_links([post_link(OUTLET_URL), notice, new_post], run_id)
    assert (again.fetch, again.skipped_known, again.skipped_rejected) == ((), 0, 0)
    # And a post of the frontier an earlier run left, archived by this run before the kill, is not counted either.
    left = post_link(SITE + "jinwanbao/2021/12/27/NW202112272226582499.html")
    archive.save_post(post("NW202112272226582499"), "c.md", run_id)
    archive.settle_post(left.name, left.url, run_id)
    assert archive.plan_links([left], run_id).skipped_known == 0
    assert archive.plan_links([left], archive.start_run(SITE)).skipped_known == 1


def test_a_changed_text_keeps_numbered_revisions_an_unchanged_post_is_only_seen(archive: Archive) -> None:
    run_id = archive.start_run(SITE, "full")
    assert archive.save_post(post(), "a.md", run_id) == "new"
    first = archive.get_post("NW202112262218010203")
    assert archive.save_post(post(), "a.md", run_id) == "unchanged"
    assert archive.revisions("NW202112262218010203") == []
    assert archive.save_post(post(title="新标题"), "a.md", run_id) == "updated"
    assert archive.save_post(post(title="新标题", body="<p>改</p>"), "a.md", run_id) == "updated"
    revisions = archive.revisions("NW202112262218010203")
    assert [(r["revision"], r["title"], r["body_html"]) for r in revisions] == [
        (1, "标题", "<p>正文</p>"), (2, "新标题", "<p>正文</p>")]
    assert revisions[0]["content_hash"] == first["content_hash"]
    assert archive.get_post("NW202112262218010203")["first_seen_at"] == first["first_seen_at"]
    run = archive.run(run_id)
    assert (run["mode"], run["new"], run["updated"], run["unchanged"]) == ("full", 1, 2, 1)


def test_a_record_that_only_gains_its_other_route_keeps_no_revision(archive: Archive) -> None:
    archive.save_post(post(), "a.md")
    merged = post()
    merged.digest, merged.content_hash = "摘要", "with digest"
    assert archive.save_post(merged, "a.md") == "updated"
    assert archive.revisions("NW202112262218010203") == []


def test_session_counts_add_up_over_a_resumed_run(archive: Archive) -> None:
    run_id = archive.start_run(SITE)
    archive.finish_run(run_id, "interrupted", {"requests": 10, "skipped_known": 3}, 143)
    archive.resume_run(run_id)
    run = archive.run(run_id)
    assert (run["status"], run["finished_at"], run["exit_code"], run["resumes"]) == ("running", None, None, 1)
    archive.finish_run(run_id, "finished", {"requests": 5, "skipped_known": 0}, 0)
    assert (archive.run(run_id)["requests"], archive.run(run_id)["skipped_known"]) == (15, 3)
    # The time it ran is the sum of its sessions', never the time between them.
    archive.add_to_run(run_id, {"running_seconds": 1.5})
    archive.add_to_run(run_id, {"running_seconds": 2.0})
    assert archive.run(run_id)["running_seconds"] == 3.5
    with pytest.raises(ValueError, match="not crawl_runs counts"):
        archive.finish_run(run_id, "finished", {"bogus": 1})


def test_runs_a_dead_process_left_running_become_interrupted(archive: Archive) -> None:
    killed = archive.start_run(SITE)
    assert archive.mark_abandoned_runs() == [killed]
    assert archive.run(killed)["status"] == "interrupted"


def test_newer_posts_come_first() -> None:
    from datetime import date

    today = date(2021, 12, 27)
    assert post_priority(OUTLET_URL, today) == post_priority(OUTLET_URL.replace("/26/", "/27/"), today) - 1
    assert post_priority(SITE + "x/1999/01/01/a.html", today) == post_priority(SITE + "x/2000/01/01/a.html", today)
    assert post_priority(SITE + "x/2021/13/45/a.html", today) == post_priority(SITE + "x/1999/01/01/a.html", today)


def test_the_lock_is_exclusive_names_its_holder_and_is_gone_with_it(tmp_path: Path) -> None:
    path = tmp_path / "archive.db.lock"
    assert lock_holder(path) is None
    with CrawlLock(path):
        assert lock_holder(path) == os.getpid()
        # flock locks belong to open files: a second open in the same process is refused too.
        with pytest.raises(CrawlLocked, match=f"another crawl \\(pid {os.getpid()}\\) is running on {tmp_path}"):
            CrawlLock(path).acquire()
    assert lock_holder(path) is None
    with CrawlLock(path):
        pass


def test_status_of_a_locked_archive_does_not_need_the_lock(tmp_path: Path) -> None:
    Archive.open(tmp_path / "archive.db").close()
    with CrawlLock(tmp_path / "archive.db.lock"):
        from crawler.status import status_report

        report = status_report(tmp_path, 5)
    assert f"a crawl is running (pid {os.getpid()})" in report and report.endswith("no runs yet")
    assert sqlite3.connect(tmp_path / "archive.db").execute("PRAGMA integrity_check").fetchone()[0] == "ok"
