"""The output folder as every command meets it: the archive opened, ``_posts`` mirrored, errors in one line.

Free of Scrapy, so that the commands that only read or rewrite the archive (``status``, ``export``,
``search``) start fast; crawler/runner.py builds the crawls on it.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from crawler.faults import shorten, storage_fault
from pipelines.archive import ARCHIVE_FILE, Archive
from pipelines.files import PARTIAL_FILE_PREFIX
from pipelines.frontmatter import POSTS_DIR
from pipelines.postsdir import mirror_posts
from pipelines.schema import SchemaError

EXIT_OK = 0
EXIT_FAILED = 1
# EX_TEMPFAIL (sysexits.h): another crawl holds the output; cron and systemd may simply try again later.
EXIT_LOCKED = 75
# Temporary files of this project's writers in the output folder itself (export --format jsonl's, the
# writability check's): a kill can leave one, which the next command holding the lock removes.
PARTIAL_OUTPUT_FILES = (f"{PARTIAL_FILE_PREFIX}*", ".write-check-*")
# Space set aside while a command runs, given back before it records its outcome: a run stopped by a full
# disk can still write ``failed`` and its reason into the archive (a page of SQLite's WAL, a few KB).
SPACE_RESERVE_FILE = ".space-reserve"
SPACE_RESERVE_BYTES = 256 * 1024


class CrawlError(RuntimeError):
    """A command that could not start or complete (the site unreachable, the disk full…); the message is
    one line for the user."""


def check_output_writable(output: Path) -> None:
    try:
        (output / POSTS_DIR).mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output, prefix=".write-check-"):
            pass
    except OSError as error:
        raise CrawlError(f"output {output} is not writable: {error.strerror or error}") from None


def storage_error(error: OSError | sqlite3.Error, output: Path) -> CrawlError:
    """The one line for an error of the output's storage (disk full, read-only…), or of its archive."""
    reason = storage_fault(error, output / ARCHIVE_FILE)
    if reason is None:
        where = getattr(error, "filename", None) or output / ARCHIVE_FILE
        reason = shorten(f"{where}: {getattr(error, 'strerror', None) or error}")
    return CrawlError(reason)


def open_archive(output: Path) -> Archive:
    try:
        return Archive.open(output / ARCHIVE_FILE)
    except SchemaError as error:
        raise CrawlError(str(error)) from None
    except sqlite3.DatabaseError as error:
        if storage_fault(error) is not None:
            raise storage_error(error, output) from None
        raise CrawlError(f"archive {output / ARCHIVE_FILE} cannot be opened: {error}") from None
    except OSError as error:
        raise storage_error(error, output) from None


def mirror_output(output: Path) -> None:
    """Make ``_posts`` hold one file per archived post and nothing else, and remove what killed commands
    left in the output folder. Only called holding the lock, so no temporary file is live."""
    archive = open_archive(output)
    try:
        for pattern in PARTIAL_OUTPUT_FILES:
            for path in output.glob(pattern):
                path.unlink(missing_ok=True)
        mirror_posts(archive.db, output / POSTS_DIR)
    except (OSError, sqlite3.Error) as error:
        raise storage_error(error, output) from None
    finally:
        archive.close()


def reserve_space(output: Path) -> None:
    """Set SPACE_RESERVE_BYTES aside in ``output`` (really allocated: zeros written, not a sparse file).
    Raises CrawlError when the disk has not even that: the run stops before it starts."""
    try:
        with open(output / SPACE_RESERVE_FILE, "wb") as reserve:
            reserve.write(bytes(SPACE_RESERVE_BYTES))
    except OSError as error:
        (output / SPACE_RESERVE_FILE).unlink(missing_ok=True)
        raise storage_error(error, output) from None


def release_space(output: Path) -> None:
    """Give the reserve back, so that the outcome of a run the disk stopped can be recorded."""
    (output / SPACE_RESERVE_FILE).unlink(missing_ok=True)

