"""What is read from an article body, whichever page gave it (the share host's text or the post page's).

``use_body`` is the one place a ``PostItem`` gets its body and what follows from it; ``derived_fields``
the one place its summary and content hash are made.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from typing import TYPE_CHECKING

from parsel import Selector

if TYPE_CHECKING:
    from crawler.items import PostItem

SUMMARY_LENGTH = 120
# Where a body came from (``posts.body_origin``): the share host's text, as written; the post page's body
# turned back into its source (crawler/pages/inversion.py), exact as far as rendering it again gives the
# page; the post page's HTML, when no source renders back to it.
SHARE_ORIGIN = "share"
PAGE_SOURCE_ORIGIN = "page-source"
PAGE_HTML_ORIGIN = "page-html"

_SOURCE = re.compile(r"<p class=\"em_media\">[（(]文章来源[：:](?P<source>.*?)[）)]</p>", re.S)
_EDITOR = re.compile(r"[（(][^（）()]{0,30}?编辑(?P<editor>[^（）()\s：:]{1,12})[）)]")
_TAG = re.compile(r"<[^>]*>")
_BLOCK_END = re.compile(r"(?i)(</(?:p|div|h\d|li|tr|table|blockquote|center)>|<br\s*/?>)")
# Control characters carry no text; an HTML parser drops some of them anyway, so none are kept.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_WHITESPACE = re.compile(r"\s+")


def text_of_html(fragment: str) -> str:
    """The text a reader sees: one line per block, whitespace inside a block collapsed, entities decoded."""
    if not fragment.strip():
        return ""
    # Source line breaks are spaces in HTML; only block ends break lines.
    marked = _BLOCK_END.sub("\\1\n", _WHITESPACE.sub(" ", CONTROL_CHARACTERS.sub("", fragment)))
    text = Selector(text=f"<div>{marked}</div>").xpath("string(//body/div)").get("")
    blocks = (" ".join(block.split()) for block in text.split("\n"))
    return "\n".join(block for block in blocks if block)


def source_of_body(body_html: str) -> str | None:
    """The 文章来源 line's text, nested markup stripped (``上海证券报``)."""
    match = _SOURCE.search(body_html)
    if not match:
        return None
    return html.unescape(_TAG.sub("", match["source"])).strip() or None


def editor_of_text(body_text: str) -> str | None:
    """The editor a note such as ``(津云新闻编辑刘颖)`` names (``刘颖``)."""
    match = _EDITOR.search(body_text)
    return match["editor"] if match else None


def content_hash(item: PostItem) -> str:
    """sha256 over every field the exported file is made of, so a changed article changes the hash."""
    material = [item.title, item.published_at, item.category, item.tags, item.digest, item.body_html,
                item.share_url or item.article_url, item.back_link_lines]
    return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode("utf-8")).hexdigest()


def use_body(item: PostItem, body_html: str, origin: str) -> None:
    """Make ``body_html`` the record's body, with what is read from it (text, source, editor, summary, hash)."""
    item.body_html, item.body_origin = body_html, origin
    item.body_text = text_of_html(body_html)
    item.source = source_of_body(body_html)
    item.editor = editor_of_text(item.body_text)
    derived_fields(item)


def derived_fields(item: PostItem) -> None:
    """The summary and the content hash, from the record's other fields (after they change: a body taken,
    a merge with the article's other route)."""
    item.summary = item.digest or item.body_text[:SUMMARY_LENGTH]
    item.content_hash = content_hash(item)
