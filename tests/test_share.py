"""One record per infoCode across every route, share texts and revisions, end to end: the real ``finews``
command in its own process against the replica on loopback, real SQLite.

The share host's failures are made in the replica's page map: its GetNewsText answers replaced by a
closed connection (down), a 500, an answer slower than the share timeout, or invalid JSON.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from crawler.lock import LOCK_FILE, CrawlLock
from crawler.postfile import parse_post_file
from crawler.replica.generate import SyntheticSite, generate_site
from crawler.replica.render import (
    JSON,
    SHARE_HOST,
    SHARE_TEXT_PATH,
    TEXT,
    Page,
    PageKey,
    render_site,
    share_text_key,
)
from crawler.replica.server import NO_ANSWER, ReplicaServer
from crawler.runner import EXIT_LOCKED
from tests.test_crawl import finews, rows

POSTS = 30
SHARE_TIMEOUT = 1
# Beyond the share timeout, so a share request hangs as far as the crawl can tell.
HANG_SECONDS = 3
# Fast and the same every run: AutoThrottle would slow the share host's slot at each failure.
FAST = ("-s", "AUTOTHROTTLE_ENABLED=False", "-s", f"FINEWS_SHARE_TIMEOUT={SHARE_TIMEOUT}")
# What a post the share host's breaker held back says (share_status, and share_detail up to the count).
SKIPPED = ("skipped", f"share host {SHARE_HOST} unavailable: ")


def share_texts(pages: Mapping[PageKey, Page]) -> list[PageKey]:
    return [key for key in pages if key[0] == SHARE_HOST and key[1].startswith("/NewsData/GetNewsText.do?")]


def with_share_answers(pages: Mapping[PageKey, Page], answer: Page) -> dict[PageKey, Page]:
    """The site as it is, its share host answering every text request with ``answer``."""
    return {**pages, **dict.fromkeys(share_texts(pages), answer)}


def slow(page: Page) -> Page:
    return Page(page.status, page.content_type, page.body, page.headers, HANG_SECONDS)


FAULTS: dict[str, tuple[frozenset[str], str, str]] = {
    # fault: (the share_status a post whose text was asked for gets; its share_detail, as a regular
    # expression; how the fault is made)
    # Closed unanswered; Twisted sends a request again once when that happens on a reused connection, and
    # that second try may end in the share timeout instead.
    "down": (frozenset(("unreachable", "timeout")), r"ConnectionDone: |\w*TimeoutError: ",
             "no answer: the connection is closed"),
    "500": (frozenset(("http-error",)), r"http 500", "a 500"),
    "404": (frozenset(("missing",)), r"http 404", "a 404 for every text: the texts are no longer where they were"),
    "slow": (frozenset(("timeout",)),
             rf"\w*TimeoutError: Getting http://{re.escape(SHARE_HOST)}/\S+ took longer than {SHARE_TIMEOUT}", "hangs"),
    "invalid-json": (frozenset(("invalid",)), r"invalid json: ", "a truncated answer"),
}


def faulty(pages: Mapping[PageKey, Page], fault: str) -> dict[PageKey, Page]:
    if fault == "down":
        return with_share_answers(pages, NO_ANSWER)
    if fault == "500":
        return with_share_answers(pages, Page(500, TEXT, b"Internal Server Error\n"))
    if fault == "404":
        return with_share_answers(pages, Page(404, TEXT, b"Not Found\n"))
    if fault == "invalid-json":
        return with_share_answers(pages, Page(200, JSON, b'{"infoCode": "NW2021", "text": "<p>cut sh'))
    assert fault == "slow"
    return {**pages, **{key: slow(pages[key]) for key in share_texts(pages)}}


def held_back(row: dict) -> bool:
    return row["share_status"] == SKIPPED[0] and row["share_detail"].startswith(SKIPPED[1])


def archived(out: Path) -> dict[str, dict]:
    return {row["info_code"]: row for row in rows(out / "archive.db", "SELECT * FROM posts")}


def exported(out: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in (out / "_posts").iterdir()}


@dataclass
class Site:
    synthetic: SyntheticSite
    pages: dict[PageKey, Page]


@pytest.fixture(scope="module")
def site() -> Site:
    synthetic = generate_site(POSTS)
    return Site(synthetic, render_site(parse_post_file(name, text) for name, text in synthetic.files))


@pytest.fixture(scope="module")
def crawled(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One crawl of the healthy replica; tests copy its output before changing anything."""
    work = tmp_path_factory.mktemp("crawled")
    with ReplicaServer(site.pages) as server:
        result = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    assert not [url for url in server.requests if "NewsShare.html" in url], "the share page is never requested"
    return work / "out"


