"""Dedupe by infoCode: a post reached again, or the same article by another route, merges into one record.

The merge rule, when an article is published both as an outlet post and as an emnews post: the
outlet post's record wins (it names the outlet and the source, and its file is the article's file);
the emnews route adds what only it has, the digest and the East Money article link. A refetch of
the same route replaces the record, but keeps what another route contributed (digest, links), and
an exact body (from the share host) is never replaced by a rendered-page body when the share host
failed this time: the share text, its status and its time travel with the exact body. The URLs the
article was seen under this time are the incoming reading's (the archive keeps every one in post_urls).
Field by field, with the share host's own route (``finews share``): docs/routes.md.
"""

from __future__ import annotations

from scrapy.crawler import Crawler

from crawler.items import PostItem
from crawler.pages.body import SHARE_ORIGIN, derived_fields
from pipelines.archive import Archive, change_of, item_from_row
from pipelines.crawl_archive import archive_for

_OUTLET_KINDS = ("media", "market")
_ROUTE_FIELDS = ("digest", "article_url", "share_url")
_EXACT_BODY_FIELDS = (
    "body_html", "body_origin", "body_text", "source", "editor", "share_status", "share_text", "share_fetched_at",
    "share_detail",
)


def merge_routes(existing: PostItem | None, item: PostItem) -> PostItem:
    """The one record for an infoCode, from what the archive holds and what was just read."""
    if existing is None:
        return item
    if existing.kind in _OUTLET_KINDS and item.kind == "emnews":
        merged, other = existing, item
    else:
        merged, other = item, existing
    for name in _ROUTE_FIELDS:
        if getattr(merged, name) is None:
            setattr(merged, name, getattr(other, name))
    if merged.body_origin != SHARE_ORIGIN and other.body_origin == SHARE_ORIGIN:
        for name in _EXACT_BODY_FIELDS:
            setattr(merged, name, getattr(other, name))
    # From the merged body and digest: either may have come from the other route.
    derived_fields(merged)
    merged.seen_urls, merged.from_site = list(item.seen_urls), item.from_site
    return merged


class DedupePipeline:
    def __init__(self, archive: Archive) -> None:
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> DedupePipeline:
        return cls(archive_for(crawler))

    def process_item(self, item: PostItem) -> PostItem:
        assert item.info_code is not None  # ValidatePipeline, before this, rejects an item without one
        row = self.archive.get_post(item.info_code)
        existing = item_from_row(row) if row else None
        merged = merge_routes(existing, item)
        merged.raw_page = b""
        merged.change = change_of(row, merged.content_hash)
        if row is not None:
            merged.previous_file = row["file_name"]
        return merged
