"""The SQLite store: posts upserted, rejects recorded, and one crawl_runs row per run."""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler

from crawler.items import PostItem
from pipelines.archive import Archive, archive_for
from pipelines.frontmatter import file_name_of
from pipelines.validate import RejectedItem

# crawl_runs column → the Scrapy stat it is read from.
RUN_COUNTS = {
    "requests": "downloader/request_count",
    "new": "finews/new",
    "updated": "finews/updated",
    "unchanged": "finews/unchanged",
    "rejected": "finews/rejected",
    "errors": "log_count/ERROR",
    "files_written": "finews/files_written",
}


class SqliteStorePipeline:
    def __init__(self, archive: Archive, crawler: Crawler) -> None:
        self.archive = archive
        self.crawler = crawler
        self.run_id: int | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SqliteStorePipeline:
        pipeline = cls(archive_for(crawler), crawler)
        crawler.signals.connect(pipeline.item_dropped, signal=signals.item_dropped)
        return pipeline

    def open_spider(self) -> None:
        self.run_id = self.archive.start_run(self.crawler.settings["FINEWS_SITE_URL"])
        self.crawler.stats.set_value("finews/run_id", self.run_id)

    def close_spider(self) -> None:
        stats = self.crawler.stats
        counts = {column: stats.get_value(stat, 0) for column, stat in RUN_COUNTS.items()}
        reason = stats.get_value("finish_reason", "finished")
        status = "finished" if reason == "finished" else ("interrupted" if reason == "shutdown" else "failed")
        self.archive.finish_run(self.run_id, status, counts)

    def process_item(self, item: PostItem) -> PostItem:
        self.archive.save_post(item, file_name_of(item))
        self.crawler.stats.inc_value(f"finews/{item.change}")
        return item

    def item_dropped(self, item: object, exception: BaseException) -> None:
        if isinstance(exception, RejectedItem):
            failed = exception.item
            self.archive.add_reject(self.run_id, failed.post_url, exception.reason, failed.raw_page)
            self.crawler.stats.inc_value("finews/rejected")

