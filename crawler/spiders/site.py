"""The site spider: home, /emnews/ and the feed → category pages → every post page (→ its share text).

Routing only: what a page says is read by its page object (crawler/pages), a post's share text fetched by
crawler/sharetext.py, the record put together by crawler/record.py; what it means is decided by the
pipelines.
Incremental: a listed post the archive already holds (by name or infoCode) is skipped before any
request; every post it does request is first put in the archive's frontier, and the frontier left by
an earlier run (killed, stopped) is requested before anything else is discovered.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import date, datetime
from typing import Any, Self
from urllib.parse import quote, urljoin, urlsplit

import scrapy
from scrapy.crawler import Crawler
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure
from web_poet.fields import item_from_fields_sync

from crawler.distributed.worker import Worker
from crawler.failures import describe_failure, failed_request, no_verdict
from crawler.infocode import infocode_of_listed_post
from crawler.items import FetchFailure, PostItem
from crawler.pages.from_scrapy import web_response
from crawler.pages.listing import FeedPage, Links, ListingPage, category_page_url, on_host_of, post_name
from crawler.pages.post import PostPage, PostPageItem
from crawler.postfile import SHANGHAI
from crawler.record import ShareOutcome, post_item
from crawler.sharetext import ShareTexts
from pipelines.archive import Archive, PostLink
from pipelines.crawl_archive import archive_for

# The feed first (the newest posts), then lists, so every post is discovered early; then posts, newest
# first (a post's priority falls by one per day of age, down to POST_PRIORITY - OLDEST_PRIORITY_DAYS: one
# scheduler queue per priority, so few priorities). A post's share text is not scheduled (parse_post).
FEED_PRIORITY = 30
LISTING_PRIORITY = 20
POST_PRIORITY = 0
OLDEST_PRIORITY_DAYS = 30
# Listed posts planned at a time (looked up in the archive, put in its frontier, requested): a category page
# of a 100,000-post site lists 40,000, and planned at once they added 22 MB to the crawl's peak memory.
PLAN_BATCH = 1_000
# Listing pages not read for a reason that was not theirs (no answer, 5xx), and the last such reason.
LISTINGS_NOT_READ_STAT = "finews/listings_not_read"
LISTING_REASON_STAT = "finews/listing_not_read_reason"
_POST_DATE = re.compile(r"/(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/[^/]+\.html$")


def post_priority(url: str, today: date) -> int:
    """Newer posts first, by the date in the post URL."""
    match = _POST_DATE.search(urlsplit(url).path)
    if not match:
        return POST_PRIORITY - OLDEST_PRIORITY_DAYS
    try:
        posted = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        return POST_PRIORITY - OLDEST_PRIORITY_DAYS
    return POST_PRIORITY - min(max((today - posted).days, 0), OLDEST_PRIORITY_DAYS)


def post_link(url: str) -> PostLink:
    """A listed post: its name, and the infoCode the name carries (the emnews ``<digits>`` → ``NW<digits>``)."""
    name = post_name(url)
    return PostLink(name, url, infocode_of_listed_post(name))


class SiteSpider(scrapy.Spider):
    name = "site"

    def __init__(
        self, site_url: str, share_host: str, share_texts: ShareTexts | None = None, archive: Archive | None = None,
        refetch_known: bool = False, worker: Worker | None = None, **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.site_url = site_url if site_url.endswith("/") else site_url + "/"
        # Where a post's share text comes from; None: not followed (``FINEWS_FOLLOW_SHARE`` off).
        self.share_texts = share_texts
        self.allowed_domains = [urlsplit(self.site_url).hostname or "", share_host]
        self.archive = archive
        # In a distributed crawl (crawler/distributed), the crawl's argument: the worker plans listed posts,
        # and its frontier hands what each request gave to the ingest.
        self.worker = worker
        self.refetch_known = refetch_known
        self.today = datetime.now(SHANGHAI).date()
        # Names already planned in this run, so a post listed on four pages is looked up once. It grows
        # with the live site (a few days of posts), never with the archive, which is asked, not loaded.
        self._planned: set[str] = set()
        # Listed post URLs whose name is unusable, rejected once per run: by URL, as they have no name to key
        # by (an empty one would make every other such link a duplicate, dropped without a word).
        self._refused: set[str] = set()
        # Listing pages already asked for in this run: every post names its category page (in its URL and its
        # back link), and making a request for each only for the duplicate filter to drop it cost an
        # incremental run a third of its time. A few dozen URLs.
        self._listings_asked: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        settings = crawler.settings
        kwargs.setdefault("site_url", settings["FINEWS_SITE_URL"])
        kwargs.setdefault("share_host", settings["FINEWS_SHARE_HOST"])
        kwargs.setdefault("share_texts", ShareTexts.from_crawler(crawler))
        kwargs.setdefault("refetch_known", settings.getbool("FINEWS_FULL"))
        return super().from_crawler(crawler, *args, **kwargs)

    @property
    def planner(self) -> Worker | Archive | None:
        """Who says which listed posts to fetch, and what an earlier run left: the archive, or in a
        distributed crawl the worker (which cannot open an archive on another machine)."""
        return self.worker or self.archive

    def _take_archive(self) -> None:
        """The crawler's archive (pipelines/crawl_archive.py), unless one was given or the crawl is distributed."""
        if self.archive is None and self.worker is None:
            self.archive = archive_for(self.crawler)

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self._take_archive()
        if self.worker is not None and not self.worker.finishes_crawl:
            return  # it joins a crawl whose start requests ``finews crawl --redis`` pushed
        yield scrapy.Request(
            urljoin(self.site_url, "feed.xml"), callback=self.parse_feed, errback=self.listing_failed,
            priority=FEED_PRIORITY,
        )
        for request in [*self._listing(self.site_url), *self._listing(urljoin(self.site_url, "emnews/"))]:
            yield request
        planner = self.planner
        if planner is not None:
            # Some category pages are linked only from posts (/category/LME.html, from the market posts'
            # back links): an incremental run fetches no archived post, so it asks the archive for them.
            for category in planner.categories():
                for request in self._listing(urljoin(self.site_url, f"category/{quote(category)}.html"), guessed=True):
                    yield request
            # What an earlier run discovered and did not archive (killed, stopped, failed): fetched first.
            pending = planner.frontier()
            self.crawler.stats.set_value("finews/frontier_at_start", len(pending))
            for link in pending:
                self._planned.add(link.name)
                self.crawler.stats.inc_value("finews/posts_queued")
                yield self._post(link.url)

    def _listing(self, url: str, *, guessed: bool = False) -> Iterator[scrapy.Request]:
        """The listing page's request, the first time it is named in this run (a guessed one may be missing)."""
        if url in self._listings_asked:
            return
        self._listings_asked.add(url)
        yield scrapy.Request(
            url, callback=self.parse_listing, errback=self.guessed_listing_failed if guessed else self.listing_failed,
            priority=LISTING_PRIORITY,
        )

    def _post(self, url: str) -> scrapy.Request:
        return scrapy.Request(
            url, callback=self.parse_post, errback=self.post_failed, priority=post_priority(url, self.today)
        )

    def _posts_to_fetch(self, post_urls: Iterable[str]) -> Iterator[scrapy.Request]:
        """Requests for the listed posts the archive does not hold yet (all of them with ``refetch_known``)."""
        links: list[PostLink] = []
        for url in post_urls:
            link = post_link(url)
            if link.name not in self._planned:
                self._planned.add(link.name)
                links.append(link)
                if len(links) == PLAN_BATCH:
                    yield from self._planned_requests(links)
                    links = []
        yield from self._planned_requests(links)

    def _planned_requests(self, links: list[PostLink]) -> Iterator[scrapy.Request]:
        """Requests for those of ``links`` the planner says to fetch (in the archive's frontier by then)."""
        if not links:
            return
        planner = self.planner
        if planner is None:
            fetch = links
        else:
            plan = planner.plan_links(links, self.crawler.stats.get_value("finews/run_id"), self.refetch_known)
            self.crawler.stats.inc_value("finews/skipped_known", plan.skipped_known)
            self.crawler.stats.inc_value("finews/skipped_rejected", plan.skipped_rejected)
            fetch = list(plan.fetch)
        for link in fetch:
            self.crawler.stats.inc_value("finews/posts_queued")
            yield self._post(link.url)

    def _posts_and_their_categories(self, links: Links) -> Iterator[scrapy.Request | FetchFailure]:
        for url, why in links.refused_post_urls.items():
            # Rejected as the page object says, once per run: by URL, as they have no name to key by (an
            # empty one would make every other such link a duplicate, dropped without a word).
            if url not in self._refused:
                self._refused.add(url)
                yield FetchFailure(url, why)
        post_urls = links.post_urls
        for url in post_urls:
            category_url = category_page_url(url)
            if category_url:
                # A guess: Jekyll lowercases categories in post URLs (LME → /lme/…) but not in
                # /category/LME.html, which the post's back link then names exactly.
                yield from self._listing(category_url, guessed=True)
        yield from self._posts_to_fetch(post_urls)

    def parse_listing(self, response: Response) -> Iterator[scrapy.Request | FetchFailure]:
        self.crawler.stats.inc_value("finews/listings_done")
        if not isinstance(response, TextResponse):
            self.logger.warning("Listing %s is not text (%s)", response.url, response.headers.get("Content-Type"))
            return
        links = item_from_fields_sync(ListingPage(web_response(response)), Links)
        for url in links.category_urls:
            yield from self._listing(url)
        yield from self._posts_and_their_categories(links)

    def parse_feed(self, response: Response) -> Iterator[scrapy.Request | FetchFailure]:
        self.crawler.stats.inc_value("finews/listings_done")
        if isinstance(response, TextResponse):
            yield from self._posts_and_their_categories(item_from_fields_sync(FeedPage(web_response(response)), Links))

    async def parse_post(self, response: Response) -> AsyncIterator[PostItem | scrapy.Request]:
        # Whatever the answer is: the page object says what is wrong with one that is no post page (not HTML,
        # undecodable, no layout), and validation makes that a reject.
        page = item_from_fields_sync(PostPage(web_response(response)), PostPageItem)
        for href in page.back_link_urls:
            category_url = urljoin(response.url, href)
            if "/category/" in href and on_host_of(response.url, category_url):
                for request in self._listing(category_url):
                    yield request
        share = ShareOutcome()
        if self.share_texts is not None:
            share = await self.share_texts.fetch(page.info_code, page.post_url, emnews=page.kind == "emnews")
        yield post_item(page, share, response.body)

    def post_failed(self, failure: Failure) -> Iterator[FetchFailure]:
        """A reject when the page caused it; else (no answer, 5xx, the site gone) no verdict: the store keeps
        the post in the frontier."""
        response = getattr(failure.value, "response", None)
        yield FetchFailure(
            failed_request(failure).url, describe_failure(failure), response.body if response else b"",
            transient=no_verdict(failure),
        )

    def guessed_listing_failed(self, failure: Failure) -> None:
        self.crawler.stats.inc_value("finews/category_guess_missing")
        self.logger.info("No category page at %s (%s)", failed_request(failure).url, describe_failure(failure))

    def listing_failed(self, failure: Failure) -> None:
        self.crawler.stats.inc_value("finews/listing_failed")
        if failed_request(failure).url.rstrip("/") == self.site_url.rstrip("/"):
            self.crawler.stats.set_value("finews/site_unreachable", describe_failure(failure))
        if no_verdict(failure):
            # The posts it lists were not seen: the run cannot say it archived everything listed.
            self.crawler.stats.inc_value(LISTINGS_NOT_READ_STAT)
            self.crawler.stats.set_value(LISTING_REASON_STAT, f"{describe_failure(failure)} ({failed_request(failure).url})")
        self.logger.error("Listing %s failed: %s", failed_request(failure).url, describe_failure(failure))
