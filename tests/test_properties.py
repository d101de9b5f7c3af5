"""Property tests: for arbitrary titles, tags and bodies, what is written reads back the same, and no
name ever leads outside the posts folder."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.infocode import InfoCodeError, infocode_from_name
from crawler.pages.post import read_post_page
from crawler.postfile import format_post_file, parse_post_file, split_front_matter
from crawler.record import ShareOutcome, post_item
from crawler.replica.render import SITE_HOST, render_site
from pipelines.frontmatter import UnsafePathError, path_inside

CONTROL = {chr(code) for code in (*range(0, 9), 11, 12, *range(14, 32), 127)}

KEYS = ["layout", "title", "date", "categories", "tags"]
# Hypothesis takes naive bounds and gives the zone by ``timezones``.
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1),  # noqa: DTZ001
                        timezones=st.just(timezone(timedelta(hours=8)))).map(lambda d: d.replace(microsecond=0))
whitespace_free = st.text(min_size=1, max_size=20).filter(lambda t: t.split() == [t])
categories = st.text(alphabet=st.characters(categories=("Ll", "Lu", "Nd")), min_size=1, max_size=30)


@settings(max_examples=300, deadline=None)
@given(title=st.text(max_size=200), tags=st.lists(whitespace_free, min_size=1, max_size=4),
       body=st.text(max_size=300), category=categories, published=instants, digest=st.none() | st.text(max_size=50))
def test_front_matter_keeps_its_keys_and_values_round_trip(title, tags, body, category, published, digest):
    text = format_post_file(title=title, published_at=published, category=category, tags=tags, body=body,
                            link="http://finews.zning.xyz/x", digest=digest)
    front, rest = split_front_matter(text)
    meta = yaml.safe_load(front)
    assert list(meta) == KEYS
    assert meta["title"] == title
    assert str(meta["categories"]) == category
    assert str(meta["tags"]).split() == tags
    post = parse_post_file("2021-01-01-NW000000000000000001.md", text)
    assert post.date == published
    assert body in rest


@settings(max_examples=200, deadline=None)
@given(title=st.text(min_size=1, max_size=80).filter(lambda t: t.strip() and not set(t) & set("<&\r{}%")),
       paragraph=st.text(min_size=1, max_size=80).filter(lambda t: t.strip() and not set(t) & set("<>&\r{}%*_`[]\\")))
def test_parser_reads_back_the_title_and_text_of_any_rendered_post(title, paragraph):
    code = "NW202112272226582498"
    text = format_post_file(title=title, published_at=datetime(2021, 12, 27, 10, 36, 14, tzinfo=timezone(timedelta(hours=8))),
                            category="jinwanbao", tags=["今晚报新闻"], body=f"<p>{paragraph}</p>",
                            link=f"http://finews.zning.xyz/html_News/NewsShare.html?infoCode={code}")
    pages = render_site([parse_post_file(f"2021-12-27-{code}.md", text)])
    path = f"/jinwanbao/2021/12/27/{code}.html"
    item = post_item(read_post_page(f"http://{SITE_HOST}{path}", pages[(SITE_HOST, path)].body), ShareOutcome())
    assert item.title == "".join(c for c in title if c not in CONTROL)
    assert item.body_text == " ".join("".join(c for c in paragraph if c not in CONTROL).split())
    assert item.problems == []


@settings(max_examples=500, deadline=None)
@given(name=st.text(max_size=1000))
def test_no_name_leads_outside_the_posts_folder(name):
    posts = Path("/nonexistent/output/_posts")
    try:
        path = path_inside(posts, name)
    except UnsafePathError:
        return
    assert path.parent == posts and path.name == name


@settings(max_examples=500, deadline=None)
@given(name=st.text(max_size=100))
def test_names_give_an_infocode_or_a_clear_refusal(name):
    try:
        code = infocode_from_name(name)
    except InfoCodeError:
        return
    assert len(code) == 20 and code[:2].isalpha() and code[2:].isdigit() and code[2:].isascii()
