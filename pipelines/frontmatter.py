"""The front-matter exporter: one Jekyll post file per archived article, in the site's own format."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.items import PostItem
from crawler.postfile import format_post_file, post_file_name
from pipelines.files import write_atomically

if TYPE_CHECKING:  # the writer is a pipeline, but ``finews export`` uses its functions without Scrapy
    from scrapy.crawler import Crawler

POSTS_DIR = "_posts"


class UnsafePathError(ValueError):
    """A file name that would land outside the posts folder."""


def _published_at(item: PostItem) -> datetime:
    assert item.published_at is not None  # ValidatePipeline rejects an item without a date
    return datetime.fromisoformat(item.published_at)


def file_name_of(item: PostItem) -> str:
    return post_file_name(_published_at(item), item.name)


def post_file_text(item: PostItem) -> str:
    return format_post_file(
        title=item.title,
        published_at=_published_at(item),
        category=item.category,
        tags=item.tags,
        body=item.body_html,
        link=None if item.kind == "sitenews" else (item.share_url or item.article_url or ""),
        digest=item.digest,
        back_link_lines=item.back_link_lines,
    )


def path_inside(directory: Path, file_name: str) -> Path:
    """``directory/file_name``, refused unless it is a plain file name directly inside ``directory``."""
    path = directory / file_name
    if Path(file_name).name != file_name or file_name in ("", ".", "..") or "\0" in file_name:
        raise UnsafePathError(f"refusing file name {file_name[:80]!r}: not a plain name inside {directory}")
    return path


def _holds(path: Path, text: str) -> bool:
    """Is ``text`` already the file at ``path``?"""
    try:
        return path.read_bytes() == text.encode("utf-8")
    except FileNotFoundError:
        return False


class FrontMatterWriter:
    def __init__(self, posts_dir: Path, crawler: Crawler) -> None:
        self.posts_dir = posts_dir
        self.crawler = crawler
        # The emnews posts' files this session wrote: an article's file that moves to its outlet post's name
        # after its emnews twin's was written is one file written, not two. Only a file of an emnews post ever
        # moves, so only those are remembered, each until it moves.
        self.emnews_written: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontMatterWriter:
        return cls(Path(crawler.settings["FINEWS_OUTPUT"]) / POSTS_DIR, crawler)

    def open_spider(self) -> None:
        self.posts_dir.mkdir(parents=True, exist_ok=True)

    def process_item(self, item: PostItem) -> PostItem:
        file_name = file_name_of(item)
        path = path_inside(self.posts_dir, file_name)
        moved_from = item.previous_file if item.previous_file and item.previous_file != file_name else None
        if item.change != "unchanged" or not path.exists():
            text = post_file_text(item)
            # A record that changed in what its file does not show (an outlet post's, by its emnews twin's
            # digest) keeps its file as it is: the files written are the files that changed.
            if not _holds(path, text):
                write_atomically(path, text)
                if item.kind == "emnews":
                    self.emnews_written.add(file_name)
                if not (moved_from and moved_from in self.emnews_written):
                    self.crawler.stats.inc_value("finews/files_written")
        if moved_from:
            # The article's file moved (its outlet post arrived after its emnews twin): one file per record.
            path_inside(self.posts_dir, moved_from).unlink(missing_ok=True)
            self.emnews_written.discard(moved_from)
        return item
