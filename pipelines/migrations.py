"""The archive's migrations, frozen: each one's statements written out, never to change.

A migration never reads today's definitions (pipelines/schema.py, which says what the archive is now and
documents it): it holds the literal SQL it runs, so editing a Table there cannot rewrite what an old
migration does, and neither can another sqlite-utils (4.0 changed its quoting from [name] to "name" and
its float type from FLOAT to REAL). The text is, to the byte, what these migrations ran when they were
still built from the definitions with sqlite-utils 4: a new archive's sqlite_master is what it was, and an
upgraded one's too. (Archives made with sqlite-utils 3 say [name] and FLOAT; SQLite reads both the same.)

Append only: a released migration is never edited, a new one is added after it, and the Table definitions
in pipelines/schema.py follow it (tests/test_migrations.py checks that they agree, and that each migration
still makes the schema recorded for its version in tests/released_schemas.json).
"""

from __future__ import annotations

import io
import json
import os
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path

from pipelines.sqlite_utils_lean import sqlite_utils


def _execute(db: sqlite_utils.Database, *statements: str) -> None:
    for statement in statements:
        db.execute(statement)


def _m001_initial(db: sqlite_utils.Database) -> None:
    _execute(
        db,
        """CREATE TABLE "posts" (
   "info_code" TEXT PRIMARY KEY NOT NULL,
   "name" TEXT,
   "title" TEXT,
   "published_at" TEXT,
   "category" TEXT,
   "tags" TEXT,
   "kind" TEXT,
   "media" TEXT,
   "source" TEXT,
   "editor" TEXT,
   "digest" TEXT,
   "body_html" TEXT,
   "body_origin" TEXT,
   "body_text" TEXT,
   "summary" TEXT,
   "share_url" TEXT,
   "article_url" TEXT,
   "post_url" TEXT,
   "back_link_lines" TEXT,
   "share_status" TEXT,
   "content_hash" TEXT,
   "file_name" TEXT,
   "first_seen_at" TEXT,
   "last_seen_at" TEXT,
   "updated_at" TEXT
)""",
        """CREATE TABLE "rejects" (
   "url" TEXT PRIMARY KEY NOT NULL,
   "reason" TEXT,
   "raw_page" BLOB,
   "run_id" INTEGER,
   "times" INTEGER,
   "first_rejected_at" TEXT,
   "last_rejected_at" TEXT
)""",
        """CREATE TABLE "crawl_runs" (
   "id" INTEGER PRIMARY KEY NOT NULL,
   "site" TEXT,
   "started_at" TEXT,
   "finished_at" TEXT,
   "status" TEXT,
   "exit_code" INTEGER,
   "requests" INTEGER,
   "new" INTEGER,
   "updated" INTEGER,
   "unchanged" INTEGER,
   "rejected" INTEGER,
   "errors" INTEGER,
   "files_written" INTEGER
)""",
        """CREATE INDEX "idx_posts_published_at"
    ON "posts" ("published_at")""",
        """CREATE INDEX "idx_posts_category_published_at"
    ON "posts" ("category", "published_at")""",
    )


def _m002_scheduled_runs(db: sqlite_utils.Database) -> None:
    _execute(
        db,
        'ALTER TABLE "posts" ADD COLUMN "last_seen_run" INTEGER',
        'ALTER TABLE "rejects" ADD COLUMN "post_name" TEXT',
        'ALTER TABLE "rejects" ADD COLUMN "page_received" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "skipped_known" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "mode" TEXT',
        'ALTER TABLE "crawl_runs" ADD COLUMN "resumes" INTEGER',
        """CREATE TABLE "frontier" (
   "name" TEXT PRIMARY KEY NOT NULL,
   "url" TEXT,
   "discovered_at" TEXT,
   "run_id" INTEGER
)""",
        """CREATE TABLE "post_revisions" (
   "info_code" TEXT NOT NULL,
   "revision" INTEGER NOT NULL,
   "content_hash" TEXT,
   "title" TEXT,
   "body_html" TEXT,
   "seen_at" TEXT,
   PRIMARY KEY ("info_code", "revision")
)""",
        # Incremental runs ask, for every listed post, whether its name or infoCode is archived.
        """CREATE INDEX "idx_posts_name"
    ON "posts" ("name")""",
        """CREATE INDEX "idx_rejects_post_name"
    ON "rejects" ("post_name")""",
    )


