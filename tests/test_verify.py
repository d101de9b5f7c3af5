"""What ``finews verify`` counts as the same body, and that a changed body is still caught."""

from __future__ import annotations

import pytest

from crawler.postfile import parse_post_file
from crawler.verify import first_difference, normalised_body, source_body

HEAD = '---\nlayout: post\ntitle: "标题"\ndate: 2021-12-27 10:36:14 +0800\ncategories: jinwanbao\ntags: 今晚报\n---\n'


@pytest.mark.parametrize(("original", "rendered"), [
    # kramdown escapes a literal "<" in text, and breaks lines next to block tags
    ("精度满足<1%，视场角", "精度满足&lt;1%，视场角"),
    ("编辑刘颖)<p class=\"em_media\">（文章来源：今晚报）</p>", "编辑刘颖) <p class=\"em_media\">（文章来源：今晚报）</p>"),
    ('<p class="a">一段。</p>\n\n<p class="b">二段。</p>', '<p class="a">一段。</p>\n<p class="b">二段。</p>'),
    ("一段。", "<p>一段。</p>"),
    ("A &amp; B", "A & B"),
])
def test_rendering_differences_are_not_differences(original: str, rendered: str) -> None:
    assert normalised_body(original) == normalised_body(rendered)


@pytest.mark.parametrize(("original", "changed"), [
    ("精度满足<1%", "精度满足<2%"),
    ("<p>一段。</p><p>二段。</p>", "<p>一段。</p>"),
    ("天津取得6金10银", "天津取得6金 10银"),  # a space inside the text is the text's
    ("<p>一段。</p>", "<div>一段。</div>"),
])
def test_a_changed_body_is_a_difference(original: str, changed: str) -> None:
    assert normalised_body(original) != normalised_body(changed)
    before = parse_post_file("2021-12-27-NW202112272226582498.md", HEAD + original)
    after = parse_post_file("2021-12-27-NW202112272226582498.md", HEAD + changed)
    assert first_difference(before, after) == "body"


@pytest.mark.parametrize(("original", "rendered"), [
    ("一段。", "<p>一段。</p>"),  # kramdown's paragraph
    ("A &amp; B", "A & B"),
    ("<http://finance.eastmoney.com/a/1.html>", '<a href="http://finance.eastmoney.com/a/1.html">http://finance.eastmoney.com/a/1.html</a>'),
])
def test_a_rendered_body_is_field_equal_but_not_the_source_text(original: str, rendered: str) -> None:
    before = parse_post_file("2021-12-27-NW202112272226582498.md", HEAD + original)
    after = parse_post_file("2021-12-27-NW202112272226582498.md", HEAD + rendered)
    assert source_body(original) != source_body(rendered)
    assert first_difference(before, after, as_source=True) == "body"


def test_whitespace_alone_is_no_source_difference() -> None:
    before = parse_post_file("2021-12-27-NW202112272226582498.md", HEAD + "<p>一段。</p>\n\n<p>二段。</p>\n")
    after = parse_post_file("2021-12-27-NW202112272226582498.md", HEAD + "<p>一段。</p>\n<p>二段。</p>")
    assert first_difference(before, after, as_source=True) is None
