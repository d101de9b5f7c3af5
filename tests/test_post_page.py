"""The parser on real pages real Jekyll rendered (../shared/corpus/rendered)."""

from parsel import Selector

from crawler.pages.body import text_of_html
from crawler.pages.listing import anchor_hrefs, feed_post_links, page_links, post_name_problem
from crawler.pages.post import read_post_page
from crawler.postfile import read_post_file
from crawler.record import ShareOutcome, post_item
from tests.shared import RENDERED_SITE, SEED, SEED_PAGE, needs_shared

SEED_URL = "http://finews.withounder.com/jinwanbao/2021/12/27/NW202112272226582498.html"
SEED_SHARE = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202112272226582498"


def read_post(url, body):
    return post_item(read_post_page(url, body), ShareOutcome())


@needs_shared
def test_seed_page_field_by_field():
    item = read_post(SEED_URL, SEED_PAGE.read_bytes())
    assert item.info_code == "NW202112272226582498"
    assert item.name == "NW202112272226582498"
    assert item.title == "市人力社保局：稳就业 保民生 引人才"
    assert item.published_at == "2021-12-27T10:36:14+08:00"
    assert item.category == "jinwanbao"
    assert item.tags == ["今晚报新闻"]
    assert item.kind == "media"
    assert item.media == "今晚报"
    assert item.source == "今晚报"
    assert item.editor == "刘颖"
    assert item.digest is None
    assert item.share_url == SEED_SHARE
    assert item.article_url is None
    assert item.post_url == SEED_URL
    assert item.body_origin == "page-source"
    assert item.body_html.startswith("<p><strong>天津北方网讯：</strong>海河传媒中心")
    assert item.body_html.endswith('<p class="em_media">（文章来源：今晚报）</p>')
    assert "返回" not in item.body_html and SEED_SHARE not in item.body_html and "tags:" not in item.body_html
    assert item.body_text.splitlines()[1] == "市人力资源和社会保障局党组书记、局长沈超将汇报三件事。"
    assert item.summary == item.body_text[:120]
    assert item.problems == []


@needs_shared
def test_the_page_alone_gives_the_seed_body_byte_for_byte():
    # The page is lossy (kramdown drops leading spaces and splits `</p><p`); the inversion puts them back.
    page = read_post_page(SEED_URL, SEED_PAGE.read_bytes())
    item = post_item(page, ShareOutcome())
    written = read_post_file(SEED).body.split("\n\n<http")[0]
    assert page.body_html != written and text_of_html(page.body_html) == text_of_html(written)
    assert (item.body_origin, item.body_html) == ("page-source", written)


@needs_shared
def test_emnews_page_with_digest():
    page = RENDERED_SITE / "emnews" / "2021" / "12" / "27" / "202112272226582498.html"
    item = read_post("http://finews.withounder.com/emnews/2021/12/27/202112272226582498.html", page.read_bytes())
    assert item.kind == "emnews" and item.category == "emnews" and item.media is None
    assert item.digest.startswith("12月28日8时至9时") and item.summary == item.digest
    assert item.article_url == "http://finance.eastmoney.com/a/202112272226582498.html"
    assert item.info_code == "NW202112272226582498"
    assert not item.body_html.startswith("<blockquote>")


@needs_shared
def test_every_rendered_post_page_yields_a_title_date_tags_and_link():
    pages = sorted(p for p in RENDERED_SITE.rglob("*.html") if p.parts[-4].isdigit())
    assert len(pages) > 100
    incomplete = []
    for path in pages:
        item = read_post("http://finews.withounder.com/" + str(path.relative_to(RENDERED_SITE)), path.read_bytes())
        if not (item.title and item.published_at and item.tags and (item.share_url or item.article_url)):
            incomplete.append(path.name)
    # The one sitenews post has no link and no id at all.
    assert incomplete == ["init.html"]


@needs_shared
def test_listing_pages_and_feed_link_every_post():
    home_posts, _ = page_links("http://finews.withounder.com/", (RENDERED_SITE / "index.html").read_text())
    assert "http://finews.withounder.com/jinwanbao/2021/12/27/NW202112272226582498.html" in home_posts
    emnews, _ = page_links("http://finews.withounder.com/category/emnews.html",
                           (RENDERED_SITE / "category" / "emnews.html").read_text())
    assert len(emnews) == len(list((RENDERED_SITE / "emnews").rglob("*.html"))) - 1  # minus emnews/index.html
    feed = feed_post_links("http://finews.withounder.com/feed.xml", (RENDERED_SITE / "feed.xml").read_text())
    assert len(feed) == 10 and all(url.startswith("http://finews.withounder.com/") for url in feed)


@needs_shared
def test_listing_links_are_the_anchors_parsel_finds_on_every_rendered_page():
    pages = sorted(RENDERED_SITE.rglob("*.html"))
    assert len(pages) > 100
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert anchor_hrefs(text) == Selector(text=text).xpath("//a/@href").getall(), page


def test_listing_links_in_broken_html_are_the_anchors_parsel_finds():
    for text in ["", "   ", "<a href='x'>", "\x00<a href=y>", "<A HREF=' /z '>", "<svg><a href='s'/></svg>",
                 "<p><a href=1><a href=2></p></a>", "<!-- <a href=c> --><a href=d>", "<a href>", "<a name=n>",
                 "<table><a href=t><tr><td><a href=u>", "<a href='\u4eca\u665a.html'>", "<a href=a&amp;b>"]:
        assert anchor_hrefs(text) == Selector(text=text).xpath("//a/@href").getall(), text


def test_links_to_another_host_are_not_listed_not_even_a_subdomain():
    post = "/jinwanbao/2021/12/27/NW202112272226582498.html"
    page = "".join(f'<a href="{href}">x</a>' for href in [
        post, "/category/jinwanbao.html", f"http://sub.finews.withounder.com{post}",
        "//sub.finews.withounder.com/category/jinwanbao.html", f"http://elsewhere.example{post}",
    ])
    assert page_links("http://finews.withounder.com/", page) == (
        [f"http://finews.withounder.com{post}"], ["http://finews.withounder.com/category/jinwanbao.html"])
    feed = ('<feed xmlns="http://www.w3.org/2005/Atom">'
            f'<entry><link href="{post}" /></entry>'
            f'<entry><link href="http://sub.finews.withounder.com{post}" /></entry></feed>')
    assert feed_post_links("http://finews.withounder.com/feed.xml", feed) == [f"http://finews.withounder.com{post}"]


def test_a_post_url_whose_name_decodes_to_a_path_has_no_usable_name():
    day = "http://finews.withounder.com/jinwanbao/2021/12/27/"
    assert post_name_problem(day + "NW202112272226582498.html") is None
    assert post_name_problem(day + "%E4%BB%8A%E6%99%9A.html") is None  # escaped, but one segment: 今晚
    for name in ["%2Fetc%2Fshadow", "..%2F..%2Fetc%2Fpasswd", "x%2F2021%2F12%2F27%2FNW202112272226582498"]:
        assert post_name_problem(day + name + ".html") == (
            f"unusable post name {name!r}: decoded, the URL's path is "
            f"{'/jinwanbao/2021/12/27/' + name.replace('%2F', '/') + '.html'!r}")