def _m003_routes_and_share_texts(db: sqlite_utils.Database) -> None:
    _execute(
        db,
        'ALTER TABLE "posts" ADD COLUMN "share_text" TEXT',
        'ALTER TABLE "posts" ADD COLUMN "share_fetched_at" TEXT',
        """CREATE TABLE "post_urls" (
   "url" TEXT PRIMARY KEY NOT NULL,
   "kind" TEXT,
   "info_code" TEXT,
   "first_seen_at" TEXT
)""",
        """CREATE INDEX "idx_post_urls_info_code"
    ON "post_urls" ("info_code")""",
    )
    # What older archives already know: each row's own URLs, and its share text where the body is it.
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for column, kind in (("post_url", "post"), ("share_url", "share"), ("article_url", "article")):
        db.execute(
            f"""INSERT OR IGNORE INTO post_urls (url, kind, info_code, first_seen_at)
                SELECT {column}, ?, info_code, coalesce(first_seen_at, ?) FROM posts
                WHERE {column} IS NOT NULL AND {column} != ''""",
            [kind, now],
        )
    db.execute("UPDATE posts SET share_text = body_html WHERE body_origin = 'share' AND share_text IS NULL")


def _m004_search_views_pages(db: sqlite_utils.Database) -> None:
    # As released, this also created posts_fts (declared content='posts'); 007 replaces that index, and
    # since 007 was added this migration leaves it to 007 (tests/test_schema.py keeps the old declaration).
    _execute(
        db,
        "ALTER TABLE [posts] ADD COLUMN [published_day] TEXT "
        "GENERATED ALWAYS AS (date(published_at, '+8 hours')) VIRTUAL",
        """CREATE TABLE "pages" (
   "url" TEXT PRIMARY KEY NOT NULL,
   "status" INTEGER,
   "callback" TEXT,
   "fetched_at" TEXT,
   "run_id" INTEGER,
   "size" INTEGER,
   "headers" TEXT,
   "body" BLOB
)""",
        # The replay of `finews reparse` reads the post pages (by callback) without touching a body.
        """CREATE INDEX "idx_pages_callback_status"
    ON "pages" ("callback", "status")""",
        # posts_per_day counts off this index alone.
        """CREATE INDEX "idx_posts_published_day_category"
    ON "posts" ("published_day", "category")""",
        "DROP VIEW IF EXISTS [latest_posts]",
        """CREATE VIEW [latest_posts] AS SELECT info_code, published_at, published_day, category, media, kind, title, summary, source,
        coalesce(share_url, article_url) AS link, post_url, file_name, last_seen_at
    FROM posts ORDER BY published_at DESC, info_code DESC""",
        "DROP VIEW IF EXISTS [posts_per_day]",
        """CREATE VIEW [posts_per_day] AS SELECT published_day AS day, category, count(*) AS posts FROM posts
    GROUP BY published_day, category ORDER BY day DESC, category""",
    )


def _m005_run_failures(db: sqlite_utils.Database) -> None:
    _execute(db, 'ALTER TABLE "crawl_runs" ADD COLUMN "failure" TEXT')


def _m006_exact_run_counts(db: sqlite_utils.Database) -> None:
    _execute(
        db,
        'ALTER TABLE "crawl_runs" ADD COLUMN "merged" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "skipped_rejected" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "running_seconds" REAL',
        """CREATE TABLE "listed_posts" (
   "name" TEXT PRIMARY KEY NOT NULL,
   "run_id" INTEGER
)""",
    )


