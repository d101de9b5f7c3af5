"""The output folder as every command meets it: the archive opened, ``_posts`` mirrored, errors in one line.

Free of Scrapy, so that the commands that only read or rewrite the archive (``status``, ``export``,
``search``) start fast; crawler/runner.py builds the crawls on it.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path

from crawler.faults import shorten, storage_fault
from crawler.lock import LOCK_FILE
from pipelines.archive import ARCHIVE_FILE, Archive
from pipelines.datasette import METADATA_FILE
from pipelines.files import PARTIAL_FILE_PREFIX, write_atomically
from pipelines.frontmatter import POSTS_DIR
from pipelines.postsdir import mirror_posts
from pipelines.public import JSONL_FILE
from pipelines.schema import SchemaError
from pipelines.warc import WARC_DIR

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
# Scrapy's JOBDIR of each run: OUTPUT/jobs/run-<id>.
JOBS_DIR = "jobs"
# The output folder is a Jekyll source too (`jekyll build -s OUTPUT`): Jekyll publishes every file whose name
# does not start with `_` or `.`, so this configuration keeps the archive's own files out of the site.
JEKYLL_CONFIG_FILE = "_config.yml"
JEKYLL_CONFIG_MARK = "# Written by finews"
# README.md: the project's own output/README.md, in the default output folder.
_NOT_PUBLISHED = (f"{ARCHIVE_FILE}*", LOCK_FILE, JSONL_FILE, JOBS_DIR, METADATA_FILE, WARC_DIR, "*.wacz", "README.md")
JEKYLL_CONFIG = "\n".join([
    f"{JEKYLL_CONFIG_MARK}, which rewrites it while this line is here (delete the line to keep your own",
    "# edits): `jekyll build -s OUTPUT` then publishes the posts in _posts and none of the archive's files.",
    "# The site's own time zone: a post's URL holds its publication day in Asia/Shanghai, as on the site.",
    "timezone: Asia/Shanghai",
    "exclude:",
    *(f'  - "{name}"' for name in _NOT_PUBLISHED),
    "",
])


class CrawlError(RuntimeError):
    """A command that could not start or complete (the site unreachable, the disk full…); the message is
    one line for the user."""


def make_output_folder(output: Path) -> None:
    """Create the output folder if it is missing, never the folders above it: a path mistyped in a crontab
    must not quietly start a second archive somewhere new."""
    try:
        output.mkdir(exist_ok=True)
    except FileNotFoundError:
        missing = [parent for parent in output.absolute().parents if not parent.exists()]
        raise CrawlError(f"output {output}: its parent folder {missing[-1] if missing else output.parent} "
                         "does not exist") from None


def check_output_writable(output: Path) -> None:
    try:
        make_output_folder(output)
        (output / POSTS_DIR).mkdir(exist_ok=True)
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


def write_jekyll_config(output: Path) -> None:
    """Write JEKYLL_CONFIG into ``output`` unless it holds a _config.yml of the operator's own (one whose first
    line is not finews's mark), which is never touched. Raises OSError when it cannot be read or written."""
    path = output / JEKYLL_CONFIG_FILE
    try:
        current = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        current = None
    if current is None or (current.startswith(JEKYLL_CONFIG_MARK) and current != JEKYLL_CONFIG):
        write_atomically(path, JEKYLL_CONFIG)


def mirror_output(output: Path) -> None:
    """Make ``_posts`` hold one file per archived post and nothing else, remove what killed commands left in the
    output folder, and keep the folder safe to build with Jekyll. Only called holding the lock, so no temporary
    file is live."""
    archive = open_archive(output)
    try:
        for pattern in PARTIAL_OUTPUT_FILES:
            for path in output.glob(pattern):
                path.unlink(missing_ok=True)
        mirror_posts(archive.db, output / POSTS_DIR)
        write_jekyll_config(output)
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

