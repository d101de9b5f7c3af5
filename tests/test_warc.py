"""The raw captures as WARC files (pipelines/warc.py) and the pages table as their index: real crawls of the
replica on loopback, real WARC files checked by warcio's own ``warcio check``, real SQLite."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import zipfile
import zlib
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import render_site
from crawler.replica.server import ReplicaServer, resolve
from pipelines.archive import Archive, FetchedPage
from pipelines.warc import OPEN_SUFFIX, WarcFiles, payload_digest, read_capture, seal_interrupted
from tests.older_archive import archive_at_version
from tests.test_crawl import finews, rows
from tests.warc_check import warcio_check

POSTS = 30
# pywb's own virtualenv (scripts/pywb_env.sh, which scripts/test.sh runs): it pins what this project cannot share.
PYWB_BIN = Path(os.environ.get("FINEWS_PYWB_BIN") or Path.home() / ".cache" / "finews-pywb" / "venv-2.10.0" / "bin")
needs_pywb = pytest.mark.skipif(not (PYWB_BIN / "wayback").is_file(),
                                reason=f"pywb is not installed at {PYWB_BIN}: bash scripts/pywb_env.sh installs it")


def records(path: Path) -> list[tuple[str, str]]:
    """(WARC-Type, WARC-Target-URI) of every record in a file, in order."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as stream:
        return [(record.rec_type, record.rec_headers.get_header("WARC-Target-URI") or "")
                for record in ArchiveIterator(stream)]


@pytest.fixture(scope="module")
def crawled_twice(tmp_path_factory: pytest.TempPathFactory):
    """A crawl of the replica, then a --full crawl of the same, unchanged site."""
    work = tmp_path_factory.mktemp("warc")
    site = generate_site(POSTS)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    with ReplicaServer(pages) as server:
        first = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
        assert first.returncode == 0, first.stderr
        index_after_first = rows(work / "out" / "archive.db", "SELECT * FROM pages ORDER BY url")
        files_after_first = sorted(path.name for path in (work / "out" / "warc").iterdir())
        full = finews("crawl", "--full", "--output", "out", cwd=work, proxy=server.proxy_url)
        assert full.returncode == 0, full.stderr
    return work / "out", pages, index_after_first, files_after_first


def test_each_run_writes_one_closed_valid_file_starting_with_its_warcinfo(crawled_twice) -> None:
    out, _pages, _index, first_files = crawled_twice
    files = sorted((out / "warc").iterdir())
    assert len(first_files) == 1 and len(files) == 2
    for path in files:
        assert path.name.endswith(".warc.gz") and not path.name.endswith(OPEN_SUFFIX)
        assert warcio_check(path) == ""
        assert records(path)[0][0] == "warcinfo"


def test_every_response_is_a_response_record_with_its_request(crawled_twice) -> None:
    out, pages, index, first_files = crawled_twice
    first = records(out / "warc" / first_files[0])
    responses = [uri for kind, uri in first if kind == "response"]
    assert sorted(responses) == sorted(row["url"] for row in index)  # every page once, robots.txt included
    # A page asked twice in one run (an article's share text, by its two routes) is a revisit the second time.
    revisits = [uri for kind, uri in first if kind == "revisit"]
    assert set(revisits) <= set(responses)
    assert sorted(uri for kind, uri in first if kind == "request") == sorted(responses + revisits)
    for row in index:
        url = urlsplit(row["url"])
        served = resolve(pages, url.hostname or "", url.path, url.query)
        status, headers, body = read_capture(out / "warc", row["warc_file"], row["warc_offset"], row["warc_length"])
        assert (status, body) == (served.status, served.body), row["url"]
        assert headers["Content-Type"] == [served.content_type]


def test_a_full_rerun_of_an_unchanged_site_writes_revisits_not_payloads(crawled_twice) -> None:
    out, _pages, index, first_files = crawled_twice
    (second,) = [path for path in (out / "warc").iterdir() if path.name not in first_files]
    kinds = [kind for kind, _uri in records(second)]
    assert "response" not in kinds, "an unchanged page was stored again"
    assert kinds.count("revisit") == kinds.count("request") >= len(index) - 1  # every page asked again
    # The index still points at the captures holding the payloads, dated by the rerun.
    again = {row["url"]: row for row in rows(out / "archive.db", "SELECT * FROM pages")}
    for row in index:
        now = again[row["url"]]
        assert (now["warc_file"], now["warc_offset"], now["digest"]) == (row["warc_file"], row["warc_offset"],
                                                                         row["digest"])
        assert now["run_id"] == 2
    assert (second.stat().st_size) < (out / "warc" / first_files[0]).stat().st_size / 2


