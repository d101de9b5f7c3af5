"""The SQLite archive: opening it (WAL, migrations) and the few reads and writes the crawl makes.

Every write is one transaction (``db.atomic()``): a post's row, the revision it replaces and its run's
count commit together or not at all, so a crawl killed at any instant leaves a consistent archive.
A crawl groups its writes (``group_commits``): each is then a savepoint inside one transaction that is
committed every ``FINEWS_COMMIT_SECONDS``, so a kill loses the last fraction of a second's writes,
each whole, and a crawl pays for a few commits a second rather than several per post. Counts kept
outside the archive (Scrapy's stats) join each group just before it commits (``before_commit``).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from crawler.items import PostItem
from crawler.pages.body import SHARE_ORIGIN
from pipelines.schema import (
    CRAWL_RUNS,
    FRONTIER,
    LISTED_POSTS,
    PAGES,
    POST_REVISIONS,
    POST_URLS,
    POSTS,
    REJECTS,
    migrate,
)
from pipelines.sqlite_utils_lean import sqlite_utils
from pipelines.warc import (
    DEFAULT_MAX_BYTES,
    WARC_DIR,
    Capture,
    FetchedPage,
    WarcError,
    WarcFiles,
    payload_digest,
    read_capture,
)

ARCHIVE_FILE = "archive.db"
BUSY_TIMEOUT_MS = 10_000
# SQLite's page size for a new archive: a post's row (2–3 KB) left a third of a 4 KB page empty; at 16 KB
# a 10,000-post archive.db is 14 % smaller (BENCHMARKS.md, "Session 10").
PAGE_SIZE = 16384
_POST_COLUMNS = tuple(column.name for column in POSTS.columns if not column.generated)
# What the share host last said of a post, compared as a whole: a change of any part is news to store.
_SHARE_STATE = ("body_origin", "share_status", "share_detail", "share_text")
# The crawl_runs counts; each is a sum over the run's sessions (a resumed run adds to them).
RUN_COUNTS = (
    "requests", "new", "updated", "merged", "unchanged", "skipped_known", "skipped_rejected", "rejected", "errors",
    "files_written",
)
# What the run's new posts carried, counted as each is archived (so exact across resumes and kills):
# ``finews check`` compares each share with earlier runs' to see the parser stop fitting the site.
COVERAGE_COUNTS = (
    "new_outlet", "new_with_source", "new_with_editor", "new_with_body", "new_shareable", "new_body_from_page",
)
# Also summed over the run's sessions, but not a count.
RUNNING_SECONDS = "running_seconds"
RUN_STATUSES = ("running", "finished", "interrupted", "failed")
MODES = ("incremental", "full", "share", "reparse")
# The modes of ``finews crawl`` runs, the only ones ``finews crawl --resume`` continues.
CRAWL_MODES = ("incremental", "full")
# The mode of a `finews reparse` run: it rebuilds posts from stored pages and is never resumed as a crawl.
REPARSE_MODE = "reparse"
# One row per URL, pointing at its latest capture; a stored successful answer outlives later error answers (a
# post the site has dropped answers 404, and the archive keeps the page it had; the 404 is in the WARC file).
SAVE_PAGE_SQL = f"""INSERT INTO {PAGES.name} (url, status, callback, fetched_at, run_id, size, digest, warc_file,
        warc_offset, warc_length, warc_date)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT(url) DO UPDATE SET status = excluded.status, callback = excluded.callback,
        fetched_at = excluded.fetched_at, run_id = excluded.run_id, size = excluded.size, digest = excluded.digest,
        warc_file = excluded.warc_file, warc_offset = excluded.warc_offset, warc_length = excluded.warc_length,
        warc_date = excluded.warc_date, headers = NULL, body = NULL
    WHERE excluded.status BETWEEN 200 AND 299 OR {PAGES.name}.status NOT BETWEEN 200 AND 299"""
LAST_CAPTURE_SQL = f"""SELECT status, digest, warc_file, warc_offset, warc_length, warc_date FROM {PAGES.name}
    WHERE url = ?"""
# Asked once per listed post: all must stay index lookups however large the archive grows.
MARK_SEEN_SQL = f"UPDATE {POSTS.name} SET last_seen_at = ?, last_seen_run = ? WHERE info_code = ? OR name = ?"
# A post is known when its own page was archived: its record carries its name, or (an emnews twin merged into
# its outlet post's record) its URL is among the record's post URLs. Its twin's being archived is not enough:
# then the record lacks what only this page has (an outlet post's media and file name).
OWN_PAGE_ARCHIVED_SQL = f"""SELECT EXISTS (SELECT 1 FROM {POSTS.name} WHERE name = ?)
    OR EXISTS (SELECT 1 FROM {POST_URLS.name} WHERE url = ? AND kind = 'post')"""
READ_REJECT_SQL = f"SELECT count(*) FROM {REJECTS.name} WHERE post_name = ? AND page_received = 1"
# Claims a listed post for a run; changes no row when that run already accounted for it (an earlier session of it).
LIST_POST_SQL = f"""INSERT INTO {LISTED_POSTS.name} (name, run_id) VALUES (?, ?)
    ON CONFLICT(name) DO UPDATE SET run_id = excluded.run_id WHERE {LISTED_POSTS.name}.run_id IS NOT excluded.run_id"""
# Is one of these post page URLs not yet among an archived article's? Then the page is its other route.
OTHER_ROUTE_SQL = f"SELECT count(*) FROM {POST_URLS.name} WHERE info_code = ? AND kind = 'post' AND url = ?"


@lru_cache(maxsize=32)
def upsert_sql(table: str, pk: tuple[str, ...], columns: tuple[str, ...]) -> str:
    """``INSERT … ON CONFLICT DO UPDATE`` of ``columns``: what sqlite-utils' upsert runs, without the table
    introspection it repeats on every call (a third of the store's time per post, BENCHMARKS.md)."""
    names = ", ".join(f"[{column}]" for column in columns)
    marks = ", ".join("?" for _column in columns)
    updates = ", ".join(f"[{column}] = excluded.[{column}]" for column in columns if column not in pk)
    conflict = ", ".join(f"[{column}]" for column in pk)
    return f"INSERT INTO [{table}] ({names}) VALUES ({marks}) ON CONFLICT({conflict}) DO UPDATE SET {updates}"


def connect_read_only(
    path: Path, isolation_level: Literal["DEFERRED", "EXCLUSIVE", "IMMEDIATE"] | None = "DEFERRED"
) -> sqlite3.Connection:
    """A connection that never writes ``path``. A WAL archive copied alone onto a read-only medium has no
    ``-shm`` and cannot get one, so ``mode=ro`` cannot open it: there it is opened ``immutable`` (nothing
    writes a read-only medium, which is what that promises SQLite)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=isolation_level)
    try:
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        db.close()
        if not path.is_file() or os.access(path.parent, os.W_OK):
            raise
        db = sqlite3.connect(f"file:{path}?immutable=1", uri=True, isolation_level=isolation_level)
    return db


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PostLink:
    """A post page linked from a listing: its name (from the URL) and the infoCode that name carries."""

    name: str
    url: str
    info_code: str | None = None


class StoredPageError(ValueError):
    """A stored page that cannot be read back (its WARC record is missing or unreadable)."""


@dataclass(frozen=True)
class LinkPlan:
    """What to do with a batch of listed posts: the ones to fetch, and how many were not, because their own
    page is archived (``skipped_known``) or was read and rejected (``skipped_rejected``)."""

    fetch: tuple[PostLink, ...]
    skipped_known: int
    skipped_rejected: int = 0


# What archiving a post did (``save_post``), each counted in crawl_runs under its name.
NEW, UPDATED, UNCHANGED, MERGED = "new", "updated", "unchanged", "merged"


def change_of(existing: Mapping[str, Any] | None, content_hash: str) -> str:
    """What archiving a record whose content hashes to ``content_hash`` does to the archived ``existing``
    row: ``new``, ``unchanged`` or ``updated`` (the dedupe step says it first, the store when it writes)."""
    if existing is None:
        return NEW
    return UNCHANGED if existing["content_hash"] == content_hash else UPDATED


def stored_share_text(item: PostItem) -> str | None:
    """What ``posts.share_text_stored`` holds for ``item``: its share text, unless that is its body (then
    ``posts.share_text`` reads the body)."""
    if item.body_origin == SHARE_ORIGIN and item.share_text == item.body_html:
        return None
    return item.share_text


class Archive:
    """One connection to ``archive.db``."""

    def __init__(self, db: sqlite_utils.Database, warc_dir: Path | None = None) -> None:
        self.db = db
        self.grouped = False
        # Called at each grouped commit, just before it: what they write commits with the group.
        self.before_commit: list[Callable[[], None]] = []
        # The WARC files the pages index points into (pipelines/warc.py), opened at the first page stored.
        self.warc_dir = warc_dir
        self.warc_max_bytes = DEFAULT_MAX_BYTES
        self.warc_info: dict[str, str] = {}
        self._warc: WarcFiles | None = None

    @classmethod
    def open(cls, path: Path) -> Archive:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite_utils.Database(path)
        # Takes effect only in a new file (before its first table): an existing archive keeps its page size.
        db.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # An INSERT OR REPLACE into posts then fires the delete trigger that keeps posts_fts in step.
        db.execute("PRAGMA recursive_triggers = ON")
        db.enable_wal()
        migrate(db)
        return cls(db, path.parent / WARC_DIR)

    def close(self) -> None:
        """Commit grouped writes, then close; closed even when the commit fails (the group is then lost). The
        WARC file being written is closed first: the rows committed point only at records it holds."""
        try:
            if self._warc is not None:
                self._warc.close()
            self.db.commit()
        finally:
            self.db.close()

    def group_commits(self) -> None:
        """From now on every write joins one open transaction, which ``commit()`` makes durable.

        Each write stays atomic (``db.atomic()`` is a savepoint inside it): a post, its run count and the
        removal of its frontier row still commit together, or are all lost and the post fetched again.
        """
        self.grouped = True
        self.db.begin()

    def commit(self) -> None:
        """Make every write so far durable (grouped: and open the next group): the WARC records the pages
        index points at first."""
        if self.grouped:
            for write_before_commit in self.before_commit:
                write_before_commit()
        if self._warc is not None:
            self._warc.sync()
        self.db.commit()
        if self.grouped:
            self.db.begin()

    def _count(self, table: str, where: str = "", params: Sequence[Any] = ()) -> int:
        return self.db.execute(f"SELECT count(*) FROM {table} {where}", params).fetchone()[0]

    # Posts ------------------------------------------------------------------------------------

    def get_post(self, info_code: str) -> dict[str, Any] | None:
        # Plain SQL: asked twice per post, and sqlite-utils' rows_where first asks whether the table exists.
        cursor = self.db.execute(f"SELECT * FROM {POSTS.name} WHERE info_code = ?", [info_code])
        row = cursor.fetchone()
        return None if row is None else dict(zip((column[0] for column in cursor.description), row, strict=True))

    def save_post(self, item: PostItem, file_name: str, run_id: int | None = None) -> str:
        """Archive ``item``; returns ``new``, ``updated``, ``merged`` or ``unchanged`` and counts it on the run.

        ``merged``: a page from the site that is the archived article's other route (its emnews twin, or the
        outlet post of an article archived from its twin), whatever it changed: one article, not an update.

        A changed post (content hash) is updated, and when its text (title or body) changed the version
        it replaces is kept in post_revisions. A record that only gained its other route (the emnews
        twin's digest and link) keeps no revision: the article did not change. An unchanged post only
        gets ``last_seen_at`` (and ``last_seen_run``), and its share state when that changed. A record refreshed
        from the share host alone (not ``from_site``) keeps its ``last_seen_*``. Every URL the item was
        seen under is added to post_urls, in the same transaction.
        """
        assert item.info_code is not None  # ValidatePipeline rejects an item without one
        now = utc_now()
        with self.db.atomic():
            existing = self.get_post(item.info_code)
            merged = existing is not None and self._is_other_route(item)
            if existing is None or item.from_site:
                seen_at, seen_run = now, run_id
            else:
                seen_at, seen_run = existing["last_seen_at"], existing["last_seen_run"]
            change = change_of(existing, item.content_hash)
            if existing is not None and change == UNCHANGED:
                share_state = (item.body_origin, item.share_status, item.share_detail, item.share_text)
                if share_state == tuple(existing[name] for name in _SHARE_STATE):
                    self.db.execute(
                        f"UPDATE {POSTS.name} SET last_seen_at = ?, last_seen_run = ? WHERE info_code = ?",
                        [seen_at, seen_run, item.info_code],
                    )
                else:
                    # Same article, news from the share host (its text arrived, or failed differently).
                    self.db.execute(
                        f"""UPDATE {POSTS.name} SET last_seen_at = ?, last_seen_run = ?, body_origin = ?,
                            share_status = ?, share_detail = ?, share_text_stored = ?, share_fetched_at = ?
                            WHERE info_code = ?""",
                        [seen_at, seen_run, *share_state[:3], stored_share_text(item), item.share_fetched_at,
                         item.info_code],
                    )
            else:
                row = {key: value for key, value in asdict(item).items() if key in _POST_COLUMNS}
                row["share_text_stored"] = stored_share_text(item)
                row["tags"] = json.dumps(item.tags, ensure_ascii=False)
                row.update(file_name=file_name, last_seen_at=seen_at, last_seen_run=seen_run, updated_at=now)
                row["first_seen_at"] = existing["first_seen_at"] if existing else now
                if existing is not None and (existing["title"], existing["body_html"]) != (item.title, item.body_html):
                    self.save_revision(
                        existing["info_code"], existing["content_hash"], existing["title"], existing["body_html"],
                        existing["last_seen_at"],
                    )
                self.db.execute(upsert_sql(POSTS.name, POSTS.pk_columns, tuple(row)), list(row.values()))
            if merged:
                change = MERGED
            self.db.conn.executemany(
                f"INSERT OR IGNORE INTO {POST_URLS.name} (url, kind, info_code, first_seen_at) VALUES (?, ?, ?, ?)",
                [(url, kind, item.info_code, now) for kind, url in item.seen_urls],
            )
            self.add_to_run(run_id, {change: 1, **(coverage_counts(item) if change == NEW else {})})
        return change

    def _is_other_route(self, item: PostItem) -> bool:
        """Does ``item``, read from the site, come from a post page its archived record has not had yet?"""
        if not item.from_site:
            return False
        pages = [url for kind, url in item.seen_urls if kind == "post"]
        return any(not self.db.execute(OTHER_ROUTE_SQL, [item.info_code, url]).fetchone()[0] for url in pages)

    def post_urls(self, info_code: str) -> list[dict[str, Any]]:
        """Every URL the article was seen under, in the order first seen."""
        return list(self.db[POST_URLS.name].rows_where("info_code = ?", [info_code], order_by="first_seen_at, rowid"))

    def record_share_failure(self, info_code: str, status: str, detail: str, fetched_at: str) -> None:
        """What a failed share fetch said, on a post that holds no exact text (one that does keeps the status
        its text came with). Counted on no run: nothing of the post was read."""
        with self.db.atomic():
            self.db.execute(
                f"""UPDATE {POSTS.name} SET share_status = ?, share_detail = ?, share_fetched_at = ?
                    WHERE info_code = ? AND share_text IS NULL""",
                [status, detail, fetched_at, info_code],
            )

    def codes_without_share_text(self) -> list[str]:
        """Archived articles whose share text was never fetched successfully, newest first (site notices,
        which have no East Money id, are not among them)."""
        rows = self.db.execute(
            f"""SELECT info_code FROM {POSTS.name} WHERE share_text IS NULL AND info_code GLOB '[A-Z][A-Z][0-9]*'
                ORDER BY published_at DESC, info_code"""
        )
        return [row[0] for row in rows]

    def save_revision(
        self, info_code: str, content_hash: str, title: str, body_html: str, seen_at: str | None
    ) -> int:
        """Keep a version of a post that is being replaced; returns its revision number (1, 2, …).

        Joins the caller's transaction when there is one, so the version and its replacement commit together.
        """
        with self.db.atomic():
            revision = self.db.execute(
                f"SELECT coalesce(max(revision), 0) + 1 FROM {POST_REVISIONS.name} WHERE info_code = ?", [info_code]
            ).fetchone()[0]
            self.db.table(POST_REVISIONS.name).insert(
                {"info_code": info_code, "revision": revision, "content_hash": content_hash, "title": title,
                 "body_html": body_html, "seen_at": seen_at}
            )
        return revision

    def revisions(self, info_code: str) -> list[dict[str, Any]]:
        return list(self.db[POST_REVISIONS.name].rows_where("info_code = ?", [info_code], order_by="revision"))

    # Listed posts and the frontier ------------------------------------------------------------

    def plan_links(self, links: Sequence[PostLink], run_id: int | None, refetch_known: bool = False) -> LinkPlan:
        """Decide, in one transaction, which listed posts to fetch.

        A post is known when its own page was archived (OWN_PAGE_ARCHIVED_SQL), or read and rejected; a
        known post is skipped, unless ``refetch_known``. The article of every listed post is marked seen
        (``last_seen_at``), by name or infoCode. A post this run already accounted for in an earlier session
        (``listed_posts``: skipped, requested, archived or rejected before a kill or a stop) is not counted
        again, nor fetched again once archived or rejected; one with neither outcome is fetched, whatever
        the frontier says: a count may be off by one after a fault, a post is never lost. Every post to
        fetch is put in the frontier first, so it survives any crash until it is archived. (A post still
        in the frontier was already requested by this run: the spider requests the frontier first.)
        Indexed lookups only: the archive's size does not matter.
        """
        now = utc_now()
        fetch: list[PostLink] = []
        skipped = {"archived": 0, "rejected": 0}
        with self.db.atomic():
            for link in links:
                self.db.execute(MARK_SEEN_SQL, [now, run_id, link.info_code, link.name])
                accounted = run_id is not None and self.db.execute(LIST_POST_SQL, [link.name, run_id]).rowcount == 0
                known = self._known_as(link)
                if known is not None and (accounted or not refetch_known):
                    if not accounted:
                        skipped[known] += 1
                    continue
                self.db.execute(
                    f"INSERT OR IGNORE INTO {FRONTIER.name} (name, url, discovered_at, run_id) VALUES (?, ?, ?, ?)",
                    [link.name, link.url, now, run_id],
                )
                fetch.append(link)
        if self.grouped:
            # The frontier rows must be durable before their requests go out.
            self.commit()
        return LinkPlan(tuple(fetch), skipped["archived"], skipped["rejected"])

    def _known_as(self, link: PostLink) -> str | None:
        """``archived`` when the post's own page is archived, ``rejected`` when it was read and rejected."""
        if self.db.execute(OWN_PAGE_ARCHIVED_SQL, [link.name, link.url]).fetchone()[0]:
            return "archived"
        if self.db.execute(READ_REJECT_SQL, [link.name]).fetchone()[0] > 0:
            return "rejected"
        return None

    def _listed_by(self, name: str, run_id: int | None) -> None:
        """This run has accounted for the post ``name`` (a resumed session does not count it again)."""
        if run_id is not None and name:
            self.db.execute(LIST_POST_SQL, [name, run_id])

    def mark_seen(self, links: Sequence[PostLink], run_id: int | None) -> None:
        """Listed posts a distributed worker skipped as known: seen by this run (``last_seen_at``)."""
        now = utc_now()
        with self.db.atomic():
            for link in links:
                self.db.execute(MARK_SEEN_SQL, [now, run_id, link.info_code, link.name])

    def known_keys(self) -> Iterator[str]:
        """Every name that makes a listed post known (what ``plan_links`` skips), one by one: the names of
        archived posts, of every post page archived into a record (an emnews twin's), and of
        read-and-rejected pages."""
        from crawler.pages.listing import post_name  # lxml: not for the commands that only read the archive

        yield from (row[0] for row in self.db.execute(f"SELECT name FROM {POSTS.name} WHERE name != ''"))
        yield from (
            post_name(row[0]) for row in self.db.execute(f"SELECT url FROM {POST_URLS.name} WHERE kind = 'post'")
        )
        yield from (row[0] for row in self.db.execute(
            f"SELECT post_name FROM {REJECTS.name} WHERE page_received = 1 AND post_name IS NOT NULL"
        ))

    def take_frontier(self) -> list[PostLink]:
        """The frontier, removed from the archive: handed to a shared frontier that keeps it from now on."""
        with self.db.atomic():
            pending = self.frontier()
            self.db.execute(f"DELETE FROM {FRONTIER.name}")
        return pending

    def categories(self) -> list[str]:
        """Every category an archived post names (read off the category index, not the rows)."""
        rows = self.db.execute(
            f"SELECT DISTINCT category FROM {POSTS.name} WHERE category IS NOT NULL AND category != '' ORDER BY category"
        )
        return [row[0] for row in rows]

    def frontier(self) -> list[PostLink]:
        """Posts discovered but not archived, newest first: by the 18-digit id a name ends with, which grows
        with time; names without one (site notices) last."""
        rows = self.db.execute(
            f"""SELECT name, url FROM {FRONTIER.name} ORDER BY
                length(name) >= 18 AND substr(name, -18) NOT GLOB '*[^0-9]*' DESC, substr(name, -18) DESC, name"""
        )
        return [PostLink(name, url) for name, url in rows]

    def forget_frontier(self, name: str) -> None:
        """The post named ``name`` has an outcome (archived, or rejected): it is no longer pending."""
        self.db.execute(f"DELETE FROM {FRONTIER.name} WHERE name = ?", [name])

    def settle_post(self, name: str, url: str, listed_run: int | None = None) -> None:
        """The post named ``name`` is archived from its page at ``url``, its file written: no longer pending,
        and no longer a reject of an earlier run; accounted for by the crawl run ``listed_run``, if given (a
        post of the frontier an earlier run left is listed by none of this run's plans)."""
        with self.db.atomic():
            self.forget_frontier(name)
            self._listed_by(name, listed_run)
            self.db.execute(f"DELETE FROM {REJECTS.name} WHERE url = ?", [url])

    def keep_pending(self, name: str, url: str, run_id: int | None) -> None:
        """The post could not be fetched this time, not by the page's fault: it stays in (or, handed back by
        a distributed worker, returns to) the frontier, which the next run fetches first."""
        self.db.execute(
            f"INSERT OR IGNORE INTO {FRONTIER.name} (name, url, discovered_at, run_id) VALUES (?, ?, ?, ?)",
            [name, url, utc_now(), run_id],
        )

    # Rejects ----------------------------------------------------------------------------------

    def add_reject(
        self, run_id: int | None, url: str, reason: str, raw_page: bytes, post_name: str | None = None,
        page_received: bool = False, listed_run: int | None = None,
    ) -> None:
        """One row per URL: a page rejected by every scheduled run stays one row, counted.

        The rejected post leaves the frontier in the same transaction: it has an outcome, which the crawl run
        ``listed_run`` (if given) has accounted for.
        """
        now = utc_now()
        with self.db.atomic():
            self.db.execute(
                f"""INSERT INTO {REJECTS.name} (url, reason, raw_page, run_id, times, first_rejected_at,
                    last_rejected_at, post_name, page_received)
                VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)
                ON CONFLICT(url) DO UPDATE SET reason = excluded.reason, raw_page = excluded.raw_page,
                    run_id = excluded.run_id, times = times + 1, last_rejected_at = excluded.last_rejected_at,
                    post_name = excluded.post_name, page_received = excluded.page_received""",
                [url, reason, raw_page, run_id, now, now, post_name, int(page_received)],
            )
            if post_name:
                self.forget_frontier(post_name)
                self._listed_by(post_name, listed_run)
            self.add_to_run(run_id, {"rejected": 1})

    # Stored pages -----------------------------------------------------------------------------

    def save_page(self, page: FetchedPage, run_id: int | None) -> bool:
        """Write a fetched page into the WARC files and point the pages index at it; False when the index keeps
        a stored successful answer instead (the answer is in the WARC files all the same). An answer whose
        payload is the one the URL's capture has is written as a revisit, and the index keeps that capture."""
        if not page.fetched_at:
            page = replace(page, fetched_at=utc_now())
        last = self.db.execute(LAST_CAPTURE_SQL, [page.url]).fetchone()
        digest = payload_digest(page.body)
        previous = None
        if last is not None and last[0] == page.status and last[2] is not None and last[1] == digest:
            previous = Capture(last[2], last[3], last[4], last[1], last[5])
        warc_files = self._warc_files(run_id)
        written = warc_files.write(page, revisit_of=previous, digest=digest)
        capture = previous or written
        row = [page.url, page.status, page.callback, page.fetched_at, run_id, len(page.body), capture.digest,
               capture.file, capture.offset, capture.length, capture.date]
        if self.grouped:  # one statement, and commit() syncs the records before the group commits
            return self.db.execute(SAVE_PAGE_SQL, row).rowcount > 0
        warc_files.flush()  # the row commits now: its record must be out of this process first
        with self.db.atomic():
            return self.db.execute(SAVE_PAGE_SQL, row).rowcount > 0

    def _warc_files(self, run_id: int | None) -> WarcFiles:
        if self._warc is None:
            if self.warc_dir is None:
                raise StoredPageError("this archive was opened without its WARC folder: pages cannot be stored")
            info = {"software": "finews-archive", "format": "WARC File Format 1.1",
                    "conformsTo": "http://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
                    **self.warc_info}
            if run_id is not None:
                info.setdefault("finews-run", str(run_id))
            self._warc = WarcFiles(self.warc_dir, self.warc_max_bytes, info)
        return self._warc

    def stored_page(self, url: str) -> FetchedPage | None:
        row = self.db.execute(
            f"SELECT url, callback, fetched_at, warc_file, warc_offset, warc_length FROM {PAGES.name} WHERE url = ?",
            [url],
        ).fetchone()
        if row is None:
            return None
        url, callback, fetched_at, warc_file, offset, length = row
        if warc_file is None or self.warc_dir is None:
            raise StoredPageError(f"stored page {url[:200]} has no WARC record")
        if self._warc is not None:
            self._warc.flush()  # the record may still wait in this process's buffer
        try:
            status, headers, body = read_capture(self.warc_dir, warc_file, offset, length)
        except WarcError as error:
            raise StoredPageError(f"stored page {url[:200]} is unreadable: {error}") from None
        return FetchedPage(url, status, headers, body, callback, fetched_at)

    def stored_page_urls(self, callback: str) -> list[str]:
        """The URLs of the successful pages ``callback`` read, in URL order (off the callback index)."""
        rows = self.db.execute(
            f"SELECT url FROM {PAGES.name} WHERE callback = ? AND status BETWEEN 200 AND 299 ORDER BY url", [callback]
        )
        return [url for (url,) in rows]

    def posts_without_stored_page(self, callback: str) -> int:
        """Archived posts whose page is not stored (archived before pages were kept): a reparse cannot rebuild them."""
        return self.db.execute(
            f"""SELECT count(*) FROM {POSTS.name} WHERE post_url NOT IN
                (SELECT url FROM {PAGES.name} WHERE callback = ? AND status BETWEEN 200 AND 299)""",
            [callback],
        ).fetchone()[0]

    def page_totals(self) -> tuple[int, int, int]:
        """Stored pages: how many, their bytes as received, and their records' bytes in the WARC files."""
        count, size, stored = self.db.execute(
            f"SELECT count(*), coalesce(sum(size), 0), coalesce(sum(warc_length), 0) FROM {PAGES.name}"
        ).fetchone()
        return count, size, stored

    # Runs -------------------------------------------------------------------------------------

    def start_run(self, site: str, mode: str = "incremental") -> int:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r} is not one of {MODES}")
        with self.db.atomic():
            table = self.db.table(CRAWL_RUNS.name).insert(
                {"site": site, "started_at": utc_now(), "status": "running", "mode": mode, "resumes": 0,
                 **dict.fromkeys((*RUN_COUNTS, *COVERAGE_COUNTS), 0), RUNNING_SECONDS: 0.0}
            )
        assert isinstance(table.last_pk, int)  # the new run's id
        return table.last_pk

    def resume_run(self, run_id: int) -> None:
        with self.db.atomic():
            self.db.execute(
                f"UPDATE {CRAWL_RUNS.name} SET status = 'running', finished_at = NULL, exit_code = NULL, "
                "failure = NULL, resumes = coalesce(resumes, 0) + 1 WHERE id = ?",
                [run_id],
            )

    def add_to_run(self, run_id: int | None, counts: Mapping[str, float]) -> None:
        """Add ``counts`` (crawl_runs count columns, and ``running_seconds``) to a run's."""
        if run_id is None or not counts:
            return
        unknown = set(counts) - {*RUN_COUNTS, *COVERAGE_COUNTS, RUNNING_SECONDS}
        if unknown:
            raise ValueError(f"not crawl_runs counts: {sorted(unknown)}")
        assignments = ", ".join(f"{name} = coalesce({name}, 0) + ?" for name in counts)
        self.db.execute(f"UPDATE {CRAWL_RUNS.name} SET {assignments} WHERE id = ?", [*counts.values(), run_id])

    def finish_run(
        self, run_id: int, status: str, counts: Mapping[str, float] | None = None, exit_code: int | None = None
    ) -> None:
        """End a run's session: add this session's ``counts`` to the run's and set its status."""
        if status not in RUN_STATUSES:
            raise ValueError(f"status {status!r} is not one of {RUN_STATUSES}")
        with self.db.atomic():
            self.add_to_run(run_id, dict(counts or {}))
            self.db.table(CRAWL_RUNS.name).update(
                run_id, {"finished_at": utc_now(), "status": status, "exit_code": exit_code}
            )

    def set_run_outcome(self, run_id: int, status: str, exit_code: int, failure: str | None = None) -> None:
        """The runner's last word on a run: the process's exit code, and for a ``failed`` run the one-line
        reason (a fault that stopped it, or the posts it left unarchived)."""
        if status not in RUN_STATUSES:
            raise ValueError(f"status {status!r} is not one of {RUN_STATUSES}")
        with self.db.atomic():
            self.db.table(CRAWL_RUNS.name).update(
                run_id, {"status": status, "exit_code": exit_code, "failure": failure if status == "failed" else None}
            )

    def mark_abandoned_runs(self) -> list[int]:
        """Runs still ``running`` whose process died (kill -9, power loss) become ``interrupted``.

        Only call this holding the crawl lock: then no live process is running any of them.
        """
        with self.db.atomic():
            ids = [row[0] for row in self.db.execute(f"SELECT id FROM {CRAWL_RUNS.name} WHERE status = 'running'")]
            self.db.execute(f"UPDATE {CRAWL_RUNS.name} SET status = 'interrupted' WHERE status = 'running'")
        return ids

    def run(self, run_id: int) -> dict[str, Any]:
        return self.db.table(CRAWL_RUNS.name).get(run_id)

    def latest_run(self, modes: Sequence[str] = MODES) -> dict[str, Any] | None:
        """The latest run of one of ``modes``."""
        marks = ", ".join("?" for _mode in modes)
        rows = list(
            self.db[CRAWL_RUNS.name].rows_where(f"coalesce(mode, 'incremental') IN ({marks})", list(modes),
                                                order_by="id DESC", limit=1)
        )
        return rows[0] if rows else None

    def recent_runs(self, limit: int) -> list[dict[str, Any]]:
        return list(self.db[CRAWL_RUNS.name].rows_where(order_by="id DESC", limit=limit))

    def sizes(self) -> dict[str, int]:
        """Rows per table, for ``finews status``."""
        return {
            "posts": self._count(POSTS.name),
            "rejects": self._count(REJECTS.name),
            "frontier": self._count(FRONTIER.name),
            "revisions": self._count(POST_REVISIONS.name),
            "runs": self._count(CRAWL_RUNS.name),
        }


def coverage_counts(item: PostItem) -> dict[str, int]:
    """A new post's part in its run's field coverage (COVERAGE_COUNTS)."""
    outlet = item.kind in ("media", "market")
    shareable = item.kind != "sitenews"
    return {
        "new_outlet": int(outlet),
        "new_with_source": int(outlet and bool(item.source)),
        "new_with_editor": int(outlet and bool(item.editor)),
        "new_with_body": int(bool((item.body_text or "").strip())),
        "new_shareable": int(shareable),
        "new_body_from_page": int(shareable and item.body_origin != "share"),
    }


def item_from_row(row: Mapping[str, Any]) -> PostItem:
    """A ``posts`` row as the item it was stored from."""
    fields = {key: value for key, value in row.items() if key in PostItem.__dataclass_fields__}
    fields["tags"] = json.loads(row["tags"] or "[]")
    return PostItem(**fields)
