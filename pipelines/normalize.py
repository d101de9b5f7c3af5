"""Normalisation: a rendered post page (plus its share-host text) → a PostItem with typed, canonical fields."""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import datetime
from urllib.parse import unquote, urlsplit

from parsel import Selector

from crawler.infocode import InfoCodeError, infocode_from_name, infocode_from_url, site_notice_key
from crawler.items import PostItem
from crawler.pages.listing import category_from_post_url, post_name
from crawler.pages.post import PostPage
from crawler.postfile import EMNEWS_CATEGORY, SHANGHAI, SITENEWS_CATEGORY
from crawler.sharestatus import OK

MARKET_SHARE_HOST = "choicewzp1.eastmoney.com"
SUMMARY_LENGTH = 120

_CATEGORY_LINK = re.compile(r"/category/(?P<slug>[^/]+)\.html$")
_SOURCE = re.compile(r"<p class=\"em_media\">[（(]文章来源[：:](?P<source>.*?)[）)]</p>", re.S)
_EDITOR = re.compile(r"[（(][^（）()]{0,30}?编辑(?P<editor>[^（）()\s：:]{1,12})[）)]")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"(?i)(</(?:p|div|h\d|li|tr|table|blockquote|center)>|<br\s*/?>)")
# Control characters carry no text; an HTML parser drops some of them anyway, so none are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")


def text_of_html(fragment: str) -> str:
    """The text a reader sees: one line per block, whitespace inside a block collapsed, entities decoded."""
    if not fragment.strip():
        return ""
    # Source line breaks are spaces in HTML; only block ends break lines.
    marked = _BLOCK_END.sub("\\1\n", _WHITESPACE.sub(" ", _CONTROL.sub("", fragment)))
    text = Selector(text=f"<div>{marked}</div>").xpath("string(//body/div)").get("")
    blocks = (" ".join(block.split()) for block in text.split("\n"))
    return "\n".join(block for block in blocks if block)


def source_of_body(body_html: str) -> str | None:
    match = _SOURCE.search(body_html)
    if not match:
        return None
    return html.unescape(_TAG.sub("", match["source"])).strip() or None


def editor_of_text(body_text: str) -> str | None:
    match = _EDITOR.search(body_text)
    return match["editor"] if match else None


def published_instant(page: PostPage) -> datetime | None:
    """The meta's ISO instant; else the shown wall time, which the site shows in Asia/Shanghai."""
    for value, parse in ((page.published_time, datetime.fromisoformat), (page.shown_date, _shanghai_wall_time)):
        if value:
            try:
                instant = parse(value.strip())
            except ValueError:
                continue
            if instant.tzinfo is not None:
                return instant.astimezone(SHANGHAI)
    return None


def _shanghai_wall_time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%d %H:%M:%S").replace(tzinfo=SHANGHAI)


def category_of(page: PostPage) -> str:
    """The back link names the category exactly; the URL's first segment is the fallback."""
    for _label, href in page.back_links:
        if urlsplit(href).path.rstrip("/").endswith(EMNEWS_CATEGORY):  # //host/emnews/ or ../emnews/
            return EMNEWS_CATEGORY
        match = _CATEGORY_LINK.search(urlsplit(href).path)
        if match:
            return unquote(match["slug"])
    return category_from_post_url(page.url)


def content_hash(item: PostItem) -> str:
    """sha256 over every field the exported file is made of, so a changed article changes the hash."""
    material = [item.title, item.published_at, item.category, item.tags, item.digest, item.body_html,
                item.share_url or item.article_url, item.back_link_lines]
    return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode("utf-8")).hexdigest()


def normalize_post(page: PostPage) -> PostItem:
    item = PostItem(post_url=page.url, raw_page=page.raw, share_status=page.share_status,
                    share_detail=page.share_detail)
    item.name = post_name(page.url)
    # Not stripped: the <h1> holds the title exactly as written, spaces included.
    item.title = _CONTROL.sub("", page.title)
    instant = published_instant(page)
    item.published_at = instant.isoformat() if instant else None
    item.category = category_of(page)
    # Jekyll splits a tags string at whitespace, so a tag never holds any: one list, however written.
    item.tags = [tag for shown in page.tags for tag in shown.split()]
    item.back_link_lines = page.back_link_lines

    link = page.link or ""
    host = urlsplit(link).hostname or ""
    if "NewsShare.html" in link:
        item.share_url = link
    elif host.endswith("eastmoney.com"):
        item.article_url = link
    if item.category == EMNEWS_CATEGORY:
        item.kind = "emnews"
    elif item.category == SITENEWS_CATEGORY:
        item.kind = "sitenews"
    elif host == MARKET_SHARE_HOST:
        item.kind = "market"
    else:
        item.kind = "media"
    if item.kind in ("media", "market") and item.tags:
        item.media = " ".join(item.tags).removesuffix("新闻").strip() or None

    if page.answer_problem:
        item.problems.append(page.answer_problem)
    if not page.has_layout:
        item.problems.append("not a post page: no post layout (Jekyll renders a post so when it cannot read its front matter)")
    try:
        if item.share_url:
            item.info_code = infocode_from_url(item.share_url)
        elif item.kind == "sitenews":
            item.info_code = site_notice_key(item.name)
        else:
            item.info_code = infocode_from_name(item.name)
    except InfoCodeError as error:
        item.problems.append(f"no infoCode: {error}")

    item.digest = html.unescape(page.digest_html).strip() if page.digest_html is not None else None
    item.share_fetched_at = page.share_fetched_at
    if page.share_text is not None:
        item.share_text = page.share_text
        use_body(item, page.share_text, "share")
    else:
        use_body(item, page.body_html, "page")
    item.seen_urls = [("post", page.url)]
    item.seen_urls += [(kind, url) for kind, url in (("share", item.share_url), ("article", item.article_url)) if url]
    if page.share_text is not None and page.share_text_url:
        item.seen_urls.append(("json", page.share_text_url))
    return item


def use_body(item: PostItem, body_html: str, origin: str) -> None:
    """Make ``body_html`` the record's body, with what is read from it (text, source, editor, summary, hash)."""
    item.body_html, item.body_origin = body_html, origin
    item.body_text = text_of_html(body_html)
    item.source = source_of_body(body_html)
    item.editor = editor_of_text(item.body_text)
    item.summary = item.digest or item.body_text[:SUMMARY_LENGTH]
    item.content_hash = content_hash(item)


def take_share_text(item: PostItem, text: str, text_url: str, fetched_at: str) -> None:
    """The share host answered ``text`` at ``text_url``: it becomes the record's body, exactly as written."""
    item.share_text, item.share_status, item.share_detail, item.share_fetched_at = text, OK, None, fetched_at
    use_body(item, text, "share")
    item.seen_urls = [("json", text_url)]


class NormalizePipeline:
    """PostPage (what the spider read) → PostItem (typed, canonical fields)."""

    def process_item(self, item: PostPage | PostItem) -> PostItem:
        return normalize_post(item) if isinstance(item, PostPage) else item
