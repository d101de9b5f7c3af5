from datetime import UTC, datetime, timedelta

import pytest
import yaml

from crawler.postfile import (
    PostFileError,
    format_post_file,
    parse_post_date,
    parse_post_file,
    post_file_name,
    read_post_file,
    yaml_double_quoted,
    yaml_scalar,
)
from tests.shared import SEED, needs_shared

SEED_LINK = "http://finews.zning.xyz/html_News/NewsShare.html?infoCode=NW202112272226582498"


@needs_shared
def test_seed_is_written_back_byte_for_byte_from_its_fields():
    post = read_post_file(SEED)
    body = post.body.split("\n\n<" + SEED_LINK)[0]
    text = format_post_file(
        title=post.title, published_at=post.date, category=post.categories, tags=post.tags, body=body, link=SEED_LINK
    )
    assert text.encode("utf-8") == SEED.read_bytes()
    assert post_file_name(post.date, post.name) == SEED.name


def test_a_date_without_zone_is_utc_and_one_with_zone_keeps_it():
    assert parse_post_date("2021-12-08 10:39:01") == datetime(2021, 12, 8, 10, 39, 1, tzinfo=UTC)
    with_zone = parse_post_date("2021-12-27 10:36:14 +0800")
    assert with_zone.utcoffset() == timedelta(hours=8) and with_zone.hour == 10
    with pytest.raises(PostFileError):
        parse_post_date(" +0800")


def test_emnews_file_has_digest_and_emnews_back_link_and_no_trailing_newline():
    text = format_post_file(
        title="标题", published_at=parse_post_date("2021-12-08 10:39:01"), category="emnews", tags=["东财滚动新闻"],
        body="<p>正文</p>", link="http://finance.eastmoney.com/a/202112082206735975.html", digest="摘要",
    )
    assert text.splitlines()[3] == "date: 2021-12-08 18:39:01 +0800"
    assert "\n---\n> 摘要\n\n<p>正文</p>\n\n<http://finance.eastmoney.com/a/202112082206735975.html>\n\n" in text
    assert text.endswith("[返回东财滚动新闻](//finews.withounder.com/emnews/)｜[返回首页](//finews.withounder.com/)")


@pytest.mark.parametrize(
    "value",
    ['他说"不"', "a\\b", "line\nbreak", "---", "key: value", "# not a comment", "!!python/object:os.system",
     "tab\there", "yes", "null", "'single'", "\x07bell", "  spaces  ", "", "中文：冒号", "[list]", "&anchor"],
)
def test_yaml_writers_round_trip_any_string(value):
    assert yaml.safe_load(f"v: {yaml_double_quoted(value)}") == {"v": value}
    assert yaml.safe_load(f"v: {yaml_scalar(value)}") == {"v": value}


def test_title_is_only_escaped_when_it_must_be():
    assert yaml_double_quoted("市人力社保局：稳就业") == '"市人力社保局：稳就业"'
    assert yaml_double_quoted('说"好"') == '"说\\"好\\""'


def test_unreadable_front_matter_is_a_clear_error():
    with pytest.raises(PostFileError, match="not valid YAML"):
        parse_post_file("2021-12-08-1.md", '---\ntitle: "a "b" c"\n---\nbody')
    with pytest.raises(PostFileError, match="no front matter"):
        parse_post_file("2021-12-08-1.md", "just text")
