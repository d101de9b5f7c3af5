"""The merge rule as docs/routes.md writes it down, post_urls, and older archives upgraded to hold both."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import fields, replace
from pathlib import Path

import pytest

from crawler.items import PostItem
from crawler.pages.body import SUMMARY_LENGTH, content_hash
from crawler.record import take_share_text
from pipelines.archive import Archive
from pipelines.dedupe import merge_routes
from pipelines.schema import MIGRATIONS, POSTS
from tests.older_archive import archive_at_version

DOCS = Path(__file__).resolve().parents[1] / "docs" / "routes.md"
CODE = "NW202112272226582498"
SHARE_LINK = f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode={CODE}"
ARTICLE = f"http://finance.eastmoney.com/a/{CODE[2:]}.html"
JSON_URL = f"http://finews.zning.xyz/NewsData/GetNewsText.do?id={CODE}"


def documented_rule() -> dict[str, str]:
    """field → where it comes from, read off the table between the merge-rule markers in docs/routes.md."""
    text = DOCS.read_text(encoding="utf-8")
    table = text.split("<!-- merge-rule -->", 1)[1].split("<!-- /merge-rule -->", 1)[0]
    rule: dict[str, str] = {}
    for line in table.strip().splitlines()[2:]:
        names, source = (cell.strip() for cell in line.strip("|").split("|"))
        for name in re.findall(r"`([a-z_]+)`", names):
            rule[name] = source
    return rule


def outlet(origin: str = "share") -> PostItem:
    """The outlet post of the article: every field it has differs from the emnews post's."""
    item = PostItem(
        post_url=f"http://finews.withounder.com/jinwanbao/2021/12/27/{CODE}.html", info_code=CODE, name=CODE,
        title="标题（今晚报）", published_at="2021-12-27T10:36:14+08:00", category="jinwanbao", tags=["今晚报新闻"],
        kind="media", media="今晚报", share_url=SHARE_LINK,
        back_link_lines="[返回今晚报新闻](//x/category/jinwanbao.html)",
        share_status="http 500", share_fetched_at="2021-12-27T02:40:00+00:00",
    )
    body = "<p>正文：今晚报。</p>"
    if origin == "share":
        take_share_text(item, body + "\n ", JSON_URL, "2021-12-27T02:40:00+00:00")
    else:
        item.body_html, item.body_origin = body, "page"
    item.seen_urls = [("post", item.post_url), ("share", SHARE_LINK)] + [("json", JSON_URL)] * (origin == "share")
    item.content_hash = content_hash(item)
    return item


def emnews(origin: str = "share") -> PostItem:
    item = PostItem(
        post_url=f"http://finews.withounder.com/emnews/2021/12/27/{CODE[2:]}.html", info_code=CODE, name=CODE[2:],
        title="标题（东财）", published_at="2021-12-27T10:36:15+08:00", category="emnews", tags=["东财滚动新闻"],
        kind="emnews", digest="摘要：东财。", article_url=ARTICLE, back_link_lines="[返回东财滚动新闻](//x/emnews/)",
        share_status="TimeoutError", share_fetched_at="2021-12-27T02:41:00+00:00",
    )
    body = "<p>正文：东财。</p>"
    if origin == "share":
        take_share_text(item, body + "\n ", JSON_URL, "2021-12-27T02:41:00+00:00")
    else:
        item.body_html, item.body_origin = body, "page"
    item.body_text, item.source, item.editor = f"文本 {origin}", f"来源 {origin}", f"编辑 {origin}"
    item.seen_urls = [("post", item.post_url), ("article", ARTICLE)] + [("json", JSON_URL)] * (origin == "share")
    item.content_hash = content_hash(item)
    return item


def test_every_stored_field_of_the_item_has_a_documented_rule() -> None:
    stored = {f.name for f in fields(PostItem)} & {column.name for column in POSTS.columns}
    assert set(documented_rule()) == stored - {"info_code"}


@pytest.mark.parametrize("origins", [("share", "share"), ("share", "page"), ("page", "share"), ("page", "page")])
@pytest.mark.parametrize("outlet_first", [True, False])
def test_the_merge_follows_the_documented_rule_whichever_route_came_first(
    origins: tuple[str, str], outlet_first: bool
) -> None:
    outlet_post, emnews_post = outlet(origins[0]), emnews(origins[1])
    first, second = (outlet_post, emnews_post) if outlet_first else (emnews_post, outlet_post)
    merged = merge_routes(replace(first), replace(second))
    exact = emnews_post if origins == ("page", "share") else outlet_post
    for name, source in documented_rule().items():
        value = getattr(merged, name)
        if source == "outlet":
            assert value == getattr(outlet_post, name), name
        elif source == "emnews":
            assert value == getattr(emnews_post, name), name
        elif source == "exact":
            assert value == getattr(exact, name), name
        elif source == "digest":
            assert value == (merged.digest or merged.body_text[:SUMMARY_LENGTH]) == emnews_post.digest
        else:
            assert source == "merged" and value == content_hash(merged), name
    # The URLs seen are the reading just made, whichever record won.
    assert merged.seen_urls == second.seen_urls and merged.from_site