# One record, every URL ------------------------------------------------------------------------------


def test_the_twice_published_article_is_one_row_with_every_url_it_was_seen_under(site: Site, crawled: Path) -> None:
    code = site.synthetic.twin_info_code
    digits = code[2:]
    (row,) = rows(crawled / "archive.db", f"SELECT * FROM posts WHERE info_code = '{code}'")
    urls = rows(crawled / "archive.db", f"SELECT kind, url FROM post_urls WHERE info_code = '{code}' ORDER BY url")
    by_kind: dict[str, list[str]] = {}
    for url in urls:
        by_kind.setdefault(url["kind"], []).append(url["url"])
    (emnews_post,) = [url for url in by_kind["post"] if "/emnews/" in url]
    (outlet_post,) = [url for url in by_kind["post"] if "/emnews/" not in url]
    assert emnews_post.endswith(f"/{digits}.html") and outlet_post.endswith(f"/{code}.html")
    assert by_kind["share"] == [f"http://{SHARE_HOST}/html_News/NewsShare.html?infoCode={code}"]
    assert by_kind["article"] == [f"http://finance.eastmoney.com/a/{digits}.html"]
    assert by_kind["json"] == [f"http://{SHARE_HOST}/NewsData/GetNewsText.do?id={code}"]
    # The merge rule (docs/routes.md): the outlet post's record, the emnews route's digest and article link.
    assert (row["name"], row["kind"], row["post_url"]) == (code, "media", outlet_post)
    assert (row["category"], row["media"], row["source"]) == ("shanghaizhengquanbao", "上海证券报", "上海证券报")
    assert row["share_url"] == by_kind["share"][0] and row["article_url"] == by_kind["article"][0]
    assert row["digest"] and row["summary"] == row["digest"]
    assert (row["body_origin"], row["share_status"], row["share_text"]) == ("share", "ok", row["body_html"])
    assert not any(name.endswith(f"-{digits}.md") for name in exported(crawled))


def test_every_archived_post_has_its_page_its_links_and_its_share_text(site: Site, crawled: Path) -> None:
    posts = archived(crawled)
    assert set(posts) == set(site.synthetic.valid_info_codes)
    urls = rows(crawled / "archive.db", "SELECT * FROM post_urls")
    assert {url["info_code"] for url in urls} == set(posts)
    for code, row in posts.items():
        kinds = sorted(url["kind"] for url in urls if url["info_code"] == code)
        twin = code == site.synthetic.twin_info_code
        link = "share" if row["share_url"] else "article"
        assert kinds == sorted(["post", link, "json"] + (["post", "article"] if twin else [])), (code, kinds)
        assert (row["share_status"], row["body_origin"], row["share_text"]) == ("ok", "share", row["body_html"])
        assert row["share_text_stored"] is None  # the body is the text: stored once
        assert row["share_fetched_at"]


