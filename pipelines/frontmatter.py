"""The front-matter exporter: one Jekyll post file per archived article, in the site's own format."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.items import PostItem
from crawler.postfile import format_post_file, post_file_name

if TYPE_CHECKING:  # the writer is a pipeline, but ``finews export`` uses its functions without Scrapy
    from scrapy.crawler import Crawler

POSTS_DIR = "_posts"
# write_atomically's temporary files: a kill mid-write can leave one, which the next command removes.
PARTIAL_FILE_PREFIX = ".tmp-"


class UnsafePathError(ValueError):
    """A file name that would land outside the posts folder."""


def file_name_of(item: PostItem) -> str:
    return post_file_name(datetime.fromisoformat(item.published_at), item.name)


def post_file_text(item: PostItem) -> str:
    return format_post_file(
        title=item.title,
        published_at=datetime.fromisoformat(item.published_at),
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


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never a part: write a temporary file, then rename it.

    No fsync: a killed process loses nothing the kernel has, and the files are derived from the
    archive, which is the record (`finews export` rewrites any file that differs from it, after a
    power loss too); an fsync per file cost more than the file's whole pipeline (BENCHMARKS.md).
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=PARTIAL_FILE_PREFIX, suffix=".md")
    try:
        try:
            # Plain os.write: a buffered text file object per post file cost a tenth of an export.
            unwritten = memoryview(text.encode("utf-8"))
            while unwritten:
                unwritten = unwritten[os.write(handle, unwritten):]
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        if error.filename is None:  # os.write names no file: the error's one line must
            error.filename = str(path)
        raise
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
        moved = bool(item.previous_file) and item.previous_file != file_name
        if item.change != "unchanged" or not path.exists():
            text = post_file_text(item)
            # A record that changed in what its file does not show (an outlet post's, by its emnews twin's
            # digest) keeps its file as it is: the files written are the files that changed.
            if not _holds(path, text):
                write_atomically(path, text)
                if item.kind == "emnews":
                    self.emnews_written.add(file_name)
                if not (moved and item.previous_file in self.emnews_written):
                    self.crawler.stats.inc_value("finews/files_written")
        if moved:
            # The article's file moved (its outlet post arrived after its emnews twin): one file per record.
            path_inside(self.posts_dir, item.previous_file).unlink(missing_ok=True)
            self.emnews_written.discard(item.previous_file)
        return item
