"""The merge rule for one article reached by two routes (documented in pipelines/dedupe.py)."""

from crawler.items import PostItem
from crawler.pages.body import content_hash
from pipelines.dedupe import merge_routes

CODE = "NW202112272226582498"


def outlet(**changes) -> PostItem:
    item = PostItem(
        post_url="http://finews.withounder.com/jinwanbao/2021/12/27/NW202112272226582498.html", info_code=CODE,
        name=CODE, title="标题", published_at="2021-12-27T10:36:14+08:00", category="jinwanbao", tags=["今晚报新闻"],
        kind="media", media="今晚报", source="今晚报", body_html="<p>正文</p>", body_origin="share",
        share_url="http://finews.zning.xyz/html_News/NewsShare.html?infoCode=" + CODE,
    )
    for name, value in changes.items():
        setattr(item, name, value)
    item.content_hash = content_hash(item)
    return item


def emnews(**changes) -> PostItem:
    item = PostItem(
        post_url="http://finews.withounder.com/emnews/2021/12/27/202112272226582498.html", info_code=CODE,
        name=CODE[2:], title="标题", published_at="2021-12-27T10:36:14+08:00", category="emnews",
        tags=["东财滚动新闻"], kind="emnews", digest="摘要", body_html="<p>正文</p>", body_origin="share",
        article_url="http://finance.eastmoney.com/a/202112272226582498.html",
    )
    for name, value in changes.items():
        setattr(item, name, value)
    item.content_hash = content_hash(item)
    return item


def test_outlet_post_wins_whichever_route_came_first():
    for first, second in ((outlet(), emnews()), (emnews(), outlet())):
        merged = merge_routes(first, second)
        assert (merged.name, merged.kind, merged.category, merged.media) == (CODE, "media", "jinwanbao", "今晚报")
        assert merged.digest == "摘要"
        assert merged.article_url.endswith("/a/202112272226582498.html")
        assert merged.share_url.endswith("infoCode=" + CODE)


def test_merging_is_stable_so_a_second_run_sees_no_change():
    merged = merge_routes(emnews(), outlet())
    again = merge_routes(merged, outlet())
    again = merge_routes(again, emnews())
    assert again.content_hash == merged.content_hash


def test_an_exact_body_is_not_replaced_by_a_page_body():
    merged = merge_routes(outlet(), outlet(body_html="<p>正文（渲染）</p>", body_origin="page", share_status="http 500"))
    assert merged.body_html == "<p>正文</p>" and merged.body_origin == "share"


def test_a_changed_article_changes_the_hash():
    assert merge_routes(outlet(), outlet(title="新标题")).content_hash != outlet().content_hash