def _m007_search_index_found_by_other_tools(db: sqlite_utils.Database) -> None:
    # The same index and triggers, declared content=[posts] so that sqlite-utils and Datasette find it
    # (Table.detect_fts and Datasette's detect_fts match this text in its SQL, and miss content='posts');
    # the rebuild reads every post's text again (rowids are kept, so nothing else changes).
    _execute(
        db,
        "DROP TRIGGER IF EXISTS [posts_fts_insert]",
        "DROP TRIGGER IF EXISTS [posts_fts_delete]",
        "DROP TRIGGER IF EXISTS [posts_fts_update]",
        "DROP TABLE IF EXISTS [posts_fts]",
        "CREATE VIRTUAL TABLE [posts_fts] USING FTS5 ([title], [body_text], tokenize='trigram', content=[posts], "
        "content_rowid=rowid)",
        """CREATE TRIGGER [posts_fts_insert] AFTER INSERT ON [posts] BEGIN
                INSERT INTO [posts_fts] (rowid, [title], [body_text]) VALUES (new.rowid, new.[title], new.[body_text]); END""",
        """CREATE TRIGGER [posts_fts_delete] AFTER DELETE ON [posts] BEGIN
                INSERT INTO [posts_fts] ([posts_fts], rowid, [title], [body_text]) VALUES ('delete', old.rowid, old.[title], old.[body_text]); END""",
        # Only when an indexed column is written: every crawl updates last_seen_at of every listed post.
        """CREATE TRIGGER [posts_fts_update] AFTER UPDATE OF [title], [body_text] ON [posts] BEGIN
                INSERT INTO [posts_fts] ([posts_fts], rowid, [title], [body_text]) VALUES ('delete', old.rowid, old.[title], old.[body_text]);
                INSERT INTO [posts_fts] (rowid, [title], [body_text]) VALUES (new.rowid, new.[title], new.[body_text]); END""",
        "INSERT INTO [posts_fts] ([posts_fts]) VALUES ('rebuild')",
    )


# Before 008, share_status held the failure's words (with the share breaker's running count in them):
# each as its value from the fixed set, in this order, the words going to share_detail.
_M008_STATUS_OF_WORDS = """CASE
    WHEN share_status = 'not fetched' THEN 'not-fetched'
    WHEN share_status = 'ok' THEN 'ok'
    WHEN share_status LIKE 'skipped: %' THEN 'skipped'
    WHEN share_status IN ('http 404', 'http 410') THEN 'missing'
    WHEN share_status LIKE 'http %' THEN 'http-error'
    WHEN share_status LIKE '%TimeoutError%' OR share_status LIKE '%took longer than%'
        OR share_status LIKE 'no answer within the download timeout%' THEN 'timeout'
    WHEN share_status LIKE 'invalid json%' OR share_status LIKE 'no text:%' THEN 'invalid'
    WHEN share_status LIKE 'IgnoreRequest%' OR share_status LIKE 'download cancelled%'
        OR share_status LIKE 'DownloadCancelledError%' THEN 'refused'
    ELSE 'unreachable'
END"""


def _m008_share_status_values(db: sqlite_utils.Database) -> None:
    _execute(db, 'ALTER TABLE "posts" ADD COLUMN "share_detail" TEXT')
    db.execute(
        f"""UPDATE posts SET
            share_detail = CASE
                WHEN share_status IN ('ok', 'not fetched') THEN NULL
                WHEN share_status LIKE 'skipped: %' THEN substr(share_status, length('skipped: ') + 1)
                ELSE share_status END,
            share_status = {_M008_STATUS_OF_WORDS}
            WHERE share_status IS NOT NULL"""
    )
    # GROUP BY share_status: how many posts lack their text, and why.
    _execute(db, """CREATE INDEX "idx_posts_share_status"
    ON "posts" ("share_status")""")


# The update trigger's take of the next number, as 009 wrote it in each trigger.
_M009_TAKE = ("UPDATE [change_counter] SET last = last + 1 WHERE id = 1; "
              "UPDATE [posts] SET [change_seq] = (SELECT last FROM [change_counter] WHERE id = 1)")


