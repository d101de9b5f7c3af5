"""The shared frontier's request encoding (crawler/distributed/request_codec.py)."""

from __future__ import annotations

import pickle

import scrapy
from scrapy.http import FormRequest
from scrapy.utils.request import request_from_dict

from crawler.distributed import request_codec

POST_URL = "http://finews.withounder.com/emnews/2021/12/27/NW202112272226582498.html"


class Spider(scrapy.Spider):
    name = "codec"

    def parse_post(self, response: scrapy.http.Response) -> None: ...

    def post_failed(self, failure: object) -> None: ...


def through_codec(request: scrapy.Request, spider: Spider) -> scrapy.Request:
    return request_from_dict(request_codec.loads(request_codec.dumps(request.to_dict(spider=spider))), spider=spider)


def test_a_post_request_is_stored_as_its_url_callbacks_and_priority_only():
    spider = Spider()
    request = scrapy.Request(POST_URL, callback=spider.parse_post, errback=spider.post_failed, priority=-20211227)
    stored = request_codec.dumps(request.to_dict(spider=spider))
    assert pickle.loads(stored) == {
        "url": POST_URL, "callback": "parse_post", "errback": "post_failed", "priority": -20211227}
    assert len(stored) < len(pickle.dumps(request.to_dict(spider=spider), pickle.HIGHEST_PROTOCOL)) * 0.6
    assert through_codec(request, spider).to_dict(spider=spider) == request.to_dict(spider=spider)


def test_every_field_that_differs_from_its_default_comes_back():
    spider = Spider()
    requests = [
        scrapy.Request(POST_URL),
        scrapy.Request(POST_URL, method="POST", body=b"x=1", headers={"Accept": "text/html"}, cookies={"a": "b"},
                       meta={"retry_times": 2, "download_timeout": 5.0}, encoding="gb18030", priority=7,
                       dont_filter=True, flags=["retried"], cb_kwargs={"info_code": "NW1"},
                       callback=spider.parse_post),
        FormRequest(POST_URL, formdata={"q": "新闻"}),
    ]
    for request in requests:
        back = through_codec(request, spider)
        assert type(back) is type(request)
        assert back.to_dict(spider=spider) == request.to_dict(spider=spider)


def test_a_request_stored_whole_by_an_older_version_still_loads():
    spider = Spider()
    request = scrapy.Request(POST_URL, callback=spider.parse_post, priority=3)
    whole = pickle.dumps(request.to_dict(spider=spider), pickle.HIGHEST_PROTOCOL)
    back = request_from_dict(request_codec.loads(whole), spider=spider)
    assert back.to_dict(spider=spider) == request.to_dict(spider=spider)
