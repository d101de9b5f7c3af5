"""The SQLite archive: opening it (WAL, migrations) and the few reads and writes the pipelines make."""

from __future__ import annotations

import json
import weakref
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils
from scrapy import signals
from scrapy.crawler import Crawler

from crawler.items import PostItem
from pipelines.schema import CRAWL_RUNS, POSTS, REJECTS, migrate

ARCHIVE_FILE = "archive.db"
BUSY_TIMEOUT_MS = 10_000
_POST_COLUMNS = tuple(column.name for column in POSTS.columns)


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Archive:
    """One connection to ``archive.db``; every write is its own transaction."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    @classmethod
    def open(cls, path: Path) -> Archive:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.enable_wal()
        migrate(db)
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def get_post(self, info_code: str) -> dict[str, Any] | None:
        rows = list(self.db[POSTS.name].rows_where("info_code = ?", [info_code], limit=1))
        return rows[0] if rows else None

    def save_post(self, item: PostItem, file_name: str) -> None:
        row = {key: value for key, value in asdict(item).items() if key in _POST_COLUMNS}
        row["tags"] = json.dumps(item.tags, ensure_ascii=False)
        row["file_name"] = file_name
        now = utc_now()
        row["last_seen_at"] = now
        with self.db.conn:
            existing = self.get_post(item.info_code)
            row["first_seen_at"] = existing["first_seen_at"] if existing else now
            changed = existing is None or existing["content_hash"] != item.content_hash
            row["updated_at"] = now if changed else existing["updated_at"]
            self.db[POSTS.name].upsert(row, pk=POSTS.pk)

    def add_reject(self, run_id: int | None, url: str, reason: str, raw_page: bytes) -> None:
        """One row per URL: a page rejected by every scheduled run stays one row, counted."""
        now = utc_now()
        with self.db.conn:
            self.db.execute(
                f"""INSERT INTO {REJECTS.name} (url, reason, raw_page, run_id, times, first_rejected_at, last_rejected_at)
                VALUES (?, ?, ?, ?, 1, ?, ?)
                ON CONFLICT(url) DO UPDATE SET reason = excluded.reason, raw_page = excluded.raw_page,
                    run_id = excluded.run_id, times = times + 1, last_rejected_at = excluded.last_rejected_at""",
                [url, reason, raw_page, run_id, now, now],
            )

    def start_run(self, site: str) -> int:
        with self.db.conn:
            table = self.db[CRAWL_RUNS.name].insert({"site": site, "started_at": utc_now(), "status": "running"})
        return table.last_pk

    def finish_run(self, run_id: int, status: str, counts: dict[str, int], exit_code: int | None = None) -> None:
        with self.db.conn:
            self.db[CRAWL_RUNS.name].update(
                run_id, {"finished_at": utc_now(), "status": status, "exit_code": exit_code, **counts}
            )

    def run(self, run_id: int) -> dict[str, Any]:
        return self.db[CRAWL_RUNS.name].get(run_id)


_OPEN: weakref.WeakKeyDictionary[Crawler, Archive] = weakref.WeakKeyDictionary()


def archive_for(crawler: Crawler) -> Archive:
    """The crawler's one archive connection, shared by its pipelines and closed when the engine stops."""
    if crawler not in _OPEN:
        archive = Archive.open(Path(crawler.settings["FINEWS_OUTPUT"]) / ARCHIVE_FILE)
        _OPEN[crawler] = archive

        def close() -> None:
            _OPEN.pop(crawler, None)
            archive.close()

        crawler.signals.connect(close, signal=signals.engine_stopped, weak=False)
    return _OPEN[crawler]