def _m009_change_feed(db: sqlite_utils.Database) -> None:
    # A counter of its own rather than max(change_seq) + 1, which would give a number again when the row
    # holding the maximum is the one updated; triggers, so that every writer takes part.
    _execute(
        db,
        'ALTER TABLE "posts" ADD COLUMN "change_seq" INTEGER',
        "CREATE TABLE [change_counter] (id INTEGER PRIMARY KEY CHECK (id = 1), last INTEGER NOT NULL)",
        # Rows archived before the feed existed take numbers in the order they last changed.
        "INSERT INTO [change_counter] (id, last) SELECT 1, count(*) FROM [posts]",
        """UPDATE [posts] SET [change_seq] = ordered.seq FROM (
            SELECT rowid AS row, row_number() OVER (ORDER BY updated_at, rowid) AS seq FROM [posts]
        ) AS ordered WHERE ordered.row = [posts].rowid""",
        "CREATE INDEX [posts_change_seq] ON [posts] ([change_seq])",
        f"""CREATE TRIGGER [change_counter_insert] AFTER INSERT ON [posts] BEGIN
            {_M009_TAKE} WHERE rowid = new.rowid; END""",
        # The public record's columns as of 009, but last_seen_at (every run moves it for every listed post),
        # updated_at (a reparse rewrites it on posts it rebuilds unchanged) and published_day (generated).
        "CREATE TRIGGER [change_counter_update] AFTER UPDATE OF [name], [title], [published_at], [category], "
        "[tags], [kind], [media], [source], [editor], [digest], [body_html], [body_origin], [body_text], "
        "[summary], [share_url], [article_url], [post_url], [back_link_lines], [share_status], [content_hash], "
        "[file_name], [first_seen_at], [share_fetched_at], [share_detail] ON [posts]\n"
        "            WHEN new.[name] IS NOT old.[name] OR new.[title] IS NOT old.[title] "
        "OR new.[published_at] IS NOT old.[published_at] OR new.[category] IS NOT old.[category] "
        "OR new.[tags] IS NOT old.[tags] OR new.[kind] IS NOT old.[kind] OR new.[media] IS NOT old.[media] "
        "OR new.[source] IS NOT old.[source] OR new.[editor] IS NOT old.[editor] "
        "OR new.[digest] IS NOT old.[digest] OR new.[body_html] IS NOT old.[body_html] "
        "OR new.[body_origin] IS NOT old.[body_origin] OR new.[body_text] IS NOT old.[body_text] "
        "OR new.[summary] IS NOT old.[summary] OR new.[share_url] IS NOT old.[share_url] "
        "OR new.[article_url] IS NOT old.[article_url] OR new.[post_url] IS NOT old.[post_url] "
        "OR new.[back_link_lines] IS NOT old.[back_link_lines] OR new.[share_status] IS NOT old.[share_status] "
        "OR new.[content_hash] IS NOT old.[content_hash] OR new.[file_name] IS NOT old.[file_name] "
        "OR new.[first_seen_at] IS NOT old.[first_seen_at] "
        "OR new.[share_fetched_at] IS NOT old.[share_fetched_at] "
        f"OR new.[share_detail] IS NOT old.[share_detail] BEGIN {_M009_TAKE} WHERE rowid = new.rowid; END",
        # A new URL of a post is a change of its public record.
        f"""CREATE TRIGGER [change_counter_post_urls] AFTER INSERT ON [post_urls] BEGIN
                {_M009_TAKE} WHERE [info_code] = new.[info_code]; END""",
    )


def _m010_field_coverage(db: sqlite_utils.Database) -> None:
    _execute(
        db,
        'ALTER TABLE "crawl_runs" ADD COLUMN "new_outlet" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "new_with_source" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "new_with_editor" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "new_with_body" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "new_shareable" INTEGER',
        'ALTER TABLE "crawl_runs" ADD COLUMN "new_body_from_page" INTEGER',
    )


def _m011_body_origin_page_html(db: sqlite_utils.Database) -> None:
    # A body from the page is now either its recovered source or its HTML; every earlier one was its HTML.
    # The change feed numbers these rows again: the public record's value changed.
    db.execute("UPDATE posts SET body_origin = 'page-html' WHERE body_origin = 'page'")


