"""The page's body turned back into its source (crawler/pages/inversion.py): exact on every body the site's
generator writes, accepted only when it renders back to the page, and the page's HTML kept otherwise."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.pages.inversion import invert_body, invert_spans
from crawler.pages.kramdown import Budget, RenderBudgetExceeded, spans_to_html, to_html
from crawler.pages.post import read_post_page
from crawler.postfile import parse_post_file
from crawler.record import ShareOutcome, post_item
from crawler.replica.generate import generate_site
from crawler.replica.render import SITE_HOST, render_site, share_text_key


def rendered(source: str) -> str:
    """The body as a post page shows it (the page object strips the newlines around it)."""
    return to_html(source).strip("\n")


def test_every_generated_body_comes_back_byte_for_byte_from_its_page() -> None:
    site = generate_site(300)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    checked = 0
    for (host, path), page in pages.items():
        if host != SITE_HOST or path.count("/") != 5:  # /<category>/<yyyy>/<mm>/<dd>/<name>.html
            continue
        item = read_post_page(f"http://{host}{path}", page.body)
        answer = json.loads(pages[share_text_key(item.info_code or "")].body)
        written = answer.get("text", answer["content"])
        assert invert_body(item.body_html, item.kind) == written, path
        checked += 1
    assert checked >= 290


# What the site's generator wrote, and what kramdown made of it: each comes back as written.
WRITTEN = {
    "emnews": [
        "欧菲光(002456)消息，精度满足<1%，视场角达到120度以上。",
        "第一段。\n\n第二段，“引号”与……省略号——破折号。",
        "一行\n同一段的第二行",
        "标普(S&P)与穆迪(Moody's)下调评级。",
        "*ST海航和*ST康美公告。",
        "详见<http://finance.eastmoney.com/a/202112272226582498.html>。",
        "详见[公告](http://data.eastmoney.com/notices/detail/600221/AN2021.html \"标题\")。",
        "换行  \n之后",
        "> 引用的一段\n\n正文。",
    ],
    "sitenews": ["祝贺开站"],
    "media": [
        ("<p><strong>天津北方网讯：</strong>正文。</p>\n <p>第二段。(津云新闻编辑刘颖)</p>"
         '<p class="em_media">（文章来源：今晚报）</p>'),
        ('<p>重庆讯：<span id="stock_1.600000"><a href="http://quote.eastmoney.com/unify/r/1.600000" '
         'class="keytip" data-code="1,600000">浦发银行</a></span>表示。</p>'),
        "<p>第一段。</p>\n\n<p>空行之后。</p>",
    ],
}


@pytest.mark.parametrize(("kind", "written"), [(kind, text) for kind, texts in WRITTEN.items() for text in texts])
def test_each_written_form_comes_back_as_written(kind: str, written: str) -> None:
    page_body = rendered(written)
    assert page_body != written or kind == "media"
    assert invert_body(page_body, kind) == written


def test_an_emnews_html_body_is_read_as_html_when_plain_text_does_not_render_back() -> None:
    written = "<p>第一段。</p>\n <p>第二段。</p>"
    assert invert_body(rendered(written), "emnews") == written


def test_what_renders_alike_comes_back_as_the_generator_writes_it_and_renders_the_same() -> None:
    # ASCII quotes and `--` render as curly quotes and a dash: the page cannot tell, the written form is taken.
    written = '他说"不"--然后离开。'
    source = invert_body(rendered(written), "emnews")
    assert source != written and rendered(source or "") == rendered(written)
    # An entity kramdown keeps (`&amp;`) renders as the bare character does.
    assert invert_body(rendered("A&amp;B"), "emnews") == "A&B"
    # `<br>` is re-serialised as `<br />` in raw HTML: accepted (it renders the same), not the bytes written.
    written = "<p>一<br>二</p>"
    assert invert_body(rendered(written), "media") == "<p>一<br />二</p>"


@pytest.mark.parametrize("page_body", [
    "<p>a</p><p>b</p>",  # two top-level elements on one line: kramdown never writes that
    "<p>a</p>\n<p>b</p>\n<p>c",  # an element left open
    "<p>a</p>\n\n\n<p>b</p>",  # two empty lines: kramdown keeps one for any run of them
], ids=["elements-on-one-line", "open-element", "two-empty-lines"])
def test_a_body_kramdown_could_not_have_written_has_no_source(page_body: str) -> None:
    assert invert_body(page_body, "emnews") is None and invert_body(page_body, "media") is None


@pytest.mark.parametrize("page_body", [
    "<p>" + "<span>" * 5000 + "深" + "</span>" * 5000 + "</p>",  # past the nesting bound
    "<p>" + "<em>" * 5000 + "深" + "</em>" * 5000 + "</p>",
    "<p>" + "<a href=\"u\">[" * 2000 + "深" + "](u)</a>" * 2000 + "</p>",  # nesting the bound does not count
    "<p>" + "**a " * 300 + "</p>",  # kramdown's emphasis scan: cubic in unclosed delimiters (17 s unbounded)
    "<p>" + "**a *b " * 20 + "*a " * 160 + "</p>",
    "<p>" + "正文" * 600_000 + "</p>",  # past the length bound
], ids=["nested-spans", "nested-emphasis", "nested-links", "unclosed-strong", "mixed-emphasis", "too-long"])
def test_hostile_nesting_length_or_cost_gives_no_source_it_cannot_check(page_body: str) -> None:
    for kind in ("emnews", "media"):
        source = invert_body(page_body, kind)
        assert source is None or rendered(source) == page_body  # raw HTML: `<p>**a …</p>` renders as itself
    assert invert_spans(page_body[3:-4]) is None


def test_the_renderer_gives_up_at_its_step_budget_where_emphasis_would_cost_the_cube_of_its_length() -> None:
    text = "**a " * 300  # 17 s to render without a budget
    with pytest.raises(RenderBudgetExceeded):
        to_html(text, Budget(2 * len(text) + 1000))
    article = "央行宣布*下调*存款准备金率0.5个百分点，释放长期资金约1.2万亿元。" * 40
    assert to_html(article, Budget(2 * len(article) + 1000)) == to_html(article)  # an article never reaches it


def test_the_record_says_where_its_body_came_from() -> None:
    page = read_post_page(
        "http://finews.withounder.com/emnews/2021/12/27/202112272226582498.html",
        b"<html><body><section>\n<small>2021-12-27 10:36:14</small><h1>T</h1>\n"
        b"<p>\xe6\xad\xa3\xe6\x96\x87&lt;1%</p>\n"
        b'<p><a href="http://finance.eastmoney.com/a/202112272226582498.html">'
        b"http://finance.eastmoney.com/a/202112272226582498.html</a></p>\n"
        b"<small>tags: <em>\xe4\xb8\x9c\xe8\xb4\xa2\xe6\xbb\x9a\xe5\x8a\xa8\xe6\x96\xb0\xe9\x97\xbb</em></small>"
        b"</section></body></html>",
    )
    recovered = post_item(page, ShareOutcome())
    assert (recovered.body_origin, recovered.body_html) == ("page-source", "正文<1%")
    page.body_html = "<p>a</p><p>b</p>"
    kept = post_item(page, ShareOutcome())
    assert (kept.body_origin, kept.body_html) == ("page-html", "<p>a</p><p>b</p>")
    shared = post_item(page, ShareOutcome(status="ok", text="正文<1%"))
    assert (shared.body_origin, shared.body_html) == ("share", "正文<1%")


def test_a_digest_comes_back_as_written() -> None:
    for written in ("*ST海航：摘要", "A&B <1% “引号”", "见<http://finance.eastmoney.com/a/1.html>"):
        assert invert_spans(spans_to_html(written)) == written


# Plain text in the characters an East Money text is made of: always exact, but for what kramdown's
# typography makes of `--`, `...`, `<<` and `>>` (the page shows the same characters as written ones).
_TYPOGRAPHIC = ("--", "...", "<<", ">>")
NEWS_TEXT = st.text(
    alphabet=st.sampled_from(list("央行降准释放资金亿元，。、；：“”（）《》—…％0123456789ABCxyz%()<>&.-+:/ ")),
    min_size=1, max_size=60,
).map(str.strip).filter(
    # `>` opening a line is a quote, and `<亿>` or `<亿/>` is HTML: markup, not an East Money text.
    lambda text: text and not text.startswith(">") and not any(pair in text for pair in _TYPOGRAPHIC)
    and not re.search(r"<[^\W\d]", text))


@settings(max_examples=300, deadline=None)
@given(st.lists(NEWS_TEXT, min_size=1, max_size=4))
def test_plain_paragraphs_of_news_text_come_back_exactly(paragraphs: list[str]) -> None:
    written = "\n\n".join(paragraphs)
    source = invert_body(rendered(written), "emnews")
    assert source is not None and rendered(source) == rendered(written)
    assert source == written


# Anything at all: there may be no source, but a source given always renders back to the page.
@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("文字 \n*_`[]()<>&\"'\\~-.!#:|pa/=")), max_size=60),
       st.sampled_from(["emnews", "media"]))
def test_a_source_given_always_renders_back_to_the_page(written: str, kind: str) -> None:
    page_body = rendered(written)
    source = invert_body(page_body, kind)
    assert source is None or rendered(source) == page_body
