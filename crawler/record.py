"""The archived record of a post, put together from what was read: its post page and its share text.

``post_item`` is where a crawl makes a ``PostItem``; ``take_share_text`` where ``finews share`` gives an
archived one its exact text. Neither reads a page: crawler/pages does that.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler import sharestatus
from crawler.items import PostItem
from crawler.pages.body import PAGE_HTML_ORIGIN, PAGE_SOURCE_ORIGIN, SHARE_ORIGIN, use_body
from crawler.pages.inversion import invert_body
from crawler.pages.post import PostPageItem


@dataclass
class ShareOutcome:
    """What became of a post's share text (crawler/sharetext.py): its ``share_status``, the failure's words,
    when the request was made, and the text with the URL it came from when one was fetched."""

    status: str = sharestatus.NOT_FETCHED
    detail: str | None = None
    fetched_at: str | None = None
    text: str | None = None
    text_url: str | None = None


def post_item(page: PostPageItem, share: ShareOutcome, raw_page: bytes = b"") -> PostItem:
    """The record of a post read from the site: the page's fields, and its body from the share text when
    one was fetched (exactly as written), else the source the page's body renders from when one does
    (the page rendered as kramdown renders it), else the page's HTML."""
    item = PostItem(
        post_url=page.post_url, info_code=page.info_code, name=page.name, title=page.title,
        published_at=page.published_at, category=page.category, tags=list(page.tags), kind=page.kind,
        media=page.media, digest=page.digest, share_url=page.share_url, article_url=page.article_url,
        back_link_lines=page.back_link_lines, share_status=share.status, share_detail=share.detail,
        share_fetched_at=share.fetched_at, share_text=share.text, raw_page=raw_page, problems=list(page.problems),
    )
    if share.text is not None:
        use_body(item, share.text, SHARE_ORIGIN)
    elif (source := invert_body(page.body_html, page.kind)) is not None:
        use_body(item, source, PAGE_SOURCE_ORIGIN)
    else:
        use_body(item, page.body_html, PAGE_HTML_ORIGIN)
    item.seen_urls = [("post", page.post_url)]
    item.seen_urls += [(kind, url) for kind, url in (("share", page.share_url), ("article", page.article_url)) if url]
    if share.text is not None and share.text_url:
        item.seen_urls.append(("json", share.text_url))
    return item


def take_share_text(item: PostItem, text: str, text_url: str, fetched_at: str) -> None:
    """The share host answered ``text`` at ``text_url`` for an archived record: it becomes the body, exactly
    as written, and the record was seen under that URL alone (``finews share`` did not visit the site)."""
    item.share_text, item.share_status, item.share_detail, item.share_fetched_at = text, sharestatus.OK, None, fetched_at
    use_body(item, text, SHARE_ORIGIN)
    item.seen_urls = [("json", text_url)]
