"""Render a folder's worth of post files into the pages the finews site and its share host serve.

The output imitates Jekyll 4.3 building ``../shared/jekyll-site`` (its layouts, jekyll-seo-tag 2.8,
jekyll-feed 0.17, kramdown) byte for byte; the tests compare it with real Jekyll output. Differences:

- the feed's ``<updated>`` is the newest post's date, not the build time, so output is reproducible;
- a post whose front-matter date is unusable (``date:  +0800``) stops a real Jekyll build; here it
  is published at its file-name date with no date shown (empty ``<small>`` date, no
  ``article:published_time``), so a crawler meets it as a malformed page (a post with no date line
  at all looks the same: PostFile can't tell the two apart, Jekyll would show the file-name date);
- posts dated in the future are published (Jekyll holds them back until their date);
- a post whose file name has no date is not published, as in Jekyll; its share-host text still is;
- Liquid inside post bodies is not evaluated, and kramdown features finews posts don't use are not
  imitated (see ``kramdown.py``);
- category pages exist for the categories of the posts given (the real site also has hand-written
  pages for outlets with no live post); a page's title is the tag of its newest post (the real
  titles are unreliable anyway); pass ``category_titles`` to set them.

As on the real site, post URLs lowercase the category (``categories: LME`` → ``/lme/…``) and a
multi-word ``categories`` value is several categories, so its ``/category/<value>.html`` page lists
nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, unquote

from crawler.pages.kramdown import smartify, to_html
from crawler.postfile import EMNEWS_CATEGORY, EMNEWS_TAG, SHANGHAI, PostFile

SITE_HOST = "finews.withounder.com"
SHARE_HOST = "finews.zning.xyz"
SITE_URL = f"http://{SITE_HOST}"
SITE_TITLE = "金融消息"
SITE_AUTHOR = "finews"
SITE_LANG = "zh-CN"
JEKYLL_VERSION = "4.3.1"
SEO_VERSION = "2.8.0"
HOME_POSTS_PER_TAG = 5
EMNEWS_POSTS = 20
FEED_POSTS = 10
SHARE_PAGE_PATH = "/html_News/NewsShare.html"
SHARE_TEXT_PATH = "/NewsData/GetNewsText.do"

HTML = "text/html; charset=utf-8"
JSON = "application/json; charset=utf-8"
XML = "application/xml; charset=utf-8"
TEXT = "text/plain; charset=utf-8"

PageKey = tuple[str, str]

_DATED_FILE_NAME = re.compile(r"^(\d{2,4})-(\d{1,2})-(\d{1,2})-([^/]*)(\.[^.]+)$")
_RUBY_SPACE = re.compile(r"[ \t\n\v\f\r]+")
_RUBY_STRIP = " \t\n\v\f\r\0"  # what Ruby's String#strip removes
_LEADING_BLANK_LINES = re.compile(r"[ \t\n\v\f\r]*\n")
_STRIP_BLOCKS = re.compile(r"<script.*?</script>|<!--.*?-->|<style.*?</style>", re.S)
_STRIP_TAGS = re.compile(r"<.*?>", re.S)
_ESCAPE_ONCE = re.compile(r"[\"><']|&(?!(?:[a-zA-Z]+|#\d+);)")
_ESCAPE_ONCE_MAP = {"&": "&amp;", ">": "&gt;", "<": "&lt;", '"': "&quot;", "'": "&#39;"}
_SLUG_PRETTY = re.compile(r"[^\w.~!$&'()+,;=@]+")
_DIGITS = re.compile(r"(\d{18})$")
_SHARE_CODE = re.compile(r"[?&]infoCode=([A-Za-z]*\d+)")
# The line that ends a post's text: the share or article link, or the empty ``<>`` of some posts.
_LINK_LINE = re.compile(r"\n\n<([^<>\n]*)>(?=\n|$)")
_BACK_LINKS = re.compile(r"\n\n\[返回")
_DIGEST = re.compile(r"> [^\n]*\n\n")
_URL_SAFE = "/:@-._~!$&'()*+,;="


@dataclass(frozen=True)
class Page:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()  # more response headers (Location for a redirect)
    delay: float = 0.0  # seconds to wait before answering (a page that hangs)


@dataclass(frozen=True)
class _Post:
    """A published post as Jekyll sees it."""

    source: PostFile
    path: str  # "_posts/<file name>": Jekyll's tie-break when two posts share a date
    date: datetime | None  # the usable front-matter date, in the site's zone
    sort_date: datetime  # ``date``, or the file name's date when the front matter has none usable
    slug: str
    categories: tuple[str, ...]
    url: str  # as linked (percent-encoded)
    content: str  # the body's HTML
    excerpt: str  # the first paragraph's HTML

    @property
    def title(self) -> str:
        return self.source.title

    @property
    def tags(self) -> list[str]:
        return self.source.tags

    def sort_key(self) -> tuple[datetime, str]:
        return (self.sort_date, self.path)


# ---------------------------------------------------------------------------------------------
# Liquid and Jekyll filters


def strip_html(text: str) -> str:
    return _STRIP_TAGS.sub("", _STRIP_BLOCKS.sub("", text))


def normalize_whitespace(text: str) -> str:
    return _RUBY_SPACE.sub(" ", text).strip(_RUBY_STRIP)


def escape_once(text: str) -> str:
    return _ESCAPE_ONCE.sub(lambda m: _ESCAPE_ONCE_MAP[m[0]], text)


def xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _seo_format(text: str | None) -> str | None:
    """jekyll-seo-tag's format_string: markdownify, strip_html, normalize_whitespace, escape_once."""
    if text is None:
        return None
    return escape_once(normalize_whitespace(strip_html(to_html(text)))) or None


