"""The shared frontier: scrapy-redis's scheduler, each request taken under a lease until it is settled.

scrapy-redis keeps the queue (a priority queue) and the duplicate filter in Redis; this scheduler changes
how a request leaves the queue (atomically into a lease of this worker, crawler/distributed/shared.py),
keeps the worker's heartbeat, returns the leases of workers whose heartbeat stopped, and decides when the
spider may close: the worker of ``finews crawl --redis`` when the whole crawl is complete, any other
worker after ``FINEWS_IDLE_EXIT`` seconds with nothing to take.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured, ScrapyDeprecationWarning
from scrapy.settings import BaseSettings
from scrapy.utils.defer import deferred_from_coro
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall

from crawler.distributed.records import UnreadableEntries, UnreadableEntry
from crawler.distributed.shared import RUN_GOES_ON
from crawler.distributed.worker import LEASE_META, Worker, worker_of

logger = logging.getLogger(__name__)
# Requests taken per exchange with Redis: a round trip per request cost a fifth of a worker's time
# (BENCHMARKS.md); more would leave other workers idle at the crawl's end.
PREFETCH = 8
# How long a worker keeps what it has to say (items, ended leases, new requests) before sending it anyway.
FLUSH_SECONDS = 0.05
# scrapy-redis 0.9 logs "Resuming crawl" through the deprecated Spider.log(): a warning on every worker's
# stderr (which cron mails) about code that is not ours.
warnings.filterwarnings("ignore", message=r"Spider\.log\(\) is deprecated", category=ScrapyDeprecationWarning)


@dataclass(frozen=True)
class FrontierTiming:
    """The distributed crawl's settings (crawler/settings.py says what each means)."""

    worker_ttl: float
    idle_exit: float
    poll_seconds: float
    max_backlog: int
    writer_backlog: int

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> FrontierTiming:
        """Raises ValueError naming the setting that is not a positive number (read before any crawl
        starts: a scheduler that fails inside Scrapy's engine leaves only "Engine slot not assigned")."""
        values: dict[str, float] = {}
        for name, field in (("FINEWS_WORKER_TTL", "worker_ttl"), ("FINEWS_IDLE_EXIT", "idle_exit"),
                            ("FINEWS_REDIS_POLL_SECONDS", "poll_seconds"), ("FINEWS_MAX_BACKLOG", "max_backlog"),
                            ("FINEWS_WRITER_BACKLOG", "writer_backlog")):
            try:
                values[field] = settings.getfloat(name)
            except ValueError:
                raise ValueError(f"setting {name}={settings.get(name)!r} is not a number") from None
            if values[field] <= 0:
                raise ValueError(f"setting {name}={settings.get(name)!r} must be positive")
        return cls(values["worker_ttl"], values["idle_exit"], values["poll_seconds"], int(values["max_backlog"]),
                   int(values["writer_backlog"]))


