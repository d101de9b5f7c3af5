"""The share spider (``finews share``): archived articles' exact texts, straight from the share host.

It asks ``GetNewsText.do?id=<infoCode>``, never the share page (an empty page its JavaScript fills from
that same answer), and hands the archived record, with the answer, to the site spider's pipelines: a
text that differs from the archived body becomes the body, the replaced version goes to post_revisions
and the post's file is rewritten. A failed fetch is recorded on the post (``share_status`` and
``share_detail``, crawler/sharestatus.py) and never counted as a post the run saw unchanged: only texts
fetched reach the store. A text not asked for because the share host's breaker had opened leaves the
post's status as its last real attempt left it. An infoCode the archive does not hold cannot become a
post (the share host gives no date, category or name), so its answer is kept in ``rejects`` with the reason.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler import sharestatus
from crawler.failures import failed_request, share_failure
from crawler.heldlog import ERRORS_EXPLAINED_STAT
from crawler.infocode import canonical_infocode
from crawler.items import FetchFailure, PostItem
from crawler.pages.from_scrapy import web_response
from crawler.pages.share import ShareTextError, ShareTextPage
from crawler.record import take_share_text
from crawler.sharehost import UNAVAILABLE_STAT, share_request_meta, share_text_url
from pipelines.archive import Archive, item_from_row, utc_now
from pipelines.crawl_archive import archive_for

NOT_ARCHIVED = "not archived: the share host gives no date, category or name to make a post of"
# ShareFailure.status of an infoCode the archive does not hold (not a share_status: there is no post).
NOT_ARCHIVED_STATUS = "not-archived"


@dataclass(frozen=True)
class ShareFailure:
    """A text ``finews share`` did not store: ``status`` is a share_status value (or NOT_ARCHIVED_STATUS)."""

    info_code: str
    status: str
    detail: str

    @property
    def host_failure(self) -> bool:
        return self.status in sharestatus.HOST_FAILURES


class ShareSpider(scrapy.Spider):
    name = "share"

    def __init__(
        self, share_host: str, archive: Archive | None = None, info_codes: Iterable[str] | str = (), backfill: bool = False,
        share_timeout: float = 10.0, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if isinstance(info_codes, str):  # ``scrapy crawl share -a info_codes=NW…,NW…``
            info_codes = info_codes.replace(",", " ").split()
        self.info_codes = list(dict.fromkeys(canonical_infocode(code) for code in info_codes))
        self.share_host = share_host
        self.allowed_domains = [share_host]
        self._archive = archive  # else the crawler's (``archive``)
        self.backfill = backfill
        self.share_timeout = share_timeout
        # Every text not stored, for the command's report, as the answers came.
        self.failures: list[ShareFailure] = []
        self.asked: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ShareSpider:
        kwargs.setdefault("share_host", crawler.settings["FINEWS_SHARE_HOST"])
        kwargs.setdefault("share_timeout", crawler.settings.getfloat("FINEWS_SHARE_TIMEOUT"))
        return super().from_crawler(crawler, *args, **kwargs)

    @property
    def archive(self) -> Archive:
        """The archive given, else the crawler's (pipelines/crawl_archive.py), taken when first needed."""
        if self._archive is None:
            self._archive = archive_for(self.crawler)
        return self._archive

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

    def failures_in_asked_order(self) -> list[ShareFailure]:
        order = {code: index for index, code in enumerate(self.asked)}
        return sorted(self.failures, key=lambda failure: order.get(failure.info_code, len(order)))

    def parse_text(self, response: Response, info_code: str) -> Iterator[PostItem | FetchFailure]:
        item = self._archived(info_code)
        if item is None:
            yield self._not_archived(info_code, response.url, NOT_ARCHIVED, response.body)
            return
        try:
            text = ShareTextPage(web_response(response)).share_text(emnews=item.kind == "emnews")
        except ShareTextError as error:
            self._failed(item, sharestatus.INVALID, str(error))
            return
        take_share_text(item, text, response.url, utc_now())
        self.crawler.stats.inc_value("finews/share_stored")
        yield item

    def text_failed(self, failure: Failure) -> Iterator[FetchFailure]:
        info_code: str = failed_request(failure).cb_kwargs["info_code"]
        status, detail = share_failure(failure)
        if self.crawler.stats.get_value(UNAVAILABLE_STAT):
            # The command says in one line that the share host stopped answering: the errors logged on the
            # way there (Scrapy's retries, robots.txt) were its symptoms (crawler/heldlog.py).
            self.crawler.stats.set_value(ERRORS_EXPLAINED_STAT, True)
        item = self._archived(info_code)
        if item is None:
            response = getattr(failure.value, "response", None)
            yield self._not_archived(
                info_code, failed_request(failure).url, f"{NOT_ARCHIVED}; the share host failed too: {detail}",
                response.body if response is not None else b"",
            )
            return
        self._failed(item, status, detail)

    def _archived(self, info_code: str) -> PostItem | None:
        """The archived record, as the share route refreshes it: not seen on the site this time."""
        row = self.archive.get_post(info_code)
        if row is None:
            return None
        item = item_from_row(row)
        item.from_site = False
        return item

    def _failed(self, item: PostItem, status: str, detail: str) -> None:
        """Recorded on the post when a request was made for it and it holds no exact text: an exact text
        keeps the status it came with, and a text not asked for leaves the last attempt's status."""
        if status != sharestatus.SKIPPED:
            self.archive.record_share_failure(item.info_code or "", status, detail, utc_now())
        self.failures.append(ShareFailure(item.info_code or "", status, detail))
        self.crawler.stats.inc_value("finews/share_failed")

    def _not_archived(self, info_code: str, url: str, reason: str, raw: bytes) -> FetchFailure:
        self.failures.append(ShareFailure(info_code, NOT_ARCHIVED_STATUS, reason))
        self.crawler.stats.inc_value("finews/share_not_archived")
        return FetchFailure(url, f"{info_code}: {reason}", raw)
