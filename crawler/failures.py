"""What a failed download means: its reason in words, and whether it is a verdict on the page.

A verdict (a 404, an off-site redirect, robots.txt forbidding it, a page too large) makes the post a
reject. No answer at all, a server error (5xx), a timeout or a throttle, or a request the crawl itself held
back (the site gone, the run stopping) says nothing of the page: the post stays in the frontier, and the run
that left it there does not exit 0 (crawler/runner.py).
"""

from __future__ import annotations

from scrapy import Request
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from twisted.python.failure import Failure

from crawler import sharestatus
from crawler.sharehost import LAST_ATTEMPT, ShareHostUnavailable, attempt_failure
from crawler.sitehost import SiteGone
from crawler.throttle import HostThrottled

# Answers that say the server could not answer now, not what the page is.
NO_VERDICT_STATUSES = frozenset((408, 429))
# Requests the crawl held back itself: IgnoreRequest by type, but no verdict on the page.
_HELD_BACK = (SiteGone, HostThrottled, ShareHostUnavailable)
# Failures that are the page's: a download cancelled (DOWNLOAD_MAXSIZE), a request refused by a rule.
_VERDICTS = (IgnoreRequest, DownloadCancelledError)


# What a failure means when its error carries no words of its own (Scrapy raises ResponseDataLossError()
# bare, and DownloadCancelledError with a cancelled Deferred's empty message): a reject needs a reason.
_UNWORDED_FAILURES: dict[type[BaseException], str] = {
    ResponseDataLossError: "connection closed before the whole page arrived",
    DownloadCancelledError: "download cancelled before the page arrived",
    DownloadTimeoutError: "no answer within the download timeout",
    DownloadConnectionRefusedError: "connection refused",
    CannotResolveHostError: "host name not found",
    DownloadFailedError: "download failed",
    IgnoreRequest: "request dropped by the crawler",
}


def describe_failure(failure: Failure) -> str:
    """A short reason: ``http 404``, the error's own words (``DownloadTimeoutError: Getting … took longer
    than 2.0 seconds.``), or for an error without any, what its kind means and its name."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return f"http {response.status}"
    name = failure.type.__name__
    message = failure.getErrorMessage().strip()
    if message:
        return f"{name}: {message}"[:300]
    meaning = next((text for kind, text in _UNWORDED_FAILURES.items() if failure.check(kind)), "no details given")
    return f"{meaning} ({name})"


def no_verdict(failure: Failure) -> bool:
    """Whether a failed fetch says nothing of the page (see the module's docstring): unknown errors count as
    none, so that a post is fetched again rather than rejected for what may be the network's fault."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return response.status >= 500 or response.status in NO_VERDICT_STATUSES
    if failure.check(*_HELD_BACK):
        return True
    return not failure.check(*_VERDICTS)


def failed_request(failure: Failure) -> Request:
    """The request a download failure is for: Scrapy sets it on every failure it gives an errback."""
    request: Request = failure.request  # type: ignore[attr-defined]  # Scrapy's attribute, which Twisted does not declare
    return request


def share_failure(failure: Failure) -> tuple[str, str]:
    """A failed share-text download as (``share_status``, ``share_detail``): crawler/sharestatus.py. A text
    whose retry was held back (the share host given up on) reports its last attempt that was sent."""
    response = getattr(failure.value, "response", None)
    if response is not None:
        return sharestatus.status_of_answer(response.status), f"http {response.status}"
    if failure.check(ShareHostUnavailable, HostThrottled):
        request = getattr(failure, "request", None)
        last: tuple[str, str] | None = request.meta.get(LAST_ATTEMPT) if request is not None else None
        return last or (sharestatus.SKIPPED, failure.getErrorMessage())
    if failure.check(*_VERDICTS):
        return sharestatus.REFUSED, describe_failure(failure)
    return attempt_failure(failure.value)