def test_archive_db_holds_no_page_body_and_reparse_changes_nothing(crawled_twice, tmp_path: Path) -> None:
    out = crawled_twice[0]
    assert rows(out / "archive.db", "SELECT url FROM pages WHERE body IS NOT NULL OR headers IS NOT NULL") == []
    reparse = finews("reparse", "--output", str(out), cwd=tmp_path)
    assert reparse.returncode == 0, reparse.stderr
    assert " 0 new, 0 updated, " in reparse.stdout and " 0 files written" in reparse.stdout, reparse.stdout


def test_an_error_answer_is_in_the_warc_file_but_the_index_keeps_the_page(tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "archive.db")
    url = "http://finews.withounder.com/jinwanbao/2021/12/27/NW202112272226582498.html"
    assert archive.save_page(FetchedPage(url, 200, {"Content-Type": ["text/html"]}, "<p>正文</p>".encode()), 1)
    assert not archive.save_page(FetchedPage(url, 404, {}, b"gone"), 2)
    page = archive.stored_page(url)
    assert page is not None and (page.status, page.body) == (200, "<p>正文</p>".encode())
    archive.close()
    (path,) = (tmp_path / "warc").iterdir()
    assert [kind for kind, _ in records(path)] == ["warcinfo", "response", "request", "response", "request"]


def test_a_row_is_committed_only_after_its_record_left_the_process(tmp_path: Path) -> None:
    """Records are buffered in the process; every row that commits must point at bytes another reader (or
    the next run, after a kill) can read: at once outside a group, at the group's commit inside one."""
    url = "http://finews.withounder.com/emnews/2021/12/27/202112272226582498.html"
    archive = Archive.open(tmp_path / "archive.db")
    archive.save_page(FetchedPage(url, 200, {}, b"<p>alone</p>", fetched_at="2026-12-05T08:00:00+00:00"), 1)
    other = Archive.open(tmp_path / "archive.db")  # another connection reads only what committed
    assert other.stored_page(url).body == b"<p>alone</p>"
    archive.group_commits()
    archive.save_page(FetchedPage(url + "?2", 200, {}, b"<p>grouped</p>", fetched_at="2026-12-05T08:00:01+00:00"), 1)
    assert other.stored_page(url + "?2") is None
    archive.commit()
    assert other.stored_page(url + "?2").body == b"<p>grouped</p>"
    other.close()
    archive.close()


def test_digests_and_record_ids_are_what_the_standard_says(tmp_path: Path) -> None:
    for body in (b"", b"<p>x</p>", os.urandom(5000)):
        expected = "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode()
        assert payload_digest(body) == expected
    archive = Archive.open(tmp_path / "archive.db")
    for n in range(20):
        archive.save_page(FetchedPage(f"http://finews.withounder.com/{n}", 200, {}, b"x" * n), 1)
    archive.close()
    (path,) = (tmp_path / "warc").iterdir()
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as stream:
        ids = [record.rec_headers.get_header("WARC-Record-ID") for record in ArchiveIterator(stream)]
    assert len(set(ids)) == len(ids) == 41
    assert all(uuid.UUID(record_id[len("<urn:uuid:"):-1]).version == 4 for record_id in ids)


