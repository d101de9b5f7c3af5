"""Every fetched page is stored compressed, and `finews reparse` rebuilds every post from them with no network."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import Page, render_site
from crawler.replica.server import NO_ANSWER, ReplicaServer, resolve
from crawler.settings import FINEWS_SHARE_HOST as SHARE_HOST
from crawler.sharehost import share_text_url
from pipelines.archive import Archive, FetchedPage
from pipelines.warc import payload_digest, read_capture
from tests.test_crawl import finews, rows
from tests.warc_check import warcio_check

POSTS = 30
# What a reparse may change on a record it rebuilds unchanged in content: when it was written; and the change
# feed's number of a record it changed back (the tampered ones: the tampering took a number, the fix another).
BOOKKEEPING = ("updated_at", "change_seq")


class Tripwire:
    """An HTTP proxy on loopback that answers nothing but 502 and records every request it gets."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        requests = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                requests.append(self.path)
                self.send_error(502)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Tripwire:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """One crawl of the replica; the pages it served, the URLs it was asked for, and a copy of its output."""
    work = tmp_path_factory.mktemp("pages")
    site = generate_site(POSTS)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    with ReplicaServer(pages) as server:
        result = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
        requested = list(server.requests)
    assert result.returncode == 0, result.stderr
    shutil.copytree(work / "out", work / "reference")
    return work, pages, requested


def test_every_page_the_crawl_fetched_is_a_warc_record_the_index_points_at(crawl):
    work, pages, requested = crawl
    stored = rows(work / "reference" / "archive.db", "SELECT * FROM pages")
    assert {row["url"] for row in stored} == set(requested)
    for row in stored:
        url = urlsplit(row["url"])
        served = resolve(pages, url.hostname or "", url.path, url.query)
        assert (row["body"], row["headers"]) == (None, None), "no body in archive.db"
        status, headers, body = read_capture(work / "reference" / "warc", row["warc_file"], row["warc_offset"],
                                             row["warc_length"])
        assert body == served.body, row["url"]
        assert (status, row["status"], row["size"]) == (served.status, served.status, len(served.body))
        assert headers["Content-Type"] == [served.content_type]
        assert row["digest"] == payload_digest(served.body)
        assert row["fetched_at"] and row["run_id"] == 1
    callbacks = {row["url"]: row["callback"] for row in stored}
    for post in rows(work / "reference" / "archive.db", "SELECT post_url FROM posts"):
        assert callbacks[post["post_url"]] == "parse_post"
    assert {callback for url, callback in callbacks.items() if "GetNewsText.do" in url} == {"parse_share"}
    assert callbacks["http://finews.withounder.com/robots.txt"] is None
    # A record dates its share text by the stored answer's own time.
    stored_at = {row["url"]: row["fetched_at"] for row in stored}
    for post in rows(work / "reference" / "archive.db", "SELECT * FROM posts WHERE share_status = 'ok'"):
        assert post["share_fetched_at"] == stored_at[share_text_url(SHARE_HOST, post["info_code"])]
    # Every file is closed (no `.open` left) and valid to warcio's own check.
    files = sorted((work / "reference" / "warc").iterdir())
    assert files and all(path.name.endswith(".warc.gz") for path in files)
    for path in files:
        assert warcio_check(path) == ""


def test_an_error_answer_never_replaces_a_stored_page(tmp_path):
    archive = Archive.open(tmp_path / "archive.db")
    url = "http://finews.withounder.com/jinwanbao/2021/12/27/NW202112272226582498.html"
    page = FetchedPage(url, 200, {"Content-Type": ["text/html"]}, "<p>今晚报</p>".encode(), "parse_post")
    assert archive.save_page(page, 1)
    assert not archive.save_page(FetchedPage(url, 404, {}, b"gone", "parse_post"), 2)
    assert archive.stored_page(url).body == page.body
    other = "http://finews.withounder.com/emnews/"
    archive.save_page(FetchedPage(other, 500, {}, b"oops", "parse_listing"), 1)
    assert archive.save_page(FetchedPage(other, 200, {}, b"<html>", "parse_listing"), 2)
    assert (archive.stored_page(other).status, archive.stored_page(other).body) == (200, b"<html>")
    assert archive.stored_page_urls("parse_post") == [url]
    archive.close()


def tamper_as_an_older_parser_would_have(db_path: Path) -> dict[str, str]:
    """Records as a parser with other rules would have left them: a wrong title, a wrong text, a post that
    parser rejected (no row, a reject instead)."""
    db = sqlite3.connect(db_path)
    codes = [code for (code,) in db.execute(
        "SELECT info_code FROM posts WHERE kind = 'media' AND digest IS NULL ORDER BY info_code LIMIT 3"
    )]
    db.execute("UPDATE posts SET title = '旧解析器的标题', content_hash = 'old' WHERE info_code = ?", [codes[0]])
    db.execute("UPDATE posts SET body_text = '旧文本', content_hash = 'old' WHERE info_code = ?", [codes[1]])
    (post_url,) = db.execute("SELECT post_url FROM posts WHERE info_code = ?", [codes[2]]).fetchone()
    db.execute("DELETE FROM posts WHERE info_code = ?", [codes[2]])
    db.execute("INSERT INTO rejects (url, reason, raw_page, times, page_received) VALUES (?, 'missing title', x'', 1, 1)",
               [post_url])
    db.commit()
    db.close()
    return {"title": codes[0], "body_text": codes[1], "rejected": codes[2]}