def escape_path(path: str) -> str:
    """Jekyll's URL.escape_path (Addressable::URI.encode): spaces and non-ASCII percent-encoded."""
    return quote(path, safe=_URL_SAFE)


def absolute_url(url: str) -> str:
    return SITE_URL + url


def _local(instant: datetime) -> datetime:
    return instant.astimezone(SHANGHAI)


def _xmlschema(instant: datetime | None) -> str:
    return "" if instant is None else _local(instant).isoformat()


# ---------------------------------------------------------------------------------------------
# Posts


def jekyll_content(body: str) -> str:
    """The body Jekyll converts: its front-matter pattern also eats the blank lines that open it."""
    if not body.strip(" \t\n\v\f\r"):
        return ""
    match = _LEADING_BLANK_LINES.match(body)
    return body[match.end() :] if match else body


def _categories(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part for part in _RUBY_SPACE.split(value) if part))


def _published(post: PostFile) -> _Post | None:
    """The post as Jekyll publishes it, or None when Jekyll would not (no date in the file name)."""
    match = _DATED_FILE_NAME.match(post.file_name)
    if not match:
        return None
    try:
        file_date = datetime(int(match[1]), int(match[2]), int(match[3]), tzinfo=SHANGHAI)
    except ValueError:
        return None
    date = _local(post.date) if post.date is not None else None
    shown = date or file_date
    slug = _SLUG_PRETTY.sub("-", match[4]).strip("-")
    categories = _categories(post.categories)
    url_categories = "/".join(dict.fromkeys(category.lower() for category in categories))
    url = f"/{url_categories}/{shown:%Y/%m/%d}/{slug}.html".replace("//", "/")
    content = jekyll_content(post.body)
    head, separator, tail = content.partition("\n\n")
    excerpt_source = head if separator and tail else content
    return _Post(
        source=post,
        path=f"_posts/{post.file_name}",
        date=date,
        sort_date=shown,
        slug=slug,
        categories=categories,
        url=escape_path(url),
        content=to_html(content),
        excerpt=to_html(excerpt_source),
    )


# ---------------------------------------------------------------------------------------------
# Layouts


