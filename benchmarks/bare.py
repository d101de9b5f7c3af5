"""The baseline: a minimal Scrapy spider over the same site, with Scrapy's default settings and no pipelines.

It fetches what ``finews crawl`` fetches to find and read posts: the feed, the home page, ``/emnews/``,
every category page linked from them or from a post, and every post page, where it extracts the
title and the share or article link. With ``--share`` it also asks the share host for each post's
text (``GetNewsText.do?id=<infoCode>``), as ``finews crawl`` does: the same requests, so the two can be
compared request for request. Run as its own process:

    python -m benchmarks.bare --site http://finews.withounder.com/ [--share] --stats STATS.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.http import Response
from scrapy.settings import Settings

_POST_PATH = re.compile(r"^/(?P<category>[^/]+)/(?:[^/]+/)*\d{4}/\d{2}/\d{2}/[^/]+\.html$")
_CATEGORY_PATH = re.compile(r"^/category/[^/]+\.html$")
_DIGITS = re.compile(r"(\d{18})\.html$")
_SHARE_CODE = re.compile(r"[?&]infoCode=([A-Za-z]*\d+)")
_ATOM = {"atom": "http://www.w3.org/2005/Atom"}


class BareSpider(scrapy.Spider):
    name = "bare"

    def __init__(self, site_url: str, share_host: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.site_url = site_url
        self.share_host = share_host

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(self.site_url + "feed.xml", callback=self.parse_feed)
        yield scrapy.Request(self.site_url, callback=self.parse_listing)
        yield scrapy.Request(self.site_url + "emnews/", callback=self.parse_listing)

    def _follow(self, response: Response, hrefs: list[str]) -> Iterator[scrapy.Request]:
        for href in hrefs:
            url = response.urljoin(href)
            path = "/" + url.split("//", 1)[-1].partition("/")[2]
            if post := _POST_PATH.match(path):
                yield scrapy.Request(url, callback=self.parse_post)
                # As finews crawl does: every category in a post URL has its page (emnews posts link
                # back to /emnews/, which lists 20, so /category/emnews.html is reached only this way).
                yield scrapy.Request(self.site_url + f"category/{post['category']}.html", callback=self.parse_listing)
            elif _CATEGORY_PATH.match(path):
                yield scrapy.Request(url, callback=self.parse_listing)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request]:
        yield from self._follow(response, response.xpath("//atom:entry/atom:link/@href", namespaces=_ATOM).getall())

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request]:
        yield from self._follow(response, response.xpath("//a/@href").getall())

    def parse_post(self, response: Response) -> Iterator[scrapy.Request | dict[str, str]]:
        title = response.xpath("string(//section/h1)").get("")
        hrefs = response.xpath("//section//a/@href").getall()
        link = next((href for href in hrefs if "eastmoney.com" in href or "NewsShare.html" in href), "")
        yield {"title": title, "link": link}
        yield from self._follow(response, [href for href in hrefs if "/category/" in href])
        if self.share_host is None:
            return
        code = _SHARE_CODE.search(link)
        digits = _DIGITS.search(response.url)
        info_code = code[1] if code else ("NW" + digits[1] if digits else None)
        if info_code:
            yield scrapy.Request(
                f"http://{self.share_host}/NewsData/GetNewsText.do?id={info_code}", callback=self.parse_share,
                dont_filter=True,
            )

    def parse_share(self, response: Response) -> Iterator[dict[str, int]]:
        yield {"share_text_bytes": len(response.body)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare", description=__doc__.splitlines()[0])
    parser.add_argument("--site", default="http://finews.withounder.com/")
    parser.add_argument("--share", action="store_true", help="also fetch each post's text from the share host")
    parser.add_argument("--share-host", default="finews.zning.xyz")
    parser.add_argument("--stats", type=Path, required=True, help="write Scrapy's stats here as JSON")
    args = parser.parse_args(argv)
    # Scrapy's defaults, quiet as ``finews crawl`` is without a terminal; nothing else changed.
    settings = Settings({"LOG_LEVEL": "WARNING", "TELNETCONSOLE_ENABLED": False})
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BareSpider)
    process.crawl(crawler, site_url=args.site, share_host=args.share_host if args.share else None)
    process.start()
    stats = {key: value for key, value in crawler.stats.get_stats().items() if isinstance(value, (int, float, str))}
    args.stats.write_text(json.dumps(stats, indent=1, sort_keys=True))
    return 0 if stats.get("finish_reason") == "finished" else 1


if __name__ == "__main__":
    sys.exit(main())
