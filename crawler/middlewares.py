"""A redirect is followed only within the site and its share host (those exact hosts), and never in a circle.

Scrapy's own handling drops both cases without a word (the off-site target is filtered, a redirect
back to a visited URL is a duplicate), so a post page that redirects would be lost silently. This
middleware runs before RedirectMiddleware and turns them into IgnoreRequest with the reason, which
reaches the request's errback: the spider records the post as a reject. Scrapy's ``allowed_domains``
also admits every subdomain of a host; here a subdomain of the site is off the site.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response

REDIRECT_STATUSES = frozenset((301, 302, 303, 307, 308))


class RedirectGuard:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedirectGuard:
        if not crawler.settings.getbool("REDIRECT_ENABLED"):
            raise NotConfigured
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get("Location") if response.status in REDIRECT_STATUSES else None
        if location is None:
            return response
        target = urljoin(request.url, location.decode("latin-1"))
        host = urlsplit(target).hostname or ""
        allowed = getattr(self.crawler.spider, "allowed_domains", None) or []
        if allowed and host not in (domain.lower() for domain in allowed):
            self.crawler.stats.inc_value("finews/redirect_refused/offsite")
            raise IgnoreRequest(f"offsite redirect to {target[:200]} refused (only {', '.join(allowed)})")
        visited = [*request.meta.get("redirect_urls", []), request.url]
        if target in visited:
            self.crawler.stats.inc_value("finews/redirect_refused/loop")
            raise IgnoreRequest(f"redirect loop: {request.url[:200]} leads back to {target[:200]}")
        return response
