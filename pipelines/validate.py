"""Validation: a post the archive cannot key, date or title becomes a reject, never a crash or a silent drop."""

from __future__ import annotations

import re

from scrapy.exceptions import DropItem

from crawler.items import FetchFailure, PostItem

MAX_TITLE_LENGTH = 1000
# A category ends up in a URL line of the exported file; it must stay one plain path segment.
_USABLE_CATEGORY = re.compile(r"^(?!\.)[^/\\\x00-\x1f\x7f<>\[\]]{1,200}$")
# The name becomes the file name under _posts/: a plain token, never a path.
_USABLE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class RejectedItem(DropItem):
    """A post that cannot be archived; the store records it in ``rejects`` with this reason."""

    def __init__(self, reason: str, item: PostItem | FetchFailure) -> None:
        super().__init__(reason)
        self.reason = reason
        self.item = item


def rejection_reasons(item: PostItem) -> list[str]:
    reasons = list(item.problems)
    if not _USABLE_NAME.match(item.name):
        reasons.append(f"unusable post name {item.name[:80]!r}: not letters, digits, '-' or '_'")
    if not item.title.strip():
        reasons.append("missing title")
    elif len(item.title) > MAX_TITLE_LENGTH:
        reasons.append(f"title longer than {MAX_TITLE_LENGTH} characters")
    if not item.published_at:
        reasons.append("missing or unusable date")
    if not _USABLE_CATEGORY.match(item.category):
        reasons.append(f"unusable category {item.category[:80]!r}")
    return reasons


class LeftPending(DropItem):
    """A post that could not be fetched this time for a reason that is not the page's (no answer, 5xx):
    not archived, not rejected; the store keeps it in the frontier."""

    def __init__(self, item: FetchFailure) -> None:
        super().__init__(f"not archived this run: {item.reason}")
        self.item = item


class ValidatePipeline:
    def process_item(self, item: PostItem | FetchFailure) -> PostItem:
        if isinstance(item, FetchFailure):
            if item.transient:
                raise LeftPending(item)
            raise RejectedItem(item.reason, item)
        reasons = rejection_reasons(item)
        if reasons:
            raise RejectedItem("; ".join(reasons), item)
        return item
