"""Log lines for dropped items that name the page and the reason, not the whole item (raw page included)."""

from __future__ import annotations

import logging

from scrapy.logformatter import LogFormatter, LogFormatterResult


class FinewsLogFormatter(LogFormatter):
    def dropped(self, item, exception, response, spider) -> LogFormatterResult:  # noqa: ANN001 - Scrapy's hook
        return {
            "level": logging.INFO,
            "msg": "Rejected %(url)s: %(reason)s",
            "args": {"url": getattr(item, "post_url", "?"), "reason": exception},
        }

    def scraped(self, item, response, spider) -> LogFormatterResult:  # noqa: ANN001 - Scrapy's hook
        return {
            "level": logging.DEBUG,
            "msg": "Archived %(url)s (%(change)s)",
            "args": {"url": getattr(item, "post_url", "?"), "change": getattr(item, "change", "")},
        }