def _seo(*, title: str | None, url: str, date: datetime | None = None, excerpt: str | None = None) -> str:
    """The ``{% seo %}`` block: jekyll-seo-tag 2.8's template, minified as it minifies it."""
    site_title = SITE_TITLE
    page_title = _seo_format(title) or site_title
    full_title = f"{page_title} | {site_title}" if page_title != site_title else site_title
    description = _seo_format(excerpt)
    canonical = re.sub(r"/index\.html$", "/", absolute_url(url))
    homepage = re.fullmatch(r"/(about/)?(index.html?)?", url) is not None
    kind = "WebSite" if homepage else ("BlogPosting" if date is not None else "WebPage")
    lines = [
        f"<!-- Begin Jekyll SEO tag v{SEO_VERSION} -->",
        f"<title>{full_title}</title>",
        f'<meta name="generator" content="Jekyll v{JEKYLL_VERSION}" />',
        f'<meta property="og:title" content="{page_title}" />',
        f'<meta name="author" content="{SITE_AUTHOR}" />',
        f'<meta property="og:locale" content="{SITE_LANG.replace("-", "_")}" />',
    ]
    if description:
        lines.append(f'<meta name="description" content="{description}" />')
        lines.append(f'<meta property="og:description" content="{description}" />')
    lines.append(f'<link rel="canonical" href="{canonical}" />')
    lines.append(f'<meta property="og:url" content="{canonical}" />')
    lines.append(f'<meta property="og:site_name" content="{site_title}" />')
    if date is not None:
        lines.append('<meta property="og:type" content="article" />')
        lines.append(f'<meta property="article:published_time" content="{_xmlschema(date)}" />')
    else:
        lines.append('<meta property="og:type" content="website" />')
    lines.append('<meta name="twitter:card" content="summary" />')
    lines.append(f'<meta property="twitter:title" content="{page_title}" />')
    data: dict[str, object] = {
        "@context": "https://schema.org",
        "@type": kind,
        "author": {"@type": "Person", "name": SITE_AUTHOR},
        "headline": page_title,
        "url": canonical,
    }
    if date is not None:
        data["dateModified"] = data["datePublished"] = _xmlschema(date)
    if description:
        data["description"] = description
    if homepage:
        data["name"] = site_title
    if kind == "BlogPosting":
        data["mainEntityOfPage"] = {"@type": "WebPage", "@id": canonical}
    json_ld = json.dumps(dict(sorted(data.items())), ensure_ascii=False, separators=(",", ":"))
    lines.append('<script type="application/ld+json">')
    lines.append(f"{json_ld}</script>")
    lines.append("<!-- End Jekyll SEO tag -->")
    return "\n".join(lines) + "\n"


def _default_layout(seo: str, content: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{SITE_LANG}">\n'
        "<head>\n"
        '<meta charset="UTF-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"{seo}\n"
        f'<link type="application/atom+xml" rel="alternate" href="{SITE_URL}/feed.xml" title="{SITE_TITLE}" />\n'
        "</head>\n"
        "<body>\n"
        '<div class="wrapper">\n'
        f'<header><h1><a href="{SITE_URL}/">{SITE_TITLE}</a></h1></header>\n'
        "<section>\n"
        f"{content}\n"
        "</section>\n"
        "<footer><p>&copy; 2021</p></footer>\n"
        "</div>\n"
        "</body>\n"
        "</html>\n"
    )


def _post_page(post: _Post) -> str:
    shown = "" if post.date is None else f"{post.date:%Y-%m-%d %H:%M:%S}"
    content = (
        f"<small>(GMT+8, Asia/Shanghai, CST) {shown}</small>\n"
        f"<h1>{post.title}</h1>\n\n"
        f"{post.content}\n\n"
        f"<small>tags: <em>{'</em> - <em>'.join(post.tags)}</em></small>\n"
    )
    seo = _seo(title=post.title, url=post.url, date=post.date, excerpt=post.excerpt)
    return _default_layout(seo, content)


