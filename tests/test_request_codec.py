"""What crosses Redis is data: the frontier's request encoding (crawler/distributed/request_codec.py) and the
records' (crawler/distributed/records.py), each read back only when it is what finews writes."""

from __future__ import annotations

import ast
import inspect
import json
import os
import pickle
from pathlib import Path

import pytest
import scrapy
from scrapy.http import FormRequest
from scrapy.utils.request import request_from_dict

from crawler.distributed import request_codec
from crawler.distributed.records import SeenLinks, UnreadableEntry, decode_record, encode_record
from crawler.items import FetchFailure, PostItem
from crawler.spiders.site import SiteSpider
from pipelines.archive import FetchedPage, PostLink

POST_URL = "http://finews.withounder.com/emnews/2021/12/27/NW202112272226582498.html"


class Spider(scrapy.Spider):
    name = "codec"

    def parse_post(self, response: scrapy.http.Response) -> None: ...

    def post_failed(self, failure: object) -> None: ...


class CreatesAFile:
    """Unpickled, it creates ``path``: what a foreign entry in Redis could do to a reader that unpickles."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        return (open, (str(self.path), "w"))


def through_codec(request: scrapy.Request, spider: Spider) -> scrapy.Request:
    return request_from_dict(request_codec.loads(request_codec.dumps(request.to_dict(spider=spider))), spider=spider)


def test_a_post_request_is_stored_as_json_of_its_url_callbacks_and_priority_only():
    spider = Spider()
    request = scrapy.Request(POST_URL, callback=spider.parse_post, errback=spider.post_failed, priority=-20211227)
    stored = request_codec.dumps(request.to_dict(spider=spider))
    assert json.loads(stored) == {
        "v": 1, "url": POST_URL, "callback": "parse_post", "errback": "post_failed", "priority": -20211227}
    # About the size of the pickle of the same fields (155 bytes): Redis holds the whole frontier at once.
    assert len(stored) <= 160, len(stored)
    assert through_codec(request, spider).to_dict(spider=spider) == request.to_dict(spider=spider)


def test_every_field_that_differs_from_its_default_comes_back():
    spider = Spider()
    requests = [
        scrapy.Request(POST_URL),
        scrapy.Request(POST_URL, method="HEAD", body=b"x=1\xff", headers={"Accept": "text/html", "X-Raw": b"\xe9"},
                       cookies={"a": "b"},
                       meta={"retry_times": 2, "download_timeout": 5.0, "redirect_urls": [POST_URL]},
                       encoding="gb18030", priority=7, dont_filter=True, flags=["retried"],
                       cb_kwargs={"info_code": "NW1"}, callback=spider.parse_post),
    ]
    for request in requests:
        assert through_codec(request, spider).to_dict(spider=spider) == request.to_dict(spider=spider)


def test_a_request_of_another_class_is_refused_on_the_way_out():
    with pytest.raises(ValueError, match="only plain Requests"):
        request_codec.dumps(FormRequest(POST_URL, formdata={"q": "新闻"}).to_dict())


def test_a_pickle_in_the_frontier_is_refused_unread(tmp_path: Path):
    payload = pickle.dumps(CreatesAFile(tmp_path / "ran"))
    for entry in (payload, pickle.dumps({"url": POST_URL, "callback": "parse_post"})):
        with pytest.raises(UnreadableEntry, match="not JSON"):
            request_codec.loads(entry)
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize(("entry", "why"), [
    ({"url": POST_URL}, "not encoding version 1"),
    ({"v": 2, "url": POST_URL}, "not encoding version 1"),
    ({"v": 1, "url": POST_URL, "_class": "os.system"}, "not request fields"),
    ({"v": 1, "url": POST_URL, "callback": "__init__"}, "not one of the spider's"),
    ({"v": 1, "url": POST_URL, "errback": "closed"}, "not one of the spider's"),
    ({"v": 1, "url": "file:///etc/passwd"}, "not http"),
    ({"v": 1}, "no URL"),
    ({"v": 1, "url": POST_URL, "method": "DELETE"}, "method"),
    ({"v": 1, "url": POST_URL, "priority": "1"}, "priority"),
    ({"v": 1, "url": POST_URL, "priority": True}, "priority"),
    ({"v": 1, "url": POST_URL, "meta": ["x"]}, "meta"),
    ({"v": 1, "url": POST_URL, "meta": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {}}}}}}}}}}}, "meta"),
    ({"v": 1, "url": POST_URL, "headers": {"A": "b"}}, "headers"),
    ({"v": 1, "url": POST_URL, "headers": {"A": ["é…€"]}}, "latin-1"),
    ({"v": 1, "url": POST_URL, "body": "x"}, "bytes not as"),
    ([POST_URL], "not a JSON object"),
])
def test_a_request_entry_finews_did_not_write_is_refused_with_its_reason(entry, why):
    with pytest.raises(UnreadableEntry, match=why):
        request_codec.loads(json.dumps(entry).encode())


def test_the_callbacks_a_request_may_name_are_the_site_spiders_own_callbacks():
    # Every callback and errback a request of the site spider names, as its source writes them.
    tree = ast.parse(Path(inspect.getsourcefile(SiteSpider)).read_text(encoding="utf-8"))
    named = {method.attr for node in ast.walk(tree) if isinstance(node, ast.Call) for keyword in node.keywords
             if keyword.arg in ("callback", "errback")
             for method in ast.walk(keyword.value) if isinstance(method, ast.Attribute)}
    assert named == request_codec.CALLBACKS
    assert all(inspect.isfunction(vars(SiteSpider)[name]) for name in named)


RECORDS = [
    PostItem(POST_URL, info_code="NW202112272226582498", title="标题", tags=["今晚报新闻"], body_html="<p>正文</p>",
             seen_urls=[("post", POST_URL), ("json", POST_URL)], share_text=None, raw_page="页面".encode() + b"\xff\x00"),
    FetchFailure(POST_URL, "http 500", b"<h1>500</h1>", transient=True),
    FetchedPage(POST_URL, 200, {"Content-Type": ["text/html"], "Set-Cookie": ["a=1", "b=2"]}, b"\x89PNG\x00",
                "parse_post", "2026-12-05T00:00:00+00:00"),
    SeenLinks((PostLink("NW1", POST_URL, "NW1"), PostLink("init", POST_URL, None)), 7),
    SeenLinks((), None),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda record: type(record).__name__)
def test_every_record_kind_comes_back_equal(record):
    assert decode_record(encode_record(record)) == record


def test_a_pickled_record_is_refused_unread(tmp_path: Path):
    for entry in (pickle.dumps(CreatesAFile(tmp_path / "ran")), pickle.dumps(RECORDS[1])):
        with pytest.raises(UnreadableEntry, match="not JSON"):
            decode_record(entry)
    assert not (tmp_path / "ran").exists()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("change", "why"), [
    ({"v": 0}, "not encoding version"),
    ({"record": "os.system"}, "no record kind"),
    ({"extra": 1}, "does not have"),
    ({"from_site": 1}, "none of the types|where a bool belongs"),
    ({"tags": "标签"}, "not an array"),
    ({"seen_urls": [["only one"]]}, "an array of 1 where 2 belong"),
    ({"raw_page": "bytes as text"}, "bytes not as"),
    ({"raw_page": {"b64": "not base64!"}}, "not valid base64"),
    ({"post_url": None}, "a NoneType where a str belongs"),
])
def test_a_record_finews_did_not_write_is_refused_with_its_reason(change, why):
    entry = json.loads(encode_record(RECORDS[0]))
    entry.update(change)
    with pytest.raises(UnreadableEntry, match=why):
        decode_record(json.dumps(entry).encode())


def test_a_record_missing_a_field_that_has_no_default_is_refused():
    entry = json.loads(encode_record(RECORDS[1]))
    del entry["post_url"]
    with pytest.raises(UnreadableEntry, match="not a whole FetchFailure"):
        decode_record(json.dumps(entry).encode())
