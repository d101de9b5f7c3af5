"""Every known malformation of real posts (site-shape.md) has its documented outcome (docs/malformations.md)."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest

from crawler.postfile import SHANGHAI, format_post_file, parse_post_file
from crawler.replica.render import SHARE_HOST, render_site
from crawler.replica.server import ReplicaServer
from crawler.verify import verify
from tests.shared import needs_shared
from tests.sites import jekyll_build, needs_jekyll, static_pages
from tests.test_crawl import finews

PUBLISHED = datetime(2021, 12, 27, 10, 36, 14, tzinfo=SHANGHAI)
BODY = '<p>正文第一段。</p>\n <p class="em_media">（文章来源：今晚报）</p>'


def outlet_post(code: str, title: str = "标题", category: str = "jinwanbao", tag: str = "今晚报新闻", **kw) -> str:
    return format_post_file(
        title=title, published_at=PUBLISHED, category=category, tags=tag.split(), body=BODY,
        link=kw.pop("link", f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode={code}"), **kw,
    )


CASES = {
    # file name → post text
    "2021-12-27-NW202112272226000001.md": outlet_post("NW202112272226000001", title=""),
    "2021-12-27-NW202112272226000002.md": outlet_post("NW202112272226000002").replace(
        "date: 2021-12-27 10:36:14 +0800", "date:  +0800"
    ),
    "2021-12-27-NW202112272226000003.md": outlet_post("NW202112272226000003", link=""),
    "2021-12-27-NW202112272226000004.md": outlet_post(
        "NW202112272226000004", category="21shijijingjibaodao 21caijingAPP", tag="21世纪经济报道 21财经APP新闻"
    ),
    "2021-12-27-NW202112272226000005.md": outlet_post(
        "NW202112272226000005", category="anxinguojizhengquan(xianggang)", tag="安信国际证券(香港)新闻"
    ),
    "2021-12-27-NW202112272226000006.md": outlet_post("NW202112272226000006", category="LME", tag="LME新闻"),
    "2021-12-27-NW202112272226000007.md": outlet_post("NW202112272226000007", back_link_lines=""),
    "2021-12-27-NW202112272226000008.md": outlet_post("NW202112272226000008").replace(
        'title: "标题"', "title: '他说\"不\"'"
    ),
    "-NW202112272226000009.md": outlet_post("NW202112272226000009"),
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    work = tmp_path_factory.mktemp("malformed")
    posts_dir = work / "posts"
    posts_dir.mkdir()
    for name, text in CASES.items():
        (posts_dir / name).write_text(text, encoding="utf-8")
    pages = render_site(parse_post_file(name, text) for name, text in CASES.items())
    with ReplicaServer(pages) as server:
        result = finews("crawl", "--output", "out", cwd=work, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(work / "out" / "archive.db")
    rejects = {url.rsplit("/", 1)[-1]: reason for url, reason in db.execute("SELECT url, reason FROM rejects")}
    posts = {row[0]: row for row in db.execute("SELECT info_code, category, title, share_url FROM posts")}
    db.close()
    outcomes = {o.file_name: o for o in verify(posts_dir, work / "out")}
    return rejects, posts, outcomes


def test_empty_title_is_rejected(outcome):
    rejects, posts, outcomes = outcome
    assert "missing title" in rejects["NW202112272226000001.html"]
    assert "NW202112272226000001" not in posts
    assert outcomes["2021-12-27-NW202112272226000001.md"].status == "rejected"


def test_empty_date_is_rejected(outcome):
    rejects, _posts, outcomes = outcome
    assert "missing or unusable date" in rejects["NW202112272226000002.html"]
    assert outcomes["2021-12-27-NW202112272226000002.md"].status == "rejected"


def test_empty_link_is_archived_and_kept_as_written(outcome):
    _rejects, posts, outcomes = outcome
    assert posts["NW202112272226000003"][3] is None
    assert outcomes["2021-12-27-NW202112272226000003.md"].status == "identical"


@pytest.mark.parametrize(
    ("code", "category"),
    [("NW202112272226000004", "21shijijingjibaodao 21caijingAPP"),
     ("NW202112272226000005", "anxinguojizhengquan(xianggang)"), ("NW202112272226000006", "LME")],
)
def test_odd_category_slugs_come_from_the_back_link_exactly(outcome, code, category):
    _rejects, posts, outcomes = outcome
    assert posts[code][1] == category
    assert outcomes[f"2021-12-27-{code}.md"].status == "identical"


def test_missing_back_links_are_written_back_missing(outcome):
    _rejects, _posts, outcomes = outcome
    assert outcomes["2021-12-27-NW202112272226000007.md"].status == "identical"


def test_inner_quotes_in_a_readable_title_are_requoted(outcome):
    _rejects, posts, outcomes = outcome
    assert posts["NW202112272226000008"][2] == '他说"不"'
    assert outcomes["2021-12-27-NW202112272226000008.md"].status == "field-equal"


def test_a_name_without_a_date_is_not_published_and_accounted_for(outcome):
    _rejects, posts, outcomes = outcome
    assert "NW202112272226000009" not in posts
    assert outcomes["-NW202112272226000009.md"].status == "malformed"


@needs_shared  # the build uses the stand-in layouts in ../shared/jekyll-site
@needs_jekyll
def test_title_quotes_that_break_the_yaml_are_rejected_with_the_page(tmp_path):
    """Real Jekyll publishes such a post without layout at /<build date>/<file stem>.html, in the feed only."""
    name = "2021-12-27-NW202112272226000010.md"
    broken = outlet_post("NW202112272226000010").replace('title: "标题"', 'title: "他说"不"了"')
    fine = outlet_post("NW202112272226000011")
    (tmp_path / name).write_text(broken, encoding="utf-8")
    (tmp_path / "2021-12-27-NW202112272226000011.md").write_text(fine, encoding="utf-8")
    site = jekyll_build([tmp_path / name, tmp_path / "2021-12-27-NW202112272226000011.md"], tmp_path)
    pages = static_pages(site)
    pages.update({k: v for k, v in render_site([parse_post_file("2021-12-27-NW202112272226000011.md", fine)]).items()
                  if k[0] == SHARE_HOST})
    with ReplicaServer(pages) as server:
        result = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    db = sqlite3.connect(tmp_path / "out" / "archive.db")
    (reason,) = [r for (u, r) in db.execute("SELECT url, reason FROM rejects") if u.endswith(name[:-3] + ".html")]
    assert "no post layout" in reason
    assert [code for (code,) in db.execute("SELECT info_code FROM posts")] == ["NW202112272226000011"]
    db.close()
    (outcome,) = [o for o in verify(tmp_path, tmp_path / "out") if o.file_name == name]
    assert outcome.status == "rejected" and "not valid YAML" in outcome.detail
