"""Log lines for dropped items that name the page and the reason, not the whole item (raw page included)."""

from __future__ import annotations

import logging

from scrapy.logformatter import LogFormatter, LogFormatterResult

from crawler.faults import shorten, storage_fault


class FinewsLogFormatter(LogFormatter):
    def dropped(self, item, exception, response, spider) -> LogFormatterResult:  # untyped: Scrapy's hook
        return {
            "level": logging.INFO,
            "msg": "Not archived %(url)s: %(reason)s",
            "args": {"url": getattr(item, "post_url", "?"), "reason": shorten(str(exception))},
        }

    def item_error(self, item, exception, response, spider) -> LogFormatterResult:  # untyped: Scrapy's hook
        """Scrapy's own line holds the item's repr, page bytes included (megabytes under cron): the URL and
        the error only. A storage error is the run's fault, said once by the runner: not logged per item."""
        return {
            "level": logging.INFO if storage_fault(exception) else logging.ERROR,
            "msg": "Error archiving %(url)s: %(error)s",
            "args": {
                "url": getattr(item, "post_url", "?"), "error": shorten(f"{type(exception).__name__}: {exception}"),
            },
        }

    def scraped(self, item, response, spider) -> LogFormatterResult:  # untyped: Scrapy's hook
        return {
            "level": logging.DEBUG,
            "msg": "Archived %(url)s (%(change)s)",
            "args": {"url": getattr(item, "post_url", "?"), "change": getattr(item, "change", "")},
        }