def test_reparse_rebuilds_every_post_from_stored_pages_with_no_request_and_reports_the_changes(crawl):
    work, _pages, _requested = crawl
    db_path = work / "out" / "archive.db"
    tampered = tamper_as_an_older_parser_would_have(db_path)
    (work / "out" / "_posts" / rows(work / "reference" / "archive.db",
                                    f"SELECT file_name FROM posts WHERE info_code = '{tampered['rejected']}'")[0]["file_name"]).unlink()

    with Tripwire() as tripwire:
        result = finews("reparse", "--output", "out", cwd=work, proxy=tripwire.url)
    assert result.returncode == 0, result.stderr
    assert tripwire.requests == []

    report = result.stdout.splitlines()
    assert [line.split()[:3] for line in report if line.startswith("updated")] == sorted(
        [["updated", tampered["title"], "title"], ["updated", tampered["body_text"], "body_text"]]
    )
    assert [line.split()[:2] for line in report if line.startswith("new")] == [["new", tampered["rejected"]]]
    assert report[-1].startswith(f"reparse run 2 finished: {POSTS} stored post pages read again (0 requests): 1 new, 2 updated")

    reference = {row["info_code"]: row for row in rows(work / "reference" / "archive.db", "SELECT * FROM posts")}
    rebuilt = {row["info_code"]: row for row in rows(db_path, "SELECT * FROM posts")}
    assert rebuilt.keys() == reference.keys()
    for code, row in reference.items():
        if code == tampered["rejected"]:
            continue  # archived anew by the reparse: its own first and last seen
        differs = {key for key in row if row[key] != rebuilt[code][key]}
        assert differs <= set(BOOKKEEPING), (code, differs)  # last_seen_* kept: the site was not looked at
    for key in ("title", "body_html", "body_text", "content_hash", "file_name"):
        assert rebuilt[tampered["rejected"]][key] == reference[tampered["rejected"]][key]
    files = {path.name: path.read_bytes() for path in (work / "out" / "_posts").iterdir()}
    assert files == {path.name: path.read_bytes() for path in (work / "reference" / "_posts").iterdir()}

    (run,) = rows(db_path, "SELECT * FROM crawl_runs WHERE id = 2")
    assert (run["mode"], run["status"], run["exit_code"], run["requests"]) == ("reparse", "finished", 0, 0)
    assert (run["new"], run["updated"]) == (1, 2)
    db = sqlite3.connect(db_path)
    db.execute("INSERT INTO posts_fts (posts_fts, rank) VALUES ('integrity-check', 1)")
    db.close()

    with Tripwire() as tripwire:
        again = finews("reparse", "--output", "out", cwd=work, proxy=tripwire.url)
    assert tripwire.requests == []
    assert again.returncode == 0 and again.stdout.splitlines()[-1].startswith(
        f"reparse run 3 finished: {POSTS} stored post pages read again (0 requests): 0 new, 0 updated"
    ), again.stdout
    assert " 0 files written" in again.stdout
    assert again.stderr == "", "a reparse from cron mails nothing when nothing went wrong"


def test_reparse_without_an_archive_is_a_clear_error(tmp_path):
    result = finews("reparse", "--output", "nothing-here", cwd=tmp_path)
    assert result.returncode == 1 and "no archive at nothing-here/archive.db" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_reparse_of_posts_crawled_while_the_share_host_was_down_reports_no_share_failure(tmp_path):
    """Their share texts are not among the stored pages: the reparse asks nothing, so nothing failed. No
    "No share text … `finews share --backfill` retries" error, for the posts it rebuilds or those it rejects:
    each post keeps the share status its crawl gave it, and the summary counts both."""
    site = generate_site(POSTS)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)

    def share_host_down(host: str, _path: str) -> Page | None:
        return NO_ANSWER if host == SHARE_HOST else None

    with ReplicaServer(pages, fault=share_host_down) as server:
        crawled = finews("crawl", "--output", "out", "-s", "FINEWS_SHARE_TIMEOUT=1", cwd=tmp_path, proxy=server.proxy_url)
    assert crawled.returncode == 0, crawled.stderr
    db_path = tmp_path / "out" / "archive.db"
    before = rows(db_path, "SELECT info_code, share_status, share_detail, share_fetched_at FROM posts ORDER BY 1")
    assert {row["share_status"] for row in before} <= {"unreachable", "skipped"}

    with Tripwire() as tripwire:
        result = finews("reparse", "--output", "out", cwd=tmp_path, proxy=tripwire.url)
    assert result.returncode == 0 and tripwire.requests == []
    assert result.stderr == ""
    rejected = len(rows(db_path, "SELECT url FROM rejects"))
    assert rejected > 0, "the generated site has posts a reparse rejects"
    assert len([line for line in result.stdout.splitlines() if line.startswith("rejected ")]) == rejected
    assert result.stdout.splitlines()[-1].startswith(
        f"reparse run 2 finished: {POSTS} stored post pages read again (0 requests): 0 new, 0 updated, "
        f"{POSTS - rejected} unchanged, {rejected} rejected")
    assert result.stdout.splitlines()[-1].endswith(
        f"; {POSTS} share texts not among the stored pages (their posts keep their share status: "
        "`finews share --backfill` fetches them)")
    assert rows(db_path, "SELECT info_code, share_status, share_detail, share_fetched_at FROM posts ORDER BY 1") == before