class SharedFrontier(Scheduler):
    """Takes requests from the Redis frontier under a lease (see the module docstring)."""

    worker: Worker
    crawler: Crawler
    heartbeat_ttl: float
    idle_exit: float
    poll_seconds: float
    max_backlog: int
    idle_since: float | None
    stopping: bool
    loops: list[LoopingCall]
    taken: deque[tuple[str, bytes]]
    queued: int
    exchanged_at: float
    unreadable: UnreadableEntries

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SharedFrontier:
        worker = worker_of(crawler)
        if worker is None:
            raise NotConfigured("SharedFrontier schedules only the crawlers of a distributed crawl")
        scheduler: SharedFrontier = super().from_crawler(crawler)
        timing = FrontierTiming.from_settings(crawler.settings)
        scheduler.worker = worker
        scheduler.crawler = crawler
        scheduler.heartbeat_ttl = timing.worker_ttl
        scheduler.idle_exit = timing.idle_exit
        scheduler.poll_seconds = timing.poll_seconds
        # The worker sharing its process with the writer takes work only while the writer keeps up: the
        # writer's time is the crawl's bottleneck, and the other workers do the fetching.
        scheduler.max_backlog = timing.writer_backlog if worker.finishes_crawl else timing.max_backlog
        scheduler.idle_since = None
        scheduler.stopping = False
        scheduler.loops = []
        # Requests taken (leased) and not yet given to the engine; the frontier's size at the last exchange.
        scheduler.taken = deque()
        scheduler.queued = 0
        scheduler.exchanged_at = 0.0
        scheduler.unreadable = UnreadableEntries(crawler, logger)
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        return scheduler

    def open(self, spider: Spider) -> None:
        super().open(spider)
        self.worker.stats = self.crawler.stats
        # What the store pipeline sets in a single-process crawl: the run the counts and pages belong to.
        self.crawler.stats.set_value("finews/run_id", self.worker.run_id)
        self.beat()
        # Made only now, once Scrapy's reactor is installed.
        self.loops = [LoopingCall(self.beat), LoopingCall(self.wake), LoopingCall(self.worker.flush)]
        self.loops[0].start(self.heartbeat_ttl / 3, now=False)
        self.loops[1].start(self.poll_seconds, now=False)
        self.loops[2].start(FLUSH_SECONDS, now=False)

    def close(self, reason: str) -> None:
        for loop in self.loops:
            if loop.running:
                loop.stop()
        self.worker.flush_counts()
        returned = self.worker.shared.leave(self.worker.id)
        if returned:
            logger.info("Returned %d unfinished requests to the shared frontier", returned)
        super().close(reason)

    def beat(self) -> None:
        """Renew this worker's heartbeat, add its counts, and return dead workers' requests."""
        shared = self.worker.shared
        shared.heartbeat(self.worker.id, self.heartbeat_ttl)
        self.worker.flush_counts()
        returned = shared.return_dead_leases()
        if returned:
            logger.warning("Returned %d requests of stopped workers to the shared frontier", returned)

    def wake(self) -> None:
        """Scrapy's engine looks at an idle scheduler again only every 5 s: requests that other workers
        queue meanwhile, and the end of the crawl, are seen within ``FINEWS_REDIS_POLL_SECONDS`` instead.
        (Scrapy has no public call for this; the engine's own next-call does it, and does nothing when the
        engine is busy.)"""
        if not self.worker.finishes_crawl and not self._run_goes_on():
            return
        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()

    def _run_goes_on(self) -> bool:
        """False once the run this worker joined is over (finished, or ``finews crawl --redis`` stopped):
        the worker then stops as on SIGTERM, and what it still holds goes back to the frontier."""
        run = self.worker.shared.run()
        if run is not None and run.get("status") == RUN_GOES_ON and int(run["run_id"]) == self.worker.run_id:
            return True
        if not self.stopping:
            self.stopping = True
            logger.info("The run this worker joined is over: stopping")
            deferred_from_coro(self.crawler.stop_async())
        return False

    def enqueue_request(self, request: Request) -> bool:
        """Into the outbox: the next exchange queues it unless the duplicate filter has seen it (so a
        duplicate is dropped in Redis, and counted as scheduled here). A leased request scheduled again (a
        retry, a redirect) passes its lease to its successor, queued in the same exchange."""
        lease = request.meta.pop(LEASE_META, None)
        # A retry or redirect of a request this frontier handed out carries its settling callbacks: the
        # frontier stores the spider's own methods, and wraps them again when it hands the request out.
        request.callback = getattr(request.callback, "__wrapped__", request.callback)
        request.errback = getattr(request.errback, "__wrapped__", request.errback)
        self.worker.outbox.requests.append((
            self.df.request_fingerprint(request), -request.priority, self.queue._encode_request(request),
            request.dont_filter,
        ))
        if lease is not None:
            self.worker.outbox.leases.append(lease)
        self.crawler.stats.inc_value("scheduler/enqueued/redis")
        return True

    def next_request(self) -> Request | None:
        while True:
            if not self.taken:
                # An empty frontier is asked again only after a pause, unless there is news to send.
                recently = time.monotonic() - self.exchanged_at < self.poll_seconds
                if self.queued == 0 and recently and not len(self.worker.outbox):
                    return None
                self.queued, taken = self.worker.exchange(PREFETCH, self.max_backlog)
                self.exchanged_at = time.monotonic()
                self.taken.extend(taken)
                if not self.taken:
                    return None
            lease, data = self.taken.popleft()
            self.idle_since = None
            try:
                request: Request = self.queue._decode_request(data)
            except (UnreadableEntry, ValueError, TypeError) as error:
                # Not a request finews wrote (request_codec.py): its lease ends with the next exchange, and
                # it is gone from Redis, never run. ValueError, TypeError: fields Request itself refuses.
                self.worker.outbox.leases.append(lease)
                self.unreadable.drop(f"the frontier ({self.queue.key})", error)
                continue
            request.meta[LEASE_META] = lease
            if request.callback is not None:
                request.callback = self.worker.settling(request.callback)
            if request.errback is not None:
                request.errback = self.worker.settling(request.errback)
            self.crawler.stats.inc_value("scheduler/dequeued/redis")
            return request

    def has_pending_requests(self) -> bool:
        """As of the last exchange: asking Redis each time the engine asks would cost a round trip per
        response; the coordinator's end is decided by ``complete()``, which asks."""
        return bool(self.taken) or self.queued > 0

    def spider_idle(self, spider: Spider) -> None:
        self.worker.flush_counts()
        shared = self.worker.shared
        shared.return_dead_leases()
        self.queued = shared.queued()
        if self.queued:
            self.idle_since = None
            raise DontCloseSpider
        if self.worker.finishes_crawl:
            if not shared.complete():
                raise DontCloseSpider
            return
        now = time.monotonic()
        if self.idle_since is None:
            self.idle_since = now
        if now - self.idle_since < self.idle_exit:
            raise DontCloseSpider


def distributed_settings(redis_url: str, prefix: str) -> dict[str, Any]:
    """The Scrapy settings that make a crawler a worker of the distributed crawl under ``prefix``."""
    return {
        "SCHEDULER": "crawler.distributed.frontier.SharedFrontier",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": f"{prefix}:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"{prefix}:dupefilter",
        "SCHEDULER_SERIALIZER": "crawler.distributed.request_codec",
        # The frontier outlives every worker: only ``finews crawl --redis`` starts a run afresh.
        "SCHEDULER_PERSIST": True,
        "REDIS_URL": redis_url,
        "FINEWS_REDIS_URL": redis_url,
        "FINEWS_REDIS_PREFIX": prefix,
        # A worker keeps no JOBDIR: its queue is the shared one.
        "JOBDIR": None,
        # Items never reach a worker's pipelines: they are handed off to the ingest (Worker.settle).
        "ITEM_PIPELINES": {},
    }
