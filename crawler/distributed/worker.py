"""One crawler's part in a distributed crawl: its id, its leases, what it hands off, what it skips.

The site spider asks a ``Worker`` (instead of the archive, which a worker on another machine cannot open)
which listed posts to fetch. What each request produced goes to the worker too: the shared frontier
(crawler/distributed/frontier.py) gives every request it hands out a callback and errback wrapped by
``Worker.settling``, so that, once a request's output is over (whether it ended normally or raised), the
items it gave and the end of its lease go into the worker's outbox, which the next exchange with Redis
applies in one script (crawler/distributed/shared.py). The spider's callbacks know nothing of it.

A distributed crawl gives its worker to the spider as an argument (``crawler.crawl(worker=…)``);
``worker_of`` finds it there for the crawler's other components.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.http import Response
from scrapy.statscollectors import StatsCollector
from twisted.python.failure import Failure

from crawler.distributed.records import Record, SeenLinks
from crawler.distributed.shared import WORKER_COUNTS, Outbox, SharedCrawl, new_worker_id
from crawler.failures import failed_request
from crawler.items import FetchFailure, PostItem
from pipelines.archive import FetchedPage, LinkPlan, PostLink

# An outbox this full (requests, leases, records) is sent at once rather than at the next flush.
OUTBOX_LIMIT = 64
# The request meta key holding the id of the lease a request was taken under.
LEASE_META = "finews_lease"


class Worker:
    """What one crawler does in the shared crawl; one per crawler, given to its spider (``worker_of``)."""

    def __init__(
        self, shared: SharedCrawl, worker_id: str, *, run_id: int | None, finishes_crawl: bool,
        categories: Iterable[str] = (), pending: Iterable[PostLink] = (),
    ) -> None:
        self.shared = shared
        self.id = worker_id
        self.run_id = run_id
        # ``finews crawl --redis``'s own worker: it pushed the start requests, and stops only when the
        # whole crawl is complete; any other worker stops when idle for long enough.
        self.finishes_crawl = finishes_crawl
        self.start_categories = list(categories)
        self.start_pending = list(pending)
        self._counted: dict[str, int] = dict.fromkeys(WORKER_COUNTS, 0)
        # The crawler's stats, once it runs (set by its scheduler).
        self.stats: StatsCollector | None = None
        # What the next exchange with Redis sends (crawler/distributed/shared.py).
        self.outbox = Outbox()
        # Pages received, by the lease of their request, until that request is settled.
        self._pages: dict[str, FetchedPage] = {}
        # Post pages and fetch failures this worker handed to the ingest.
        self.handed_off = 0

    # The site spider's planner ----------------------------------------------------------------

    def plan_links(self, links: list[PostLink], run_id: int | None, refetch_known: bool = False) -> LinkPlan:
        """Like ``Archive.plan_links``, against the names and infoCodes the archive had at the run's start
        and those written since; the known ones are handed off to be marked seen."""
        known = self.shared.known_links(links)
        seen = tuple(link for link, is_known in zip(links, known, strict=True) if is_known)
        if seen:
            self.outbox.add_records([SeenLinks(seen, run_id)])
        if refetch_known:
            return LinkPlan(tuple(links), 0)
        return LinkPlan(tuple(link for link, is_known in zip(links, known, strict=True) if not is_known), len(seen))

    def categories(self) -> list[str]:
        return self.start_categories

    def frontier(self) -> list[PostLink]:
        return self.start_pending

    # Leases and hand-off ----------------------------------------------------------------------

    def settling(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """``method`` (a request's callback or errback), its output settling the request's lease.

        Wrapped where requests leave the shared frontier, not on the spider's methods: Scrapy passes an
        errback's output straight to the engine, past the spider middlewares, so no middleware sees it.
        ``__wrapped__`` is the method itself, for a request that goes back to the frontier (a retry).
        """

        @functools.wraps(method)
        def settling(result: Response | Failure, *args: Any, **kwargs: Any) -> Any:
            outputs = method(result, *args, **kwargs)
            request = failed_request(result) if isinstance(result, Failure) else result.request
            assert request is not None  # a response the engine hands a callback carries its request
            if inspect.isasyncgen(outputs):  # parse_post awaits its share text
                return self.settle_async(request, outputs)
            return self.settle(request, outputs)

        return settling

    def settle(self, request: Request, outputs: Iterable[Any] | None) -> Iterator[Request]:
        """Pass ``outputs``' requests on (they reach the outbox as they come); keep its items, and at the
        end put them in the outbox with the end of ``request``'s lease: the next exchange applies both."""
        lease, records = self._settling(request)
        try:
            for output in outputs or ():
                if isinstance(output, Request):
                    yield output
                else:
                    records.append(output)
        finally:
            self._settled(lease, records)

    async def settle_async(self, request: Request, outputs: AsyncIterable[Any]) -> AsyncIterator[Request]:
        """``settle`` for a callback that awaits (parse_post, which awaits the post's share text)."""
        lease, records = self._settling(request)
        try:
            async for output in outputs:
                if isinstance(output, Request):
                    yield output
                else:
                    records.append(output)
        finally:
            self._settled(lease, records)

    def _settling(self, request: Request) -> tuple[str | None, list[Record]]:
        """The request's lease, and its records so far: the page it received, when kept."""
        lease = request.meta.get(LEASE_META)
        page = self._pages.pop(lease, None) if lease is not None else None
        return lease, [page] if page is not None else []

    def _settled(self, lease: str | None, records: list[Record]) -> None:
        self.handed_off += sum(1 for record in records if isinstance(record, (PostItem, FetchFailure)))
        self.outbox.add_records(records)
        if lease is not None:
            self.outbox.leases.append(lease)
        if len(self.outbox) >= OUTBOX_LIMIT:
            self.flush()

    def keep_page(self, page: FetchedPage, request: Request) -> bool:
        """The page recorder's sink in a worker: the page goes to the writer with what its request gives;
        pages of requests the spider never sees (robots.txt) with the next exchange."""
        lease = request.meta.get(LEASE_META)
        if lease is None:
            self.outbox.add_records([page])
        else:
            self._pages[lease] = page
        return True

    def exchange(self, wanted: int = 0, max_backlog: int = 0) -> tuple[int, list[tuple[str, bytes]]]:
        """Send the outbox and the counts since the last exchange; take up to ``wanted`` requests."""
        return self.shared.exchange(self.id, self.outbox, self._count_deltas(), wanted, max_backlog)

    def flush(self) -> None:
        """Send the outbox now, when there is anything in it."""
        if len(self.outbox):
            self.exchange()

    def _count_deltas(self) -> dict[str, int]:
        """What this crawler counted since it last told Redis (with every exchange, so the run's counts are
        whole once every request is settled)."""
        if self.stats is None:
            return {}
        deltas = {}
        for name, stat in WORKER_COUNTS.items():
            value = int(self.stats.get_value(stat, 0))
            deltas[name] = value - self._counted[name]
            self._counted[name] = value
        return deltas

    def flush_counts(self) -> None:
        """Send the outbox and the counts, and say when the site was found unreachable."""
        self.exchange()
        unreachable = self.stats.get_value("finews/site_unreachable") if self.stats is not None else None
        if unreachable:
            self.shared.add_counts({}, unreachable)


def worker_of(crawler: Crawler) -> Worker | None:
    """The worker the crawler's spider was given, None when it is not part of a distributed crawl."""
    worker = getattr(crawler.spider, "worker", None)
    return worker if isinstance(worker, Worker) else None


def make_worker(shared: SharedCrawl, *, run_id: int | None, finishes_crawl: bool, **start: Any) -> Worker:
    return Worker(shared, new_worker_id(), run_id=run_id, finishes_crawl=finishes_crawl, **start)
