"""Listing pages (home, /emnews/, category pages) and the Atom feed: where the post links are."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit

from lxml import etree
from parsel import Selector
from web_poet import WebPage
from web_poet import field as page_field
from web_poet.utils import cached_method

# /<category>[/<more categories>]/<yyyy>/<mm>/<dd>/<name>.html — Jekyll's default post permalink. A post
# whose front matter Jekyll cannot read has no category: /<yyyy>/<mm>/<dd>/<file stem>.html.
_POST_PATH = re.compile(
    r"^/(?:(?P<category>[^/]+)(?:/[^/]+)*/)?\d{4}/\d{2}/\d{2}/(?P<name>[^/]+)\.html$"
)
_CATEGORY_PATH = re.compile(r"^/category/[^/]+\.html$")
_ATOM = {"atom": "http://www.w3.org/2005/Atom"}


def is_post_url(url: str) -> bool:
    return bool(_POST_PATH.match(urlsplit(url).path))


def post_name(url: str) -> str:
    """The post's file slug (``NW202112272226582498``) from its URL; empty when it is not a post URL."""
    match = _POST_PATH.match(unquote(urlsplit(url).path))
    return match["name"] if match else ""


def post_name_problem(url: str) -> str | None:
    """Why a post URL's name cannot be used, or None when its name, decoded, is what ``post_name`` reads.

    An escaped ``/`` in the name (``..%2F..%2Fetc%2Fpasswd.html``) decodes to another path: to no post
    name at all, or to another post's. The name is the post's file name and the key it is planned and
    archived by, so such a URL must not be requested under it.
    """
    path = urlsplit(url).path
    match = _POST_PATH.match(path)
    if not match:
        return "not a post URL"
    if post_name(url) != unquote(match["name"]):
        return f"unusable post name {match['name'][:80]!r}: decoded, the URL's path is {unquote(path)[:120]!r}"
    return None


def category_from_post_url(url: str) -> str:
    match = _POST_PATH.match(unquote(urlsplit(url).path))
    return (match["category"] or "") if match else ""


def category_page_url(post_url: str) -> str | None:
    """Every category slug seen in a post URL has its page at ``/category/<slug>.html``."""
    parts = urlsplit(post_url)
    match = _POST_PATH.match(parts.path)
    # Formatted, not urljoin()ed: the post URL is absolute, and this runs for every listed post.
    return f"{parts.scheme}://{parts.netloc}/category/{match['category']}.html" if match and match["category"] else None


def on_host_of(base_url: str, url: str) -> bool:
    """Whether ``url`` is on exactly the host of ``base_url``: only the site is followed, and a subdomain
    of it (``sub.finews.withounder.com``) is another site."""
    return urlsplit(url).hostname == urlsplit(base_url).hostname


class _AnchorHrefs:
    """An lxml parser target that keeps the ``href`` of every ``<a>`` in document order and builds no tree:
    a category page of a 100,000-post site is 4 MB, and parsel's tree of it took 50 MB at the crawl's peak,
    and 0.54 s to build and search against 0.17 s here. The HTML parser is libxml2's, as in parsel, so the
    links are the same (tests/test_post_page.py compares them)."""

    def __init__(self) -> None:
        self.hrefs: list[str] = []

    def start(self, tag: str, attrib: Mapping[str, str]) -> None:
        if tag == "a":
            href = attrib.get("href")
            if href is not None:
                self.hrefs.append(href)

    def close(self) -> list[str]:
        return self.hrefs


def anchor_hrefs(text: str) -> list[str]:
    """The ``href`` of every ``<a>`` in an HTML page, in page order, as written."""
    parser = etree.HTMLParser(target=_AnchorHrefs(), recover=True, huge_tree=True, encoding="utf-8")
    parser.feed(text.encode("utf-8"))
    hrefs: list[str] = parser.close()
    return hrefs


def page_links(base_url: str, text: str) -> tuple[list[str], list[str]]:
    """(post URLs, category page URLs) linked from an HTML listing page to its own host, absolute, in page
    order."""
    posts: list[str] = []
    categories: list[str] = []
    host = urlsplit(base_url).hostname
    for href in anchor_hrefs(text):
        url = urljoin(base_url, href.strip())
        parts = urlsplit(url)
        if parts.hostname != host:  # on_host_of, with the page's host split once rather than per link
            continue
        if _POST_PATH.match(parts.path):
            posts.append(url)
        elif _CATEGORY_PATH.match(parts.path):
            categories.append(url)
    return posts, categories


def feed_post_links(base_url: str, text: str) -> list[str]:
    """Post URLs of the Atom feed's entries on the feed's own host, newest first as the feed lists them."""
    selector = Selector(text=text, type="xml")
    hrefs = selector.xpath("//atom:entry/atom:link[@rel='alternate' or not(@rel)]/@href", namespaces=_ATOM).getall()
    urls = (urljoin(base_url, href.strip()) for href in hrefs)
    return [url for url in urls if on_host_of(base_url, url) and is_post_url(url)]


@dataclass
class Links:
    """The links a listing page or the feed gives to follow, absolute, on the site's own host, in page order;
    and the post links not to follow, with why (a name that decodes to another path: never requested,
    each one a reject)."""

    post_urls: list[str] = field(default_factory=list)
    category_urls: list[str] = field(default_factory=list)
    refused_post_urls: dict[str, str] = field(default_factory=dict)


def _usable_and_refused(post_urls: list[str]) -> tuple[list[str], dict[str, str]]:
    usable: list[str] = []
    refused: dict[str, str] = {}
    for url in post_urls:
        problem = post_name_problem(url)
        if problem:
            refused[url] = f"{problem}; not requested"
        else:
            usable.append(url)
    return usable, refused


class ListingPage(WebPage[Links]):
    """The home page, /emnews/ or a category page."""

    @cached_method
    def _links(self) -> tuple[list[str], list[str]]:
        return page_links(str(self.response.url), self.response.text)

    @cached_method
    def _posts(self) -> tuple[list[str], dict[str, str]]:
        return _usable_and_refused(self._links()[0])

    @page_field
    def post_urls(self) -> list[str]:
        return self._posts()[0]

    @page_field
    def category_urls(self) -> list[str]:
        return self._links()[1]

    @page_field
    def refused_post_urls(self) -> dict[str, str]:
        return self._posts()[1]


class FeedPage(WebPage[Links]):
    """The Atom feed: its entries' post pages, newest first."""

    @cached_method
    def _posts(self) -> tuple[list[str], dict[str, str]]:
        return _usable_and_refused(feed_post_links(str(self.response.url), self.response.text))

    @page_field
    def post_urls(self) -> list[str]:
        return self._posts()[0]

    @page_field
    def category_urls(self) -> list[str]:
        return []

    @page_field
    def refused_post_urls(self) -> dict[str, str]:
        return self._posts()[1]