# The share host failing -------------------------------------------------------------------------------


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_failing_share_host_delays_no_post_and_backfill_fills_every_text(
    site: Site, tmp_path: Path, fault: str
) -> None:
    statuses, detail, _how = FAULTS[fault]
    out = tmp_path / "out"
    with ReplicaServer(faulty(site.pages, fault)) as server:
        crawl = finews("crawl", "--output", "out", *FAST, cwd=tmp_path, proxy=server.proxy_url)
    assert crawl.returncode == 0, crawl.stderr
    before = archived(out)
    assert set(before) == set(site.synthetic.valid_info_codes), "every post archived"
    for code, row in before.items():
        assert (row["body_origin"], row["share_text"]) == ("page-source", None), code
        asked = row["share_status"] in statuses and re.match(detail, row["share_detail"])
        assert asked or held_back(row), (row["share_status"], row["share_detail"])
        assert row["share_fetched_at"]
    assert any(row["share_status"] in statuses for row in before.values())
    assert rows(out / "archive.db", "SELECT * FROM frontier") == []
    assert not [kind for (kind,) in map(dict.values, rows(out / "archive.db", "SELECT kind FROM post_urls"))
                if kind == "json"], "no text, no json URL"

    # The bodies recovered from the pages alone: every file is already the original, byte for byte.
    originals = dict(site.synthetic.files)
    assert {name: originals.get(name) for name in exported(out)} == exported(out)

    with ReplicaServer(site.pages) as server:
        backfill = finews("share", "--backfill", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert backfill.returncode == 0, backfill.stderr
    assert backfill.stdout.startswith(
        f"share run 2 finished: {len(before)} infoCodes asked: {len(before)} texts fetched "
        f"(0 bodies changed, {len(before)} unchanged)")
    after = archived(out)
    assert set(after) == set(before)
    for code, row in after.items():
        assert (row["body_origin"], row["share_status"], row["share_text"]) == ("share", "ok", row["body_html"]), code
        assert row["body_html"] == before[code]["body_html"] and row["content_hash"] == before[code]["content_hash"]
        assert row["share_detail"] is None
        # The share route refreshes the text, not the record of when the site last listed the post.
        assert (row["last_seen_at"], row["last_seen_run"]) == (before[code]["last_seen_at"], 1)
    assert {name: originals.get(name) for name in exported(out)} == exported(out)
    assert rows(out / "archive.db", "SELECT * FROM post_revisions") == [], "no body changed, no revision"
    (run,) = rows(out / "archive.db", "SELECT * FROM crawl_runs WHERE id = 2")
    assert (run["mode"], run["status"], run["exit_code"], run["site"]) == ("share", "finished", 0, f"http://{SHARE_HOST}/")


def test_backfill_replaces_a_recovered_body_the_share_text_contradicts_and_keeps_it_as_a_revision(
    site: Site, tmp_path: Path
) -> None:
    # ASCII quotes render as the same curly quotes as written ones: from the page alone, the written ones
    # are the recovered source (what the generator writes), and the share host says otherwise.
    answers = {code: json.loads(site.pages[share_text_key(code)].body) for code in site.synthetic.valid_info_codes}
    code, answer = next((code, answer) for code, answer in sorted(answers.items())
                        if "text" not in answer and not answer["content"].startswith("<"))  # a plain emnews text
    quoted = answer["content"].replace("。", '"再次强调"。', 1)
    assert quoted != answer["content"]
    files = [(name, rewritten(text, answer["content"], quoted) if code[2:] in name else text)
             for name, text in site.synthetic.files]
    pages = render_site(parse_post_file(name, text) for name, text in files)
    with ReplicaServer(faulty(pages, "500")) as server:
        crawl = finews("crawl", "--output", "out", *FAST, cwd=tmp_path, proxy=server.proxy_url)
    assert crawl.returncode == 0, crawl.stderr
    before = archived(tmp_path / "out")
    assert before[code]["body_origin"] == "page-source"
    assert "再次强调" in before[code]["body_html"] and '"' not in before[code]["body_html"]

    with ReplicaServer(pages) as server:
        backfill = finews("share", "--backfill", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert backfill.returncode == 0, backfill.stderr
    assert f"texts fetched (1 bodies changed, {len(before) - 1} unchanged)" in backfill.stdout
    after = archived(tmp_path / "out")
    assert (after[code]["body_origin"], after[code]["body_html"]) == ("share", quoted)
    (revision,) = rows(tmp_path / "out" / "archive.db", "SELECT * FROM post_revisions")
    assert (revision["info_code"], revision["body_html"]) == (code, before[code]["body_html"])
    name = after[code]["file_name"]
    assert (tmp_path / "out" / "_posts" / name).read_text(encoding="utf-8") == dict(files)[name]


def test_backfill_asks_nothing_when_every_text_is_there(crawled: Path, tmp_path: Path) -> None:
    shutil.copytree(crawled, tmp_path / "out")
    with ReplicaServer({}) as server:
        result = finews("share", "--backfill", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0 and result.stdout.startswith("share run 2 finished: 0 infoCodes asked"), result
    assert server.requests == []


@pytest.mark.parametrize("fault", ["down", "404"])
def test_once_the_share_host_stops_answering_the_rest_of_the_run_does_not_ask_it(
    site: Site, tmp_path: Path, fault: str
) -> None:
    """One page at a time, so the count is nearly exact: the breaker's threshold, then no more share requests.
    A post's share text is downloaded, not scheduled, so the next page's download may overlap it: one more
    share request can be on its way when the breaker opens. AutoThrottle on, as shipped: it never shortens
    its delay for a host answering errors."""
    with ReplicaServer(faulty(site.pages, fault)) as server:
        crawl = finews("crawl", "--output", "out", "-s", f"FINEWS_SHARE_TIMEOUT={SHARE_TIMEOUT}",
                       "-s", "CONCURRENT_REQUESTS=1", "-s", "FINEWS_SHARE_BREAKER=3", cwd=tmp_path, proxy=server.proxy_url)
    assert crawl.returncode == 0, crawl.stderr
    # Twisted's connection pool sends a request again once when a reused connection closes unanswered.
    asked = {url for url in server.requests if url.startswith(f"http://{SHARE_HOST}/NewsData/")}
    assert 3 <= len(asked) <= 4
    posts = archived(tmp_path / "out").values()
    assert len(posts) == len(site.synthetic.valid_info_codes)
    # One reason for every post held back, the count frozen where the breaker opened.
    held = {row["share_detail"] for row in posts if held_back(row)}
    assert len(held) == 1 and re.match(re.escape(SKIPPED[1]) + "3 requests in a row failed", held.pop())
    assert len([row for row in posts if held_back(row)]) == len(posts) - len(asked)
    assert f"share host {SHARE_HOST} unavailable: 3 requests in a row failed" in crawl.stderr


# A backfill while the share host is down -------------------------------------------------------------------

BREAKER = 3
# One share request at a time, each after the last one's answer, so that counts are exact. A delay, not
# CONCURRENT_REQUESTS_PER_DOMAIN=1 alone: Scrapy 2.19's download slot sends every request queued in it at
# once, whatever its concurrency (it counts a request as transferring only once its download has started).
ONE_AT_A_TIME = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "DOWNLOAD_DELAY=0.05")


def share_host(answer: Page, received: list[str]) -> Callable[[str, str], Page | None]:
    """The replica's fault hook: every text request to the share host gets ``answer``, and is counted."""
    def fault(host: str, path: str) -> Page | None:
        if host != SHARE_HOST:
            return None
        if path == SHARE_TEXT_PATH:
            received.append(path)
        return answer
    return fault


@pytest.fixture(scope="module")
def textless(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crawl that did not ask the share host: every post archived from its page, its text still to fetch."""
    work = tmp_path_factory.mktemp("textless")
    with ReplicaServer(site.pages) as server:
        result = finews("crawl", "--output", "out", "-s", "FINEWS_FOLLOW_SHARE=False", cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    return work / "out"


def test_a_backfill_with_the_share_host_down_fails_in_one_line_with_honest_counts(
    site: Site, textless: Path, tmp_path: Path
) -> None:
    shutil.copytree(textless, tmp_path / "out")
    codes = len(archived(tmp_path / "out"))
    received: list[str] = []
    with ReplicaServer(site.pages, fault=share_host(NO_ANSWER, received)) as server:
        result = finews("share", "--backfill", "--output", "out", *FAST, "-s", f"FINEWS_SHARE_BREAKER={BREAKER}",
                        *ONE_AT_A_TIME, cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 1
    # One line for cron to mail: how many texts the outage cost, and why. No Scrapy error lines.
    reason = (f"share host {SHARE_HOST} unavailable: {BREAKER} requests in a row failed "
              "(last: ConnectionDone: Connection was closed cleanly.)")
    assert result.stderr.splitlines() == [
        f"finews share: {codes} of {codes} texts not fetched: {reason}; `finews share --backfill` asks again"]
    assert result.stdout.startswith(
        f"share run 2 failed: {codes} infoCodes asked: 0 texts fetched (0 bodies changed, 0 unchanged), "
        f"{codes} not fetched, 0 not archived; 0 files written")
    assert len(received) == BREAKER, "no request after the breaker opened"
    (run,) = rows(tmp_path / "out" / "archive.db", "SELECT * FROM crawl_runs WHERE id = 2")
    assert (run["status"], run["exit_code"], run["failure"]) == ("failed", 1, reason)
    assert (run["new"], run["updated"], run["unchanged"]) == (0, 0, 0), "nothing was fetched, nothing unchanged"
    # The texts asked for say what happened to them; those the breaker held back keep their last real status.
    statuses = rows(tmp_path / "out" / "archive.db",
                    "SELECT share_status, share_detail, count(*) AS posts FROM posts GROUP BY 1, 2 ORDER BY 1")
    assert [(row["share_status"], row["posts"]) for row in statuses] == [
        ("not-fetched", codes - BREAKER), ("unreachable", BREAKER)]
    assert statuses[0]["share_detail"] is None


def test_once_its_breaker_opens_no_share_request_is_sent_not_even_one_queued_before(
    site: Site, textless: Path, tmp_path: Path
) -> None:
    """One request at a time to the share host, while the downloader takes up to 16: requests wait for the
    host's slot after passing the breaker's middleware. The breaker opens at the third failed answer (a 502
    is retried, each attempt counted); the replica must then receive nothing more."""
    shutil.copytree(textless, tmp_path / "out")
    received: list[str] = []
    with ReplicaServer(site.pages, fault=share_host(Page(502, TEXT, b"Bad Gateway\n"), received)) as server:
        result = finews("share", "--backfill", "--output", "out", *FAST, "-s", f"FINEWS_SHARE_BREAKER={BREAKER}",
                        *ONE_AT_A_TIME, "-s", "ROBOTSTXT_OBEY=False",
                        cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 1
    assert len(received) == BREAKER
    assert f"{BREAKER} requests in a row failed (last: http 502)" in result.stderr
    (run,) = rows(tmp_path / "out" / "archive.db", "SELECT * FROM crawl_runs WHERE id = 2")
    assert run["requests"] == len(server.requests) == BREAKER, "the run counts the requests it sent, no others"


# Revisions ----------------------------------------------------------------------------------------------


def rewritten(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


def test_a_rewritten_post_keeps_its_old_text_as_a_revision_and_its_file_is_rewritten(
    site: Site, crawled: Path, tmp_path: Path
) -> None:
    shutil.copytree(crawled, tmp_path / "out")
    out = tmp_path / "out"
    before = archived(out)
    twin = site.synthetic.twin_info_code
    code = next(code for code, row in before.items() if row["kind"] == "media" and code != twin)
    old = before[code]
    paragraph = old["body_html"].split("</p>", 1)[0] + "</p>"
    added = "<p>（更新）补充说明：相关数据已修正。</p>"
    # The generator rewrites the post under the same name: a new paragraph in its page and its share text.
    files = [(name, rewritten(text, paragraph, paragraph + added) if name == old["file_name"] else text)
             for name, text in site.synthetic.files]
    pages = render_site(parse_post_file(name, text) for name, text in files)
    with ReplicaServer(pages) as server:
        full = finews("crawl", "--full", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert full.returncode == 0, full.stderr
    after = archived(out)
    assert len(after) == len(before)
    assert added in after[code]["body_html"] and after[code]["share_text"] == after[code]["body_html"]
    (revision,) = rows(out / "archive.db", "SELECT * FROM post_revisions")
    assert (revision["info_code"], revision["revision"], revision["content_hash"], revision["body_html"]) == (
        code, 1, old["content_hash"], old["body_html"])
    assert (out / "_posts" / old["file_name"]).read_text(encoding="utf-8") == dict(files)[old["file_name"]]

    # Then the share host alone answers another text: `finews share` makes it the body, a second revision.
    answer = json.loads(pages[share_text_key(code)].body)
    answer["text"] = rewritten(answer["text"], added, "<p>（再次更新）数据以此为准。</p>")
    pages[share_text_key(code)] = Page(200, JSON, json.dumps(answer, ensure_ascii=False).encode())
    with ReplicaServer(pages) as server:
        share = finews("share", code, "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert share.returncode == 0, share.stderr
    assert share.stdout.startswith(
        "share run 3 finished: 1 infoCodes asked: 1 texts fetched (1 bodies changed, 0 unchanged), 0 not fetched")
    final = archived(out)
    assert len(final) == len(before)
    assert final[code]["body_html"] == answer["text"] == final[code]["share_text"]
    assert final[code]["last_seen_run"] == 2  # the site did not list it again: only the share host was asked
    revisions = rows(out / "archive.db", "SELECT * FROM post_revisions ORDER BY revision")
    assert [(r["revision"], r["body_html"]) for r in revisions] == [
        (1, old["body_html"]), (2, after[code]["body_html"])]
    text = (out / "_posts" / old["file_name"]).read_text(encoding="utf-8")
    assert "（再次更新）数据以此为准。" in text and added not in text
    assert {name for name in exported(out)} == {row["file_name"] for row in final.values()}


# The command ----------------------------------------------------------------------------------------------


def test_share_takes_any_form_of_an_infocode_and_refuses_garbage_before_doing_anything(
    site: Site, crawled: Path, tmp_path: Path
) -> None:
    shutil.copytree(crawled, tmp_path / "out")
    out = tmp_path / "out"
    code = site.synthetic.twin_info_code
    listed = tmp_path / "codes.txt"
    listed.write_text(
        f"# the twin, by every name it has\n{code}\n{code[2:]}\n"
        f"http://{SHARE_HOST}/html_News/NewsShare.html?infoCode={code}\n"
        f"http://finance.eastmoney.com/a/{code[2:]}.html  # its article\n\n",
        encoding="utf-8",
    )
    with ReplicaServer(site.pages) as server:
        result = finews("share", "--from-file", "codes.txt", f"/NewsData/GetNewsText.do?id={code}", "--output", "out",
                        cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(
        "share run 2 finished: 1 infoCodes asked: 1 texts fetched (0 bodies changed, 1 unchanged), 0 not fetched")
    assert [url for url in server.requests if SHARE_HOST in url and "robots" not in url] == [
        f"http://{SHARE_HOST}/NewsData/GetNewsText.do?id={code}"]

    listed.write_text(f"{code}\nNW2021\n../../etc/passwd\n", encoding="utf-8")
    bad = finews("share", "--from-file", "codes.txt", "x", "--output", "out", cwd=tmp_path)
    assert bad.returncode == 2 and bad.stdout == ""
    refused = "is not NW or another two-letter prefix followed by 18 digits"
    assert bad.stderr.splitlines() == [
        f"finews share: 'x': name 'x' {refused}",
        f"finews share: codes.txt:2: name 'NW2021' {refused}",
        f"finews share: codes.txt:3: name '../../etc/passwd' {refused}",
    ]
    nothing = finews("share", "--output", "out", cwd=tmp_path)
    assert nothing.returncode == 2 and "nothing to fetch" in nothing.stderr
    unreadable = finews("share", "--from-file", "absent.txt", "--output", "out", cwd=tmp_path)
    assert unreadable.returncode == 2 and unreadable.stderr.startswith("finews share: cannot read absent.txt")
    assert len(rows(out / "archive.db", "SELECT * FROM crawl_runs")) == 2, "a refused command runs nothing"
    no_archive = finews("share", code, "--output", "elsewhere", cwd=tmp_path)
    assert no_archive.returncode == 1 and "no archive at elsewhere/archive.db" in no_archive.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_texts_not_stored_are_named_and_an_infocode_the_archive_does_not_hold_is_a_reject(
    site: Site, crawled: Path, tmp_path: Path
) -> None:
    shutil.copytree(crawled, tmp_path / "out")
    before = archived(tmp_path / "out")
    failing = min(code for code in before if code != site.synthetic.twin_info_code)
    stranger, missing = "NW202112309999000001", "NW202112309999000002"
    answer = json.dumps({"infoCode": stranger, "text": "<p>只在分享页上的文章。</p>"}, ensure_ascii=False).encode()
    pages = {**site.pages, share_text_key(stranger): Page(200, JSON, answer),
             share_text_key(failing): Page(500, TEXT, b"Internal Server Error\n")}
    with ReplicaServer(pages) as server:
        result = finews("share", stranger, missing, failing, "-s", "AUTOTHROTTLE_ENABLED=False", "--output", "out",
                        cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 1
    # (Besides Scrapy's own log line for the retries it gave up.)
    assert [line for line in result.stderr.splitlines() if line.startswith("finews share: ")] == [
        f"finews share: {stranger}: not archived: the share host gives no date, category or name to make a post of",
        (f"finews share: {missing}: not archived: the share host gives no date, category or name to make a post of; "
         "the share host failed too: http 404"),
        f"finews share: {failing}: http 500",
    ]
    assert result.stdout.startswith(
        "share run 2 finished: 3 infoCodes asked: 0 texts fetched (0 bodies changed, 0 unchanged), 1 not fetched, "
        "2 not archived;")
    # Retried as any request (this command is the retry); a failure leaves an exact text and its status alone.
    assert len([url for url in server.requests if url.endswith(f"?id={failing}")]) == 3
    assert archived(tmp_path / "out")[failing] == before[failing]
    rejects = {row["url"]: row for row in rows(tmp_path / "out" / "archive.db", "SELECT * FROM rejects")}
    kept = rejects[f"http://{SHARE_HOST}/NewsData/GetNewsText.do?id={stranger}"]
    assert kept["raw_page"] == answer and kept["reason"].startswith(f"{stranger}: not archived")
    assert rejects[f"http://{SHARE_HOST}/NewsData/GetNewsText.do?id={missing}"]["reason"].endswith("http 404")
    assert stranger not in archived(tmp_path / "out")
    (run,) = rows(tmp_path / "out" / "archive.db", "SELECT * FROM crawl_runs WHERE id = 2")
    assert (run["status"], run["exit_code"], run["rejected"], run["unchanged"]) == ("finished", 1, 2, 0)


def test_share_refuses_an_output_a_crawl_holds(site: Site, crawled: Path, tmp_path: Path) -> None:
    shutil.copytree(crawled, tmp_path / "out")
    with CrawlLock(tmp_path / "out" / LOCK_FILE):
        result = finews("share", "--backfill", "--output", "out", cwd=tmp_path)
    assert result.returncode == EXIT_LOCKED
    assert result.stderr.strip().startswith("finews share: another crawl (pid ")
    assert len(rows(tmp_path / "out" / "archive.db", "SELECT * FROM crawl_runs")) == 1
