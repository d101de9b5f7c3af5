"""A Scrapy response as the page objects take it: the one place the spiders' responses cross over."""

from __future__ import annotations

from scrapy.http import Response, TextResponse
from web_poet import HttpResponse


def web_response(response: Response) -> HttpResponse:
    """``response`` as a ``web_poet.HttpResponse``; a text response keeps the encoding Scrapy decoded it with,
    so a page object reads the same text the crawl always did."""
    headers = {
        name.decode("latin-1"): b", ".join(values).decode("latin-1") for name, values in response.headers.items()
    }
    encoding = response.encoding if isinstance(response, TextResponse) else None
    return HttpResponse(response.url, response.body, status=response.status, headers=headers, encoding=encoding)