def _home_page(tags: Mapping[str, list[_Post]]) -> str:
    source = "".join(
        f'\n<h2 id="{tag}">{tag}</h2>\n<ul>\n'
        + "".join(f'<li><a href="{p.url}">{p.title}</a></li>\n' for p in posts[:HOME_POSTS_PER_TAG])
        + "</ul>\n\n---\n"
        for tag, posts in tags.items()
    )
    return _default_layout(_seo(title="首页", url="/"), to_html(source + "\n"))


def _emnews_page(tags: Mapping[str, list[_Post]]) -> str:
    source = ""
    if posts := tags.get(EMNEWS_TAG):
        items = "".join(
            f'<li><a href="{p.url}" target="_blank">{p.title}</a></li>\n' for p in posts[:EMNEWS_POSTS]
        )
        source = f'\n<h2 id="{EMNEWS_TAG}">{EMNEWS_TAG}</h2>\n<ul>\n{items}</ul>\n'
    return _default_layout(_seo(title=EMNEWS_TAG, url="/emnews/"), to_html(source + "\n"))


def _category_page(title: str, url: str, posts: list[_Post]) -> str:
    # As on the real site the heading reads page.tags, which category pages never set: it is empty.
    heading = '<h2 id=""></h2>' if posts else ""
    items = "".join(f'  <li><a href="{p.url}">{p.title}</a></li>\n' for p in posts)
    content = f"\n{heading}\n<ul>\n{items}</ul>\n"
    return _default_layout(_seo(title=title, url=url), content)


