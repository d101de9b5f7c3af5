"""A post page as Jekyll renders it: what the page says, before any normalisation.

The body is cut out of the HTML as a string rather than re-serialised from a parsed tree, because
re-serialising changes entities, attribute quoting and spacing that an archive must keep.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field

from parsel import Selector
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

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
_HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")
_DATE_LINE = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})")


@dataclass
class PostPage:
    """The fields a rendered post page shows, as strings, exactly as found."""

    url: str
    has_layout: bool = False  # False: no <section>, as Jekyll renders a post whose front matter it cannot read
    answer_problem: str | None = None
    title: str = ""
    published_time: str = ""  # ISO 8601 from article:published_time, else the shown date
    shown_date: str = ""  # the <small> line: Asia/Shanghai wall time
    tags: list[str] = field(default_factory=list)
    digest_html: str | None = None
    body_html: str = ""
    link: str | None = None  # the share or article URL; "" for an empty `<>`
    back_links: list[tuple[str, str]] = field(default_factory=list)  # (label, href)
    back_link_lines: str = ""  # the back links as the post file wrote them: `[label](href)` and separators
    share_text: str | None = None  # the body as written, from the share host, when fetched
    share_status: str = "not-fetched"  # one of crawler/sharestatus.py's values
    share_detail: str | None = None  # the failure's own words, when share_status is one
    share_fetched_at: str | None = None  # UTC ISO 8601 of the share-host request share_status reports
    share_text_url: str | None = None  # the GetNewsText.do URL share_text came from
    raw: bytes = b""  # the page as received, kept for rejects


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


def parse_post_page(url: str, text: str, raw: bytes | None = None, content_type: str = "") -> PostPage:
    """Read a rendered post page; missing parts are left empty for validation to judge.

    ``raw`` is the body as received; given, it is kept for rejects and the decoding is checked against
    the charset the Content-Type header or the page declares.
    """
    selector = Selector(text=text)
    page = PostPage(url=url)
    if raw is not None:
        page.raw, page.answer_problem = raw, answer_problem(text, raw, content_type)
    page.published_time = selector.css('meta[property="article:published_time"]::attr(content)').get("")
    shown = _DATE_LINE.search(selector.xpath("string(//section/small[1])").get(""))
    page.shown_date = shown.group(1) if shown else ""
    page.tags = selector.xpath("//section/small[starts-with(., 'tags:')]/em/text()").getall()

    section = _SECTION.search(text)
    if section:
        page.has_layout = True
        # Jekyll writes the title into the <h1> as the front matter holds it, unescaped, so the <h1>'s
        # source is the title: markup in it stays text (never the <title>, which holds the site's own
        # name when a post's title is empty).
        head = _HEAD.match(section["inner"])
        page.title = head["title"] if head else ""
        _read_body(page, section["inner"])
    return page


def _read_body(page: PostPage, inner: str) -> None:
    body = _HEAD.sub("", inner, count=1)
    body = _TAGS_LINE.sub("", body, count=1).rstrip()
    back = _BACK_LINKS.search(body)
    if back:
        page.back_links = [
            (html.unescape(m["label"]), html.unescape(m["href"])) for m in _BACK_LINK.finditer(back["links"])
        ]
        page.back_link_lines = html.unescape(_BACK_LINK.sub(r"[\g<label>](\g<href>)", back["links"].strip()))
        body = body[: back.start()]
    link = _LINK_PARAGRAPH.search(body)
    if link:
        page.link = "" if link["empty"] else html.unescape(link["href"])
        body = body[: link.start()]
    digest = _DIGEST.match(body)
    if digest:
        page.digest_html = digest["digest"]
        body = body[digest.end() :]
    page.body_html = body.strip("\n")
