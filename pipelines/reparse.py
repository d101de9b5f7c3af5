"""A reparse's pipeline step: what the stored pages now give differently from the archived record.

On only in a reparse (``FINEWS_REPLAY``), between dedupe (which has merged the page's new reading with
the archived record) and the store (which overwrites that record). Each rebuilt post is announced with
the ``post_reparsed`` signal: its change and, for an updated one, the fields that changed.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from crawler.items import PostItem
from crawler.sharestatus import NOT_FETCHED
from pipelines.archive import Archive, item_from_row
from pipelines.crawl_archive import archive_for
from pipelines.schema import POSTS
from pipelines.validate import RejectedItem

# Signal: a post was rebuilt from stored pages (kwargs: item, fields).
post_reparsed = object()

# Derived from the others (content_hash), or not what the article says (when its text was asked for).
_NOT_COMPARED = ("content_hash", "share_fetched_at")
# What the share host last said of a post, kept as archived when the reparse has no answer of its to read.
_SHARE_FIELDS = ("share_status", "share_detail", "share_fetched_at")
COMPARED_FIELDS = tuple(
    field.name for field in fields(PostItem)
    if field.name in {column.name for column in POSTS.columns} and field.name not in _NOT_COMPARED
)


def changed_fields(row: dict[str, Any] | None, item: PostItem) -> list[str]:
    """The stored fields in which ``item`` differs from the archived ``row`` (none for a new post)."""
    if row is None:
        return []
    archived = item_from_row(row)
    return [name for name in COMPARED_FIELDS if getattr(archived, name) != getattr(item, name)]


class ReparsePipeline:
    def __init__(self, archive: Archive, crawler: Crawler) -> None:
        self.archive = archive
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ReparsePipeline:
        if not crawler.settings.getbool("FINEWS_REPLAY"):
            raise NotConfigured  # a crawl (no message: Scrapy would log it as a warning on every run)
        return cls(archive_for(crawler), crawler)

    def process_item(self, item: PostItem) -> PostItem:
        # The site was not looked at: an archived post keeps its last_seen_*, and a frontier row stays for
        # the next crawl (the archive treats a record not read from the site so).
        item.from_site = False
        assert item.info_code is not None  # ValidatePipeline, before this, rejects an item without one
        row = self.archive.get_post(item.info_code)
        if row is not None and item.share_status == NOT_FETCHED:
            # Its share text is not among the stored pages: the reparse asked the share host nothing, so the
            # post keeps what the share host last said of it.
            for name in _SHARE_FIELDS:
                setattr(item, name, row[name])
        changed = changed_fields(row, item) if item.change == "updated" else []
        self.crawler.signals.send_catch_log(post_reparsed, item=item, fields=changed)
        return item


class ReparseReport:
    """What a reparse did, post by post, gathered from the signals of the pipelines (``post_reparsed``, and
    Scrapy's ``item_dropped`` for the pages that now give a reject)."""

    def __init__(self) -> None:
        self.updated: list[tuple[str, str, tuple[str, ...]]] = []  # (info_code, title, changed fields)
        self.new: list[tuple[str, str]] = []  # (info_code, title)
        self.rejected: list[tuple[str, str]] = []  # (post URL, reason)

    def post_reparsed(self, item: PostItem, fields: list[str]) -> None:
        if item.change == "new":
            self.new.append((item.info_code or "", item.title))
        elif item.change == "updated":
            self.updated.append((item.info_code or "", item.title, tuple(fields)))

    def item_dropped(self, item: object, exception: BaseException) -> None:
        if isinstance(exception, RejectedItem):
            self.rejected.append((exception.item.post_url, exception.reason))

    def lines(self) -> list[str]:
        """One line per changed post: ``updated`` (with the fields), ``new``, ``rejected`` (with the reason)."""
        lines = [f"updated  {code}  {', '.join(fields)}  {title}" for code, title, fields in sorted(self.updated)]
        lines += [f"new      {code}  {title}" for code, title in sorted(self.new)]
        lines += [f"rejected {url}  {reason}" for url, reason in sorted(self.rejected)]
        return lines
