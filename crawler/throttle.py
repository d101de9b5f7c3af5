"""Politeness under pressure: a host that answers 429, or 503 with ``Retry-After``, is paused as a whole.

Scrapy retries a 429 or 503 at once, up to ``RETRY_TIMES``, and never reads ``Retry-After``
(scrapy/scrapy#3849, #6458); its users there ask for a pause of the whole download slot rather than of
one request, for both forms of the header, and for no blocking sleep. Here, a throttling answer:

- pauses every request to that host until the time ``Retry-After`` gives (RFC 9110 §10.2.3: seconds, or
  an HTTP-date), at most ``FINEWS_MAX_RETRY_AFTER`` seconds; a 429 without the header, for
  ``FINEWS_THROTTLE_PAUSE``. A 503 without it is a server error like a 500 (a proxy in front of a dead
  site answers so): retried as usual, and counted by the site's breaker (crawler/sitehost.py);
- after the pause lets one request through as a probe, and the others only once the host answers it
  with anything but 429/503: during a throttle the crawl sends about one request per pause;
- sends the throttled request again later, without spending its retries: a 429 is not a verdict on the
  page while the host is throttling us.

A host that throttles for longer than ``FINEWS_THROTTLE_GIVE_UP`` seconds with no other answer in between
ends the run when it is the site (exit 1, the posts left in the frontier for the next run); for the share
host the answer then goes on to its breaker (crawler/sharehost.py), and posts keep their page bodies.
A page that answers 429 without ``Retry-After`` while its host answers everything else normally gets the
usual retries and outcome, once its host has answered ``OWN_ANSWER_AFTER`` other requests since it was
first throttled.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from scrapy.utils.asyncio import sleep
from scrapy.utils.httpobj import urlparse_cached

from crawler.faults import fail_run, run_failed

# 503 only with Retry-After (process_response).
THROTTLE_STATUSES = frozenset((429, 503))
# A request waiting for its host looks this often whether the crawl is stopping (a signal, a fault).
WAIT_STEP_SECONDS = 0.5
# Request.meta: how many throttling answers this request got, and its host's answer count at the first.
THROTTLED_TIMES = "finews_throttled"
THROTTLED_AT = "finews_throttled_at_answer"
# A request throttled again after its host answered this many others normally: its own answer, not a throttle.
OWN_ANSWER_AFTER = 3

logger = logging.getLogger(__name__)


class HostThrottled(IgnoreRequest):
    """Not sent: the run is stopping while the request's host throttles us. No verdict on the page."""


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP-date); None when absent or
    unreadable. A date in the past means now (0)."""
    if value is None:
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110: an HTTP-date is always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class HostState:
    """One host's throttle, while it lasts."""

    paused_until: float = 0.0
    # When the current run of throttling answers began (monotonic), None when the host answers normally.
    throttled_since: float | None = None
    # The one request let through after a pause; the others wait for its answer.
    probe: Request | None = None
    # Answers that were not throttling, over the run.
    answers: int = 0
    gave_up: bool = False
    last: str = ""


class HostThrottle:
    """Downloader middleware, next to the downloader: it sees a throttling answer before any other."""

    def __init__(
        self, crawler: Crawler, site_host: str, max_pause: float, default_pause: float, give_up: float
    ) -> None:
        self.crawler = crawler
        self.site_host = site_host
        self.max_pause = max_pause
        self.default_pause = default_pause
        self.give_up = give_up
        self.hosts: dict[str, HostState] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostThrottle:
        settings = crawler.settings
        if settings.getbool("FINEWS_REPLAY"):
            raise NotConfigured  # a reparse answers from the archive: nothing throttles it
        return cls(
            crawler,
            urlsplit(settings["FINEWS_SITE_URL"]).hostname or "",
            max_pause=settings.getfloat("FINEWS_MAX_RETRY_AFTER"),
            default_pause=settings.getfloat("FINEWS_THROTTLE_PAUSE"),
            give_up=settings.getfloat("FINEWS_THROTTLE_GIVE_UP"),
        )

    def _stopping(self) -> bool:
        return not self.crawler.crawling or run_failed(self.crawler)

    async def process_request(self, request: Request) -> None:
        host = self.hosts.get(urlparse_cached(request).hostname or "")
        while host is not None and host.throttled_since is not None and not host.gave_up:
            if self._stopping():
                raise HostThrottled(f"not sent: the run is stopping while {host.last}")
            wait = host.paused_until - time.monotonic()
            if wait <= 0 and host.probe is None:
                host.probe = request
                return
            await sleep(min(max(wait, 0.0), WAIT_STEP_SECONDS) or WAIT_STEP_SECONDS)

    def process_exception(self, request: Request, exception: Exception) -> None:
        host = self.hosts.get(urlparse_cached(request).hostname or "")
        if host is not None and host.probe is request:
            host.probe = None  # the next waiting request probes

    def process_response(self, request: Request, response: Response) -> Request | Response:
        name = urlparse_cached(request).hostname or ""
        host = self.hosts.get(name)
        if host is not None and host.probe is request:
            host.probe = None
        header = response.headers.get("Retry-After")
        if response.status not in THROTTLE_STATUSES or (response.status == 503 and header is None):
            if host is not None:
                host.answers += 1
                if host.throttled_since is not None:
                    seconds = time.monotonic() - host.throttled_since
                    logger.info("%s answers again after %.0f s of throttling", name, seconds)
                host.throttled_since, host.gave_up = None, False
            return response
        host = self.hosts.setdefault(name, HostState())
        if host.gave_up:
            return response
        asked = retry_after_seconds(header)
        pause = min(self.default_pause if asked is None else asked, self.max_pause)
        now = time.monotonic()
        host.last = f"{name} answered {response.status}"
        if header:
            host.last += f" with Retry-After {header.decode('latin-1')[:40]}"
        times = int(request.meta.get(THROTTLED_TIMES, 0)) + 1
        first_at = int(request.meta.get(THROTTLED_AT, host.answers))
        if asked is None and times > OWN_ANSWER_AFTER and host.answers - first_at >= OWN_ANSWER_AFTER:
            # No Retry-After, and its host answers the others: the page's own error, retried and judged as any
            # other. An answer with Retry-After always means "later", and is waited for until the give-up.
            return response
        if host.throttled_since is None:
            host.throttled_since = now
            logger.info("%s: pausing the host for %.0f s", host.last, pause)
        elif now - host.throttled_since > self.give_up:
            return self._give_up(name, host, response)
        host.paused_until = max(host.paused_until, now + pause)
        self.crawler.stats.inc_value("finews/throttled")
        self.crawler.stats.max_value("finews/throttle_pause_max", pause)
        return request.replace(dont_filter=True, meta={**request.meta, THROTTLED_TIMES: times, THROTTLED_AT: first_at})

    def _give_up(self, name: str, host: HostState, response: Response) -> Response:
        host.gave_up = True
        seconds = time.monotonic() - (host.throttled_since or 0.0)
        if name == self.site_host:
            fail_run(
                self.crawler,
                f"site {name} kept throttling the crawl for {seconds:.0f} s (last: {host.last}); "
                "the posts not archived stay in the frontier for the next run",
            )
        else:
            logger.warning("%s: throttling for %.0f s, not waited for any longer in this run", host.last, seconds)
        return response