def _feed(posts: list[_Post]) -> str:
    # jekyll-feed sorts by date only; where two posts share one, the real site listed the one with
    # the smaller path first.
    newest = sorted(posts, key=lambda p: p.path)
    newest.sort(key=lambda p: p.sort_date, reverse=True)
    updated = _xmlschema(max((p.sort_date for p in posts), default=None))
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{SITE_LANG}">',
        f'<generator uri="https://jekyllrb.com/" version="{JEKYLL_VERSION}">Jekyll</generator>',
        f'<link href="{SITE_URL}/feed.xml" rel="self" type="application/atom+xml" />',
        f'<link href="{SITE_URL}/" rel="alternate" type="text/html" hreflang="{SITE_LANG}" />',
        f"<updated>{updated}</updated>",
        f"<id>{SITE_URL}/feed.xml</id>",
        f'<title type="html">{SITE_TITLE}</title>',
        f"<author><name>{SITE_AUTHOR}</name></author>",
    ]
    for post in newest[:FEED_POSTS]:
        title = xml_escape(normalize_whitespace(strip_html(smartify(post.title))))
        link = absolute_url(post.url)
        post_id = xml_escape(absolute_url(post.url.rsplit("/", 1)[0] + "/" + escape_path(post.slug)))
        out.append(
            f'<entry><title type="html">{title}</title>'
            f'<link href="{link}" rel="alternate" type="text/html" title="{title}" />'
            f"<published>{_xmlschema(post.date)}</published>"
            f"<updated>{_xmlschema(post.date)}</updated>"
            f"<id>{post_id}</id>"
            f'<content type="html" xml:base="{xml_escape(link)}">'
            f"<![CDATA[{post.content.strip(_RUBY_STRIP)}]]></content>"
            f"<author><name>{SITE_AUTHOR}</name></author>"
        )
        out.extend(f'<category term="{xml_escape(term)}" />' for term in (*post.categories, *post.tags))
        summary = normalize_whitespace(strip_html(post.excerpt))
        if summary:
            out.append(f'<summary type="html"><![CDATA[{summary}]]></summary>')
        out.append("</entry>")
    out.append("</feed>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# The share host


def share_page_key(info_code: str) -> PageKey:
    return (SHARE_HOST, f"{SHARE_PAGE_PATH}?infoCode={info_code}")


def share_text_key(info_code: str) -> PageKey:
    return (SHARE_HOST, f"{SHARE_TEXT_PATH}?id={info_code}")


def info_code(post: PostFile) -> str | None:
    """The article's infoCode: as a share link in the body gives it, else ``NW`` + the name's digits."""
    if match := _SHARE_CODE.search(post.body):
        return match[1]
    if match := _DIGITS.search(post.name):
        return "NW" + match[1]
    return None


def share_text(post: PostFile) -> str:
    """The text the share host answered for the article: the body before its link line, as written."""
    body = post.body
    links = list(_LINK_LINE.finditer(body))
    if links:
        body = body[: links[-1].start()]
    elif back := _BACK_LINKS.search(body):
        body = body[: back.start()]
    body = body.lstrip("\n")
    if post.categories == EMNEWS_CATEGORY and (digest := _DIGEST.match(body)):
        body = body[digest.end() :]
    return body


def _share_json(code: str, post: PostFile) -> str:
    text = share_text(post)
    if post.categories == EMNEWS_CATEGORY:
        data = {"infoCode": code, "content": text}
    else:
        data = {"infoCode": code, "content": text, "title": post.title, "text": text}
    return json.dumps(data, ensure_ascii=False)


def _share_page(code: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>东方财富网</title></head><body>'
        f'<div id="app" data-infocode="{code}"></div>'
        f"<script>fetch('{SHARE_TEXT_PATH}?id={code}').then(r=>r.json())"
        ".then(d=>{document.getElementById('app').innerHTML=d.text})</script></body></html>"
    )


# ---------------------------------------------------------------------------------------------


NOT_FOUND = Page(
    404,
    HTML,
    (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="UTF-8">\n<title>404 | 金融消息</title>\n'
        "</head>\n<body>\n<h1>404</h1>\n<p>File not found</p>\n</body>\n</html>\n"
    ).encode(),
)
ROBOTS = "User-agent: *\nDisallow:\n"


def _html(text: str) -> Page:
    return Page(200, HTML, text.encode())


def render_site(
    posts: Iterable[PostFile], category_titles: Mapping[str, str] | None = None
) -> dict[PageKey, Page]:
    """Every page of the site and its share host, keyed by (host, decoded path[?query])."""
    sources = list(posts)
    published = sorted(filter(None, map(_published, sources)), key=_Post.sort_key)
    tags: dict[str, list[_Post]] = {}
    categories: dict[str, list[_Post]] = {}
    for post in published:
        for tag in post.tags:
            tags.setdefault(tag, []).append(post)
        for category in post.categories:
            categories.setdefault(category, []).append(post)
    for group in (*tags.values(), *categories.values()):
        group.reverse()

    pages: dict[PageKey, Page] = {}
    for post in published:
        pages[(SITE_HOST, unquote(post.url))] = _html(_post_page(post))
    home = _html(_home_page(tags))
    pages[(SITE_HOST, "/")] = pages[(SITE_HOST, "/index.html")] = home
    emnews = _html(_emnews_page(tags))
    pages[(SITE_HOST, "/emnews/")] = pages[(SITE_HOST, "/emnews/index.html")] = emnews
    titles = dict(category_titles or {})
    newest_by_value: dict[str, _Post] = {}
    for post in reversed(published):
        if post.source.categories:
            newest_by_value.setdefault(post.source.categories, post)
    for value, newest in newest_by_value.items():
        title = titles.get(value) or " ".join(newest.tags) or value
        url = escape_path(f"/category/{value}.html")
        listed = categories.get(value, [])  # a multi-word value names several categories: none
        pages[(SITE_HOST, f"/category/{value}.html")] = _html(_category_page(title, url, listed))
    pages[(SITE_HOST, "/feed.xml")] = Page(200, XML, _feed(published).encode())
    pages[(SITE_HOST, "/robots.txt")] = Page(200, TEXT, ROBOTS.encode())

    # One article published twice answers with its outlet post, as the share host holds one text.
    by_code: dict[str, PostFile] = {}
    for source in sorted(sources, key=lambda p: (p.categories != EMNEWS_CATEGORY, p.file_name)):
        if code := info_code(source):
            by_code[code] = source
    for code, source in sorted(by_code.items()):
        pages[share_page_key(code)] = _html(_share_page(code))
        pages[share_text_key(code)] = Page(200, JSON, _share_json(code, source).encode())
    return pages