def _m012_pages_index_warc(db: sqlite_utils.Database) -> None:
    # The pages table becomes the index of the WARC files (OUTPUT/warc): where each URL's capture is. The
    # bodies and headers stored so far move into one WARC file of response records (their URL, status,
    # headers and bytes, dated when they were fetched), written here with warcio directly so that what this
    # migration does never follows later writer code; the columns stay (null) for readers that name them.
    _execute(
        db,
        'ALTER TABLE "pages" ADD COLUMN "digest" TEXT',
        'ALTER TABLE "pages" ADD COLUMN "warc_file" TEXT',
        'ALTER TABLE "pages" ADD COLUMN "warc_offset" INTEGER',
        'ALTER TABLE "pages" ADD COLUMN "warc_length" INTEGER',
        'ALTER TABLE "pages" ADD COLUMN "warc_date" TEXT',
    )
    rows = db.execute("SELECT url, status, fetched_at, headers, body FROM pages WHERE body IS NOT NULL ORDER BY url")
    first = rows.fetchone()
    if first is None:
        return
    # Only an archive with pages to move pays for importing warcio (the fast commands open archives).
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    database = next(file for _seq, name, file in db.execute("PRAGMA database_list") if name == "main")
    if not database:
        return  # an archive in memory has no output folder: its pages stay where they are
    directory = Path(database).parent / "warc"
    directory.mkdir(parents=True, exist_ok=True)
    name = f"finews-migrated-{datetime.now(UTC):%Y%m%d%H%M%S%f}.warc.gz"
    moved = []
    with open(directory / name, "xb") as stream:
        writer = WARCWriter(stream, gzip=True, warc_version="1.1")
        writer.write_record(writer.create_warcinfo_record(name, {
            "software": "finews-archive (migration 012_pages_index_warc)", "format": "WARC File Format 1.1",
            "description": "the pages table's stored bodies, moved into WARC"}))
        row = first
        while row is not None:
            url, status, fetched_at, headers_json, compressed = row
            row = rows.fetchone()
            try:
                body = zlib.decompress(compressed)
                headers = [(key, value) for key, values in json.loads(headers_json).items()
                           if key.lower() not in ("content-encoding", "transfer-encoding", "content-length")
                           for value in values] + [("Content-Length", str(len(body)))]
                instant = datetime.fromisoformat(fetched_at).astimezone(UTC)
            except (zlib.error, TypeError, ValueError, AttributeError):
                continue  # unreadable already (a reparse says so): kept as it is rather than lost
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Unknown"
            date = instant.strftime("%Y-%m-%dT%H:%M:%S") + (f".{instant.microsecond:06d}" if instant.microsecond else "") + "Z"
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body),
                http_headers=StatusAndHeaders(f"{status} {phrase}", headers, protocol="HTTP/1.1"),
                warc_headers_dict={"WARC-Date": date})
            offset = stream.tell()
            writer.write_record(record)
            moved.append((record.rec_headers.get_header("WARC-Payload-Digest"), name, offset, stream.tell() - offset,
                          date, url))
        stream.flush()
        os.fsync(stream.fileno())
    db.conn.executemany(
        "UPDATE pages SET digest = ?, warc_file = ?, warc_offset = ?, warc_length = ?, warc_date = ?, "
        "headers = NULL, body = NULL WHERE url = ?", moved)


def _m013_share_text_stored_once(db: sqlite_utils.Database) -> None:
    # A share text that became the body (body_origin share: the body is the text as written) was stored
    # twice in its row. The stored column now keeps only a text the body is not; share_text is generated
    # from it and the body, so that a reader of share_text reads what it read before.
    _execute(
        db,
        'ALTER TABLE "posts" RENAME COLUMN "share_text" TO "share_text_stored"',
        "UPDATE posts SET share_text_stored = NULL WHERE body_origin = 'share' AND share_text_stored = body_html",
        """ALTER TABLE "posts" ADD COLUMN "share_text" TEXT GENERATED ALWAYS AS (CASE WHEN share_text_stored IS NULL
            AND body_origin = 'share' THEN body_html ELSE share_text_stored END) VIRTUAL""",
    )


# Append only: a released migration is never edited, a new one is added after it.
MIGRATIONS: tuple[tuple[str, Callable[[sqlite_utils.Database], None]], ...] = (
    ("001_initial", _m001_initial),
    ("002_scheduled_runs", _m002_scheduled_runs),
    ("003_routes_and_share_texts", _m003_routes_and_share_texts),
    ("004_search_views_pages", _m004_search_views_pages),
    ("005_run_failures", _m005_run_failures),
    ("006_exact_run_counts", _m006_exact_run_counts),
    ("007_search_index_found_by_other_tools", _m007_search_index_found_by_other_tools),
    ("008_share_status_values", _m008_share_status_values),
    ("009_change_feed", _m009_change_feed),
    ("010_field_coverage", _m010_field_coverage),
    ("011_body_origin_page_html", _m011_body_origin_page_html),
    ("012_pages_index_warc", _m012_pages_index_warc),
    ("013_share_text_stored_once", _m013_share_text_stored_once),
)