def test_a_torn_record_is_cut_off_and_the_file_sealed(tmp_path: Path) -> None:
    files = WarcFiles(tmp_path)
    exchange = FetchedPage("http://finews.withounder.com/", 200, {"Content-Type": ["text/html"]}, b"<p>home</p>",
                           fetched_at="2026-12-05T08:00:00+00:00", request_headers={"User-Agent": ["finews"]})
    capture = files.write(exchange)
    files.flush()
    (opened,) = tmp_path.iterdir()
    whole = opened.stat().st_size
    torn = opened.read_bytes()[capture.offset : capture.offset + capture.length // 2]
    with open(opened, "ab") as stream:  # what a kill in the middle of writing a record leaves
        stream.write(torn)
    ((name, kept, cut),) = seal_interrupted(tmp_path)
    assert (kept, cut) == (whole, len(torn)) and (tmp_path / name).is_file() and not opened.exists()
    assert warcio_check(tmp_path / name) == ""


def test_migration_012_moves_every_stored_body_into_a_warc_file_and_loses_nothing(tmp_path: Path) -> None:
    site = generate_site(POSTS)
    served = render_site(parse_post_file(name, text) for name, text in site.files)
    db = archive_at_version(tmp_path / "archive.db", 11)
    before = {}
    for number, ((host, path), page) in enumerate(sorted(served.items())):
        url = f"http://{host}{path}"
        headers = {"Content-Type": [page.content_type], "Content-Length": [str(len(page.body))]}
        before[url] = (page.status, page.body, page.content_type)
        db.execute(
            "INSERT INTO pages (url, status, callback, fetched_at, run_id, size, headers, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [url, page.status, "parse_post", f"2021-12-27T0{number % 10}:00:00+00:00", 1, len(page.body),
             json.dumps(headers), zlib.compress(page.body)],
        )
    db.conn.commit()
    db.close()

    archive = Archive.open(tmp_path / "archive.db")
    for url, (status, body, content_type) in before.items():
        page = archive.stored_page(url)
        assert page is not None and (page.status, page.body) == (status, body), url
        assert page.headers["Content-Type"] == [content_type]
    archive.close()
    assert rows(tmp_path / "archive.db", "SELECT url FROM pages WHERE body IS NOT NULL OR warc_file IS NULL") == []
    (moved,) = (tmp_path / "warc").iterdir()
    assert warcio_check(moved) == ""
    assert [kind for kind, _ in records(moved)].count("response") == len(before)


@needs_pywb
def test_pywb_replays_post_pages_from_the_warc_files_as_the_site_served_them(crawled_twice, tmp_path: Path) -> None:
    out, pages, index, _first = crawled_twice
    subprocess.run([str(PYWB_BIN / "wb-manager"), "init", "finews"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([str(PYWB_BIN / "wb-manager"), "add", "finews", *map(str, sorted((out / "warc").iterdir()))],
                   cwd=tmp_path, check=True, capture_output=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    wayback = subprocess.Popen([str(PYWB_BIN / "wayback"), "-p", str(port), "-b", "127.0.0.1"], cwd=tmp_path,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, never through a proxy
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                opener.open(f"http://127.0.0.1:{port}/", timeout=5).read()
                break
            except OSError:
                assert time.monotonic() < deadline and wayback.poll() is None, "wayback did not start"
                time.sleep(0.2)
        posts = [row for row in index if row["callback"] == "parse_post"][:3]
        assert len(posts) == 3
        for row in posts:
            stamp = "".join(char for char in row["warc_date"] if char.isdigit())[:14]
            with opener.open(f"http://127.0.0.1:{port}/finews/{stamp}id_/{row['url']}", timeout=30) as answer:
                replayed = answer.read()
            url = urlsplit(row["url"])
            assert replayed == resolve(pages, url.hostname or "", url.path, url.query).body, row["url"]
    finally:
        wayback.terminate()
        wayback.wait(timeout=30)


def test_export_wacz_packages_the_captures_with_the_post_pages_and_their_titles(crawled_twice, tmp_path: Path) -> None:
    out = crawled_twice[0]
    exported = finews("export", "--format", "wacz", "--output", str(out), cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    wacz = out / "finews.wacz"
    validate = subprocess.run([str(Path(sys.executable).with_name("wacz")), "validate", "-f", str(wacz)],
                              capture_output=True, text=True, check=False)
    assert validate.returncode == 0 and "Validation succeeded" in validate.stdout, validate.stdout + validate.stderr
    with zipfile.ZipFile(wacz) as package:
        names = set(package.namelist())
        header, *lines = package.read("pages/pages.jsonl").decode("utf-8").splitlines()
    assert {f"archive/{path.name}" for path in (out / "warc").iterdir()} <= names
    assert json.loads(header)["format"] == "json-pages-1.0"
    listed = {page["url"]: page["title"] for page in map(json.loads, lines)}
    archived = {row["post_url"]: row["title"] for row in rows(out / "archive.db", "SELECT post_url, title FROM posts")}
    assert listed == archived
