"""A post page as Jekyll renders it → ``PostPageItem``: every field the page gives, normalised.

The body is cut out of the HTML as a string rather than re-serialised from a parsed tree, because
re-serialising changes entities, attribute quoting and spacing that an archive must keep.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from urllib.parse import unquote, urlsplit

from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom
from web_poet import HttpResponse, WebPage
from web_poet import field as page_field
from web_poet.fields import item_from_fields_sync

from crawler.infocode import InfoCodeError, infocode_of_post
from crawler.pages.body import CONTROL_CHARACTERS
from crawler.pages.inversion import invert_spans
from crawler.pages.listing import category_from_post_url, post_name
from crawler.postfile import EMNEWS_CATEGORY, SHANGHAI, SITENEWS_CATEGORY

MARKET_SHARE_HOST = "choicewzp1.eastmoney.com"
_SECTION = re.compile(r"<section>\n?(?P<inner>.*)</section>", re.S)
_HEAD = re.compile(r"^\s*<small>[^<]*</small>\s*<h1>(?P<title>.*?)</h1>\n*", re.S)
_TAGS_LINE = re.compile(r"\n*<small>tags:.*?</small>\s*$", re.S)
# The back-link paragraph: one or more 返回… links, on one line (｜) or two (newline or <br />).
_BACK_LINKS = re.compile(
    r"\n*<p>(?P<links>(?:<a href=\"[^\"]*\">返回[^<]*</a>(?:｜|<br />)?\s*)+)</p>\s*$"
)
_BACK_LINK = re.compile(r"<a href=\"(?P<href>[^\"]*)\">(?P<label>返回[^<]*)</a>")
# The link paragraph kramdown makes of `<URL>`, or of an empty `<>`.
_LINK_PARAGRAPH = re.compile(r"\n*<p>(?:<a href=\"(?P<href>[^\"]*)\">(?P=href)</a>|(?P<empty>&lt;&gt;))</p>\s*$")
_DIGEST = re.compile(r"^\s*<blockquote>\s*<p>(?P<digest>.*?)</p>\s*</blockquote>\n*", re.S)
_CATEGORY_LINK = re.compile(r"/category/(?P<slug>[^/]+)\.html$")
_HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")
_DATE_LINE = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")
NO_LAYOUT = "not a post page: no post layout (Jekyll renders a post so when it cannot read its front matter)"


@dataclass
class PostPageItem:
    """What a post page says, normalised (``crawler.items.PostItem`` documents each field)."""

    post_url: str
    name: str = ""
    info_code: str | None = None
    title: str = ""
    published_at: str | None = None
    category: str = ""
    tags: list[str] = field(default_factory=list)
    kind: str = ""
    media: str | None = None
    digest: str | None = None
    body_html: str = ""  # the body as the page rendered it
    share_url: str | None = None
    article_url: str | None = None
    back_link_lines: str = ""
    back_link_urls: list[str] = field(default_factory=list)  # the back links' hrefs as written, for the crawl to follow
    problems: list[str] = field(default_factory=list)  # what could not be read; any makes the post a reject


@dataclass
class _Parts:
    """The post layout's parts, as the page's source holds them."""

    has_layout: bool = False
    title: str = ""
    body_html: str = ""
    digest_html: str | None = None
    link: str | None = None  # the share or article URL; "" for an empty `<>`
    back_links: list[tuple[str, str]] = field(default_factory=list)
    back_link_lines: str = ""


def answer_problem(text: str, raw: bytes, content_type: str = "") -> str | None:
    """Why an answer cannot be read as a post page: it is empty; it is not HTML; it is not UTF-8 and
    declares no charset (a decoder's guess is how mojibake gets archived); or bytes did not decode (the
    decoder replaced them with U+FFFD, which the page itself did not contain)."""
    if not raw.strip():
        return "empty response"
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type and media_type not in _HTML_MEDIA_TYPES:
        return f"not an HTML page (Content-Type {content_type[:100]!r})"
    declared = http_content_type_encoding(content_type) or html_body_declared_encoding(raw) or read_bom(raw)[0]
    if not declared:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return "undeclared encoding: the page is not UTF-8 and declares no charset"
    if "\ufffd" in text and "\ufffd".encode() not in raw:
        return "undecodable bytes: the page is not valid in its declared or detected encoding"
    return None


def _parts(text: str) -> _Parts:
    parts = _Parts()
    section = _SECTION.search(text)
    if not section:
        return parts
    parts.has_layout = True
    inner = section["inner"]
    # Jekyll writes the title into the <h1> as the front matter holds it, unescaped, so the <h1>'s source is
    # the title: markup in it stays text (never the <title>, which holds the site's own name when a post's
    # title is empty).
    head = _HEAD.match(inner)
    parts.title = head["title"] if head else ""
    body = _HEAD.sub("", inner, count=1)
    body = _TAGS_LINE.sub("", body, count=1).rstrip()
    back = _BACK_LINKS.search(body)
    if back:
        parts.back_links = [
            (html.unescape(m["label"]), html.unescape(m["href"])) for m in _BACK_LINK.finditer(back["links"])
        ]
        parts.back_link_lines = html.unescape(_BACK_LINK.sub(r"[\g<label>](\g<href>)", back["links"].strip()))
        body = body[: back.start()]
    link = _LINK_PARAGRAPH.search(body)
    if link:
        parts.link = "" if link["empty"] else html.unescape(link["href"])
        body = body[: link.start()]
    digest = _DIGEST.match(body)
    if digest:
        parts.digest_html = digest["digest"]
        body = body[digest.end() :]
    parts.body_html = body.strip("\n")
    return parts


class PostPage(WebPage[PostPageItem]):
    """A rendered post page. Missing parts are left empty, and named in ``problems``, for validation.

    What several fields read is worked out once per page (the ``cached_property`` parts below): a field
    read through web-poet's descriptor costs a few microseconds each time, which fields reading fields
    multiplied (``python -m benchmarks.extraction``).
    """

    @cached_property
    def _parts(self) -> _Parts:
        return _parts(self.response.text)

    @cached_property
    def _link_host(self) -> str:
        return urlsplit(self._parts.link or "").hostname or ""

    @cached_property
    def _name(self) -> str:
        return post_name(str(self.response.url))

    @cached_property
    def _category(self) -> str:
        for _label, href in self._parts.back_links:
            if urlsplit(href).path.rstrip("/").endswith(EMNEWS_CATEGORY):  # //host/emnews/ or ../emnews/
                return EMNEWS_CATEGORY
            match = _CATEGORY_LINK.search(urlsplit(href).path)
            if match:
                return unquote(match["slug"])
        return category_from_post_url(str(self.response.url))

    @cached_property
    def _kind(self) -> str:
        if self._category == EMNEWS_CATEGORY:
            return "emnews"
        if self._category == SITENEWS_CATEGORY:
            return "sitenews"
        return "market" if self._link_host == MARKET_SHARE_HOST else "media"

    @cached_property
    def _tags(self) -> list[str]:
        # Jekyll splits a tags string at whitespace, so a tag never holds any: one list, however written.
        shown = self.xpath("//section/small[starts-with(., 'tags:')]/em/text()").getall()
        return [tag for line in shown for tag in line.split()]

    @cached_property
    def _share_url(self) -> str | None:
        link = self._parts.link or ""
        return link if "NewsShare.html" in link else None

    @cached_property
    def _info_code(self) -> tuple[str | None, str | None]:
        """(the infoCode, None), or (None, why there is none)."""
        try:
            return infocode_of_post(self._name, self._share_url, site_notice=self._kind == "sitenews"), None
        except InfoCodeError as error:
            return None, f"no infoCode: {error}"

    @page_field
    def post_url(self) -> str:
        return str(self.response.url)

    @page_field
    def name(self) -> str:
        """The post's file slug, from its URL."""
        return self._name

    @page_field
    def title(self) -> str:
        # Not stripped: the <h1> holds the title exactly as written, spaces included.
        return CONTROL_CHARACTERS.sub("", self._parts.title)

    @page_field
    def published_at(self) -> str | None:
        """The meta's ISO instant; else the shown wall time, which the site shows in Asia/Shanghai."""
        meta = self.css('meta[property="article:published_time"]::attr(content)').get("")
        shown = _DATE_LINE.search(self.xpath("string(//section/small[1])").get(""))
        for value, parse in ((meta, datetime.fromisoformat), (shown.group(1) if shown else "", _shanghai_wall_time)):
            if value:
                try:
                    instant = parse(value.strip())
                except ValueError:
                    continue
                if instant.tzinfo is not None:
                    return instant.astimezone(SHANGHAI).isoformat()
        return None

    @page_field
    def category(self) -> str:
        """The back link names the category exactly; the URL's first segment is the fallback."""
        return self._category

    @page_field
    def tags(self) -> list[str]:
        return self._tags

    @page_field
    def kind(self) -> str:
        return self._kind

    @page_field
    def media(self) -> str | None:
        if self._kind in ("media", "market") and self._tags:
            return " ".join(self._tags).removesuffix("新闻").strip() or None
        return None

    @page_field
    def info_code(self) -> str | None:
        return self._info_code[0]

    @page_field
    def digest(self) -> str | None:
        """The ``> `` line's text as written, where rendering it gives the page's; else its text, unescaped."""
        digest = self._parts.digest_html
        if digest is None:
            return None
        source = invert_spans(digest)
        return (source if source is not None else html.unescape(digest)).strip()

    @page_field
    def body_html(self) -> str:
        return self._parts.body_html

    @page_field
    def share_url(self) -> str | None:
        return self._share_url

    @page_field
    def article_url(self) -> str | None:
        host = self._link_host
        if not self._share_url and (host == "eastmoney.com" or host.endswith(".eastmoney.com")):
            return self._parts.link
        return None

    @page_field
    def back_link_lines(self) -> str:
        return self._parts.back_link_lines

    @page_field
    def back_link_urls(self) -> list[str]:
        return [href for _label, href in self._parts.back_links]

    @page_field
    def problems(self) -> list[str]:
        problems = []
        answer = answer_problem(
            self.response.text, bytes(self.response.body), self.response.headers.get("Content-Type", "")
        )
        if answer:
            problems.append(answer)
        if not self._parts.has_layout:
            problems.append(NO_LAYOUT)
        if self._info_code[1]:
            problems.append(self._info_code[1])
        return problems


def read_post_page(url: str, body: bytes, content_type: str = "text/html; charset=utf-8") -> PostPageItem:
    """What ``PostPage(...).to_item()`` gives, read from a body and its Content-Type (tests, benchmarks)."""
    page = PostPage(HttpResponse(url, body, headers={"Content-Type": content_type}))
    return item_from_fields_sync(page, PostPageItem)


def _shanghai_wall_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)
