"""A crawl of the hostile replica: every normal post archived, every hostile case archived safely or
rejected with its reason, nothing written outside the output folder, the archive intact."""

from __future__ import annotations

import re
import sqlite3
from urllib.parse import urlsplit

import pytest
import yaml
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest, ResponseDataLossError
from twisted.python.failure import Failure

from crawler.failures import describe_failure
from crawler.postfile import split_front_matter
from crawler.replica.generate import generate_site
from crawler.replica.hostile import HANG_SECONDS, OFF_SITE_LINKS, TITLE_CASES, hostile_site
from crawler.replica.render import SHARE_HOST, SITE_HOST
from crawler.replica.server import ReplicaServer
from crawler.settings import DOWNLOAD_TIMEOUT
from tests.test_crawl import finews

POSTS = 15
SAFE_FILE_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}-[A-Za-z0-9_-]{1,64}\.md$")


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    work = tmp_path_factory.mktemp("hostile")
    pages, cases = hostile_site(POSTS)
    with ReplicaServer(pages) as server:
        # A short timeout so that the page that never answers in time costs seconds, not minutes.
        result = finews("crawl", "--output", "out", "-s", "DOWNLOAD_TIMEOUT=2", "-s", "RETRY_TIMES=1",
                        cwd=work, proxy=server.proxy_url)
        requested = list(server.requests)
    db = sqlite3.connect(work / "out" / "archive.db")
    db.row_factory = sqlite3.Row
    yield work, result, cases, db, requested
    db.close()


def test_the_crawl_exits_1_naming_the_posts_it_could_not_archive_and_the_archive_is_intact(crawl):
    """The 500 and the page that never answers in time are no verdict on their pages: not archived, not
    rejected, so the run did not archive all it listed."""
    _work, result, cases, db, _requested = crawl
    pending = [case for case in cases if case.expect == "pending"]
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1].startswith(f"finews crawl: {len(pending)} posts not archived (last: ")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_every_normal_post_is_archived(crawl):
    _work, _result, _cases, db, _requested = crawl
    archived = {row["info_code"] for row in db.execute("SELECT info_code FROM posts")}
    assert set(generate_site(POSTS).valid_info_codes) <= archived


def test_every_hostile_case_has_its_outcome(crawl):
    _work, _result, cases, db, _requested = crawl
    archived = {row["info_code"] for row in db.execute("SELECT info_code FROM posts")}
    rejects = [(row["url"], row["reason"]) for row in db.execute("SELECT url, reason FROM rejects")]
    pending = {row["name"] for row in db.execute("SELECT name FROM frontier")}
    wrong = []
    for case in cases:
        found = [reason for url, reason in rejects if url.endswith(f"/{case.name}.html")]
        if case.expect == "archived" and case.name not in archived:
            wrong.append(f"{case.what}: not archived ({found})")
        if case.expect == "rejected" and not (found and case.reason in found[0]):
            wrong.append(f"{case.what}: expected a reject with {case.reason!r}, found {found}")
        if case.expect == "pending" and (found or case.name not in pending):
            wrong.append(f"{case.what}: expected in the frontier and not a reject, found {found}")
    assert wrong == [], "\n".join(wrong)


def test_hostile_titles_are_kept_as_text_and_the_front_matter_keeps_its_keys(crawl):
    work, _result, _cases, db, _requested = crawl
    for code, title in TITLE_CASES.items():
        row = db.execute("SELECT title, file_name FROM posts WHERE info_code = ?", [code]).fetchone()
        expected = "".join(c for c in title if c.isprintable() or c == "\n")
        assert row["title"] == expected
        front, _body = split_front_matter((work / "out" / "_posts" / row["file_name"]).read_text(encoding="utf-8"))
        meta = yaml.safe_load(front)
        assert list(meta) == ["layout", "title", "date", "categories", "tags"] and meta["title"] == expected


def test_pages_in_declared_chinese_encodings_are_decoded(crawl):
    _work, _result, _cases, db, _requested = crawl
    titles = [row["title"] for row in db.execute(
        "SELECT title FROM posts WHERE info_code IN ('NW202112270999000011', 'NW202112270999000012')")]
    assert titles == ["稳健性检验", "稳健性检验"]


def test_nothing_is_written_outside_the_output_folder(crawl):
    work, _result, _cases, _db, _requested = crawl
    assert sorted(path.name for path in work.iterdir()) == ["out"]
    files = [path.name for path in (work / "out" / "_posts").iterdir()]
    assert files and all(SAFE_FILE_NAME.match(name) for name in files)


def test_no_request_reaches_any_host_but_the_site_and_the_share_host(crawl):
    _work, _result, _cases, _db, requested = crawl
    # The home page links a post and a category on a subdomain, a post back-links one, a post redirects to one.
    assert all(urlsplit(url).hostname == "sub." + SITE_HOST for url in OFF_SITE_LINKS)
    assert {urlsplit(url).hostname for url in requested} == {SITE_HOST, SHARE_HOST}


def test_the_hanging_page_outlasts_the_default_download_timeout():
    # So that it is rejected as a timeout by a crawl with default settings, not archived late.
    assert HANG_SECONDS > DOWNLOAD_TIMEOUT


@pytest.mark.parametrize(("error", "words"), [
    (ResponseDataLossError(), "connection closed before the whole page arrived (ResponseDataLossError)"),
    (DownloadCancelledError(""), "download cancelled before the page arrived (DownloadCancelledError)"),
    (IgnoreRequest(), "request dropped by the crawler (IgnoreRequest)"),
    (KeyError(), "no details given (KeyError)"),
    (IgnoreRequest("Forbidden by robots.txt"), "IgnoreRequest: Forbidden by robots.txt"),
])
def test_every_failure_has_a_readable_reason(error, words):
    assert describe_failure(Failure(error)) == words


def test_robots_txt_is_obeyed_and_a_forbidden_post_recorded(tmp_path):
    from crawler.postfile import parse_post_file
    from crawler.replica.render import SITE_HOST, TEXT, Page, render_site

    site = generate_site(12)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    forbidden = next(path for host, path in pages if host == SITE_HOST and path.startswith("/jinwanbao/"))
    pages[(SITE_HOST, "/robots.txt")] = Page(200, TEXT, f"User-agent: *\nDisallow: {forbidden}\n".encode())
    with ReplicaServer(pages) as server:
        result = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
        fetched = list(server.requests)
    assert result.returncode == 0, result.stderr
    assert not any(url.endswith(forbidden) for url in fetched)
    db = sqlite3.connect(tmp_path / "out" / "archive.db")
    (reason,) = [r for (u, r) in db.execute("SELECT url, reason FROM rejects") if u.endswith(forbidden)]
    db.close()
    assert "robots.txt" in reason