def test_a_share_route_refresh_with_another_text_replaces_the_body() -> None:
    archived = outlet("share")
    changed = replace(archived, from_site=False)
    take_share_text(changed, "<p>新的正文。</p>", JSON_URL, "2021-12-28T00:00:00+00:00")
    merged = merge_routes(archived, changed)
    assert (merged.body_html, merged.share_text, merged.body_origin) == ("<p>新的正文。</p>",) * 2 + ("share",)
    assert merged.content_hash != archived.content_hash and not merged.from_site
    assert merged.seen_urls == [("json", JSON_URL)]


def test_the_archive_records_every_url_once_and_a_share_refresh_keeps_last_seen(tmp_path: Path) -> None:
    archive = Archive.open(tmp_path / "archive.db")
    try:
        run = archive.start_run("http://finews.withounder.com/")
        assert archive.save_post(emnews("page"), "2021-12-27-202112272226582498.md", run) == "new"
        merged = merge_routes(emnews("page"), outlet("page"))
        # The outlet post's page is the article's second route: merged, not updated (its text still kept below).
        assert archive.save_post(merged, "2021-12-27-NW202112272226582498.md", run) == "merged"
        assert archive.save_post(merge_routes(merged, outlet("page")), "x.md", run) == "unchanged"
        assert sorted((row["kind"], row["url"]) for row in archive.post_urls(CODE)) == sorted([
            ("post", emnews().post_url), ("article", ARTICLE), ("post", outlet().post_url), ("share", SHARE_LINK)])
        assert archive.codes_without_share_text() == [CODE]
        seen = archive.get_post(CODE)

        share_run = archive.start_run("http://finews.zning.xyz/", "share")
        refreshed = replace(merge_routes(merged, merged), from_site=False)
        take_share_text(refreshed, "<p>正文。</p>", JSON_URL, "2021-12-28T00:00:00+00:00")
        assert archive.save_post(merge_routes(merged, refreshed), "2021-12-27-NW202112272226582498.md", share_run) == (
            "updated")
        row = archive.get_post(CODE)
        assert (row["last_seen_at"], row["last_seen_run"]) == (seen["last_seen_at"], run)
        assert (row["share_text"], row["body_origin"], row["share_status"]) == ("<p>正文。</p>", "share", "ok")
        assert archive.post_urls(CODE)[-1]["kind"] == "json" and archive.codes_without_share_text() == []
        # These two routes' texts differ (the real twins' do not): the emnews text, then the outlet page's.
        assert [revision["body_html"] for revision in archive.revisions(CODE)] == [
            emnews("page").body_html, seen["body_html"]]
        assert archive.latest_run(("incremental", "full"))["id"] == run and archive.latest_run()["id"] == share_run
    finally:
        archive.close()


def test_an_archive_from_before_post_urls_is_upgraded_with_what_it_knew(tmp_path: Path) -> None:
    """A version-2 archive (as released before migration 3): its rows' URLs and exact texts are carried over."""
    path = tmp_path / "archive.db"
    db = archive_at_version(path, 2)
    version_2 = [column.name for column in POSTS.columns if column.since <= 2]
    for item in (outlet("share"), replace(emnews("page"), info_code="NW202112272226582499")):
        db["posts"].insert({name: getattr(item, name, None) for name in version_2 if hasattr(item, name)}
                           | {"first_seen_at": "2021-12-27T03:00:00+00:00", "tags": "[]"})
    db.close()

    Archive.open(path).close()
    upgraded = sqlite3.connect(path)
    try:
        urls = upgraded.execute("SELECT info_code, kind, url, first_seen_at FROM post_urls ORDER BY info_code, kind")
        assert list(urls) == [
            (CODE, "post", outlet().post_url, "2021-12-27T03:00:00+00:00"),
            (CODE, "share", SHARE_LINK, "2021-12-27T03:00:00+00:00"),
            ("NW202112272226582499", "article", ARTICLE, "2021-12-27T03:00:00+00:00"),
            ("NW202112272226582499", "post", emnews().post_url, "2021-12-27T03:00:00+00:00"),
        ]
        texts = dict(upgraded.execute("SELECT info_code, share_text FROM posts"))
        assert texts == {CODE: outlet().body_html, "NW202112272226582499": None}
        assert upgraded.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        upgraded.close()


def test_the_item_documents_every_field_it_has() -> None:
    """crawler/items.py names each field in its docstring, the new route fields included."""
    doc = PostItem.__doc__ or ""
    assert [f.name for f in fields(PostItem) if not re.search(rf"^\s+{f.name}\s", doc, re.M)] == []
