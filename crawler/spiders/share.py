"""The share spider (``finews share``): archived articles' exact texts, straight from the share host.

It asks ``GetNewsText.do?id=<infoCode>``, never the share page (an empty page its JavaScript fills from
that same answer), and hands the archived record, with the answer, to the site spider's pipelines: a
text that differs from the archived body becomes the body, the replaced version goes to post_revisions
and the post's file is rewritten. A failed fetch is recorded on the post (``share_status``); an
infoCode the archive does not hold cannot become a post (the share host gives no date, category or
name), so its answer is kept in ``rejects`` with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.failures import describe_failure
from crawler.infocode import canonical_infocode
from crawler.items import FetchFailure, PostItem
from crawler.pages.share import ShareTextError, share_text_from_json
from crawler.sharehost import ShareHostUnavailable, share_request_meta, share_text_url
from pipelines.archive import Archive, item_from_row, utc_now
from pipelines.crawl_archive import archive_for
from pipelines.normalize import take_share_text

NOT_ARCHIVED = "not archived: the share host gives no date, category or name to make a post of"


class ShareSpider(scrapy.Spider):
    name = "share"

    def __init__(
        self, share_host: str, archive: Archive, info_codes: Iterable[str] | str = (), backfill: bool = False,
        share_timeout: float = 10.0, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(info_codes, str):  # ``scrapy crawl share -a info_codes=NW…,NW…``
            info_codes = info_codes.replace(",", " ").split()
        self.info_codes = list(dict.fromkeys(canonical_infocode(code) for code in info_codes))
        self.share_host = share_host
        self.allowed_domains = [share_host]
        self.archive = archive
        self.backfill = backfill
        self.share_timeout = share_timeout
        # (infoCode, reason) for every text not stored, for the command's report, as the answers came.
        self.failures: list[tuple[str, str]] = []
        self.asked: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ShareSpider:
        kwargs.setdefault("share_host", crawler.settings["FINEWS_SHARE_HOST"])
        kwargs.setdefault("share_timeout", crawler.settings.getfloat("FINEWS_SHARE_TIMEOUT"))
        kwargs.setdefault("archive", archive_for(crawler))
        return super().from_crawler(crawler, *args, **kwargs)

    def codes_to_ask(self) -> list[str]:
        """The infoCodes given, then (``backfill``) every archived one whose share fetch never succeeded."""
        codes = dict.fromkeys(self.info_codes)
        if self.backfill:
            codes.update(dict.fromkeys(self.archive.codes_without_share_text()))
        return list(codes)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.asked = codes = self.codes_to_ask()
        self.crawler.stats.set_value("finews/share_asked", len(codes))
        for code in codes:
            # Retried as any request is: nothing waits on it, and this command is how texts are retried.
            yield scrapy.Request(
                share_text_url(self.share_host, code), callback=self.parse_text, errback=self.text_failed,
                cb_kwargs={"info_code": code}, meta=share_request_meta(self.share_timeout, retry=True),
                dont_filter=True,
            )

    def failures_in_asked_order(self) -> list[tuple[str, str]]:
        order = {code: index for index, code in enumerate(self.asked)}
        return sorted(self.failures, key=lambda failure: order.get(failure[0], len(order)))

    def parse_text(self, response: Response, info_code: str) -> Iterator[PostItem | FetchFailure]:
        item = self._archived(info_code)
        if item is None:
            yield self._not_archived(info_code, response.url, NOT_ARCHIVED, response.body)
            return
        try:
            text = share_text_from_json(response.body, emnews=item.kind == "emnews")
        except ShareTextError as error:
            yield self._failed(item, str(error))
            return
        take_share_text(item, text, response.url, utc_now())
        self.crawler.stats.inc_value("finews/share_stored")
        yield item

    def text_failed(self, failure: Failure) -> Iterator[PostItem | FetchFailure]:
        info_code: str = failure.request.cb_kwargs["info_code"]
        if failure.check(ShareHostUnavailable):
            reason = f"skipped: {failure.getErrorMessage()}"
        else:
            reason = describe_failure(failure)
        item = self._archived(info_code)
        if item is None:
            response = getattr(failure.value, "response", None)
            yield self._not_archived(
                info_code, failure.request.url, f"{NOT_ARCHIVED}; the share host failed too: {reason}",
                response.body if response is not None else b"",
            )
            return
        yield self._failed(item, reason)

    def _archived(self, info_code: str) -> PostItem | None:
        """The archived record, as the share route refreshes it: not seen on the site this time."""
        row = self.archive.get_post(info_code)
        if row is None:
            return None
        item = item_from_row(row)
        item.from_site = False
        return item

    def _failed(self, item: PostItem, reason: str) -> PostItem:
        """Recorded on the post, unless it holds an exact text already: the status travels with that text."""
        if item.share_text is None:
            item.share_status, item.share_fetched_at = reason, utc_now()
        self.failures.append((item.info_code or "", reason))
        self.crawler.stats.inc_value("finews/share_failed")
        return item

    def _not_archived(self, info_code: str, url: str, reason: str, raw: bytes) -> FetchFailure:
        self.failures.append((info_code, reason))
        self.crawler.stats.inc_value("finews/share_not_archived")
        return FetchFailure(url, f"{info_code}: {reason}", raw)
