"""The archive's schema: the one place that defines it. The store, docs/schema.md and the tests read it here.

The definitions below are the archive as it is now, documented. Changes are numbered forward migrations,
frozen in pipelines/migrations.py (each one's SQL as it was released, never read from these definitions);
each applied one is recorded in ``schema_migrations`` and ``PRAGMA user_version`` holds the highest, so an
older archive is upgraded in place on open. A change to a definition here takes a new migration there:
tests/test_migrations.py checks that the two agree (every table, column, type and ``since``).
Regenerate the docs with ``python -m pipelines.schema > docs/schema.md`` (a test checks they agree).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from crawler.sharestatus import described_values
from pipelines.migrations import MIGRATIONS
from pipelines.sqlite_utils_lean import sqlite_utils

# posts.share_text, generated (migration 013): the body when the body is the share text, which is then not
# stored a second time.
SHARE_TEXT_SQL = """CASE WHEN share_text_stored IS NULL
            AND body_origin = 'share' THEN body_html ELSE share_text_stored END"""


@dataclass(frozen=True)
class Column:
    name: str
    type: type
    doc: str
    since: int = 1  # the migration that added it
    # A VIRTUAL generated column's SQL expression: computed on read, never written, costs no space.
    generated: str | None = None
    # In the public record of a row (posts.jsonl, docs/posts-jsonl.md): False for what only the archive's
    # own bookkeeping needs, or what the record already says another way.
    public: bool = True
    # Stored as JSON text; the public record holds the decoded value.
    holds_json: bool = False


@dataclass(frozen=True)
class Table:
    """A table as it is now; ``since`` on the table and its columns says which migration added what.

    The migrations that made it are frozen in pipelines/migrations.py: adding or changing a column here
    takes a new migration there (tests/test_migrations.py fails until the two agree).
    """

    name: str
    doc: str
    pk: str | tuple[str, ...]
    columns: tuple[Column, ...]
    since: int = 1

    @property
    def pk_columns(self) -> tuple[str, ...]:
        return (self.pk,) if isinstance(self.pk, str) else self.pk


@dataclass(frozen=True)
class View:
    """A view for a common read; ``columns`` document what it selects. Changing one takes a new migration
    that drops and recreates it (and sets ``since`` to that migration's number)."""

    name: str
    doc: str
    select: str
    columns: tuple[Column, ...]
    since: int


@dataclass(frozen=True)
class FullTextIndex:
    """An FTS5 index over columns of a table, stored as an external-content index (the text stays in the
    table only) and kept in sync by triggers on insert, delete and update of those columns. Changing one
    takes a new migration that recreates it (and sets ``since`` to that migration's number)."""

    name: str
    doc: str
    table: str
    columns: tuple[str, ...]
    tokenize: str
    since: int


@dataclass(frozen=True)
class ChangeSequence:
    """``table.column`` set from an archive-wide counter on every insert into ``table``, every update of a
    ``watched`` column that changes its value, and every insert into ``children`` naming the row: triggers,
    so that every writer (crawl, share, reparse, a hand-made UPDATE) takes part. The counter is its own
    one-row table rather than max(column) + 1, which would give a number again when the row holding the
    maximum is the one updated. A column added later joins ``watched`` with a migration that recreates the
    update trigger."""

    name: str
    doc: str
    table: str
    column: str
    watched: tuple[str, ...]
    children: tuple[tuple[str, str], ...]  # (table, column naming the row's primary key)
    key: str
    since: int


POSTS = Table(
    "posts",
    "One row per article (infoCode), whichever routes it was reached by.",
    "info_code",
    (
        Column("info_code", str, "`NW` + 18 digits: the East Money article id; `site:<name>` for site notices."),
        Column("name", str, "The post's file slug (`NW…` for outlet posts, 18 digits for emnews)."),
        Column("title", str, "Headline as the post's front matter holds it (markup and entities kept as text)."),
        Column("published_at", str, "ISO 8601 instant in +08:00 (a zone-less original is read as UTC)."),
        Column("category", str, "Category slug, as in `/category/<slug>.html`."),
        Column("tags", str, "JSON array of the post's tags.", holds_json=True),
        Column("kind", str, "`media`, `market`, `emnews` or `sitenews`."),
        Column("media", str, "Outlet name from the tag (`今晚报`); null for emnews."),
        Column("source", str, "文章来源 text, markup stripped; null when absent."),
        Column("editor", str, "Editor named in a `(…编辑NAME)` note; null when absent."),
        Column("digest", str, "The emnews `> ` digest line's text; null when absent."),
        Column("body_html", str, "Article body only, as body_origin says: the source as written (`share`), the source recovered from the page (`page-source`), or the page's HTML (`page-html`)."),
        Column("body_origin", str, "`share` (GetNewsText answer, as written), `page-source` (no share text: the page's body turned back into the source that renders to it, checked by rendering it again) or `page-html` (no share text, and no source renders back to the page: its HTML)."),
        Column("body_text", str, "Body text, one line per block."),
        Column("summary", str, "Digest, else the first 120 characters of body_text."),
        Column("share_url", str, "NewsShare.html link (outlet and market posts)."),
        Column("article_url", str, "East Money article link (emnews posts)."),
        Column("post_url", str, "The post page the record was built from."),
        Column("back_link_lines", str, "The post's back links as its file wrote them (older formats differ)."),
        Column(
            "share_status",
            str,
            "What became of the share host's text, one of: " + described_values() + " (the words in share_detail).",
        ),
        Column("content_hash", str, "sha256 over the content fields (title, date, category, tags, digest, body, links)."),
        Column("file_name", str, "The front-matter file under `_posts/`."),
        Column("first_seen_at", str, "UTC ISO 8601: first archived."),
        Column("last_seen_at", str, "UTC ISO 8601: last seen on the site."),
        Column("updated_at", str, "UTC ISO 8601: last change of content."),
        Column(
            "last_seen_run",
            int,
            "The crawl_runs row of the last run that saw it listed on the site.",
            since=2,
            public=False,  # a row id of this archive only: last_seen_at says when
        ),
        Column(
            "share_text_stored",
            str,
            "share_text as stored: null where it is the body (body_origin `share`), so that no text is "
            "stored twice. Read share_text.",
            since=13,
            public=False,
        ),
        Column(
            "share_fetched_at",
            str,
            "UTC ISO 8601: when the share-host request that gave the current share_status (and share_text) was made.",
            since=3,
        ),
        Column(
            "published_day",
            str,
            "`YYYY-MM-DD`: the day of published_at in Asia/Shanghai (generated from published_at, not stored).",
            since=4,
            generated="date(published_at, '+8 hours')",
        ),
        Column(
            "share_detail",
            str,
            "The share failure in words (`http 500`, `invalid json: …`, the breaker's reason for `skipped`); "
            "null for `ok` and `not-fetched`.",
            since=8,
        ),
        Column(
            "change_seq",
            int,
            "The change feed's sequence number of the post's last change: every insert, and every update of its "
            "public record (anything in posts.jsonl but `last_seen_at` and `updated_at`, its URLs included), "
            "takes the next value "
            "of one archive-wide sequence that never goes back (`finews changes --after SEQ`; see The change feed).",
            since=9,
        ),
        Column(
            "share_text",
            str,
            "The share host's `GetNewsText.do` text, as answered; null until a fetch succeeded "
            "(`finews share --backfill` fetches every post where it is null). Generated: body_html when "
            "body_origin is `share` (the body is the text as written), else share_text_stored.",
            since=3,
            generated=SHARE_TEXT_SQL,
            public=False,  # the body already, when body_origin is `share`; the record would carry it twice
        ),
    ),
)

REJECTS = Table(
    "rejects",
    "Pages that could not be archived: one row per URL, with the latest reason and the page as received.",
    "url",
    (
        Column("url", str, "The page's URL."),
        Column("reason", str, "Why it was rejected, in words (the latest run's reason)."),
        Column("raw_page", bytes, "The page body as received (latest)."),
        Column("run_id", int, "The crawl_runs row of the latest run that rejected it."),
        Column("times", int, "How many runs rejected it."),
        Column("first_rejected_at", str, "UTC ISO 8601."),
        Column("last_rejected_at", str, "UTC ISO 8601."),
        Column("post_name", str, "The post's name from its URL; null for rows written before migration 002.", since=2),
        Column(
            "page_received",
            int,
            "1: the page was received and read, its content is unusable (not fetched again unless `--full`); "
            "0: it could not be fetched (fetched again when listed again).",
            since=2,
        ),
    ),
)

CRAWL_RUNS = Table(
    "crawl_runs",
    "One row per `finews crawl`, `finews share` or `finews reparse` run.",
    "id",
    (
        Column("id", int, "Run id."),
        Column("site", str, "The start URL."),
        Column("started_at", str, "UTC ISO 8601."),
        Column("finished_at", str, "UTC ISO 8601; null while running, and for a run whose process was killed."),
        Column("status", str, "`running`, `finished`, `interrupted` or `failed`."),
        Column("exit_code", int, "The exit code of the run's last process; null when it was killed."),
        Column("requests", int, "HTTP requests issued."),
        Column("new", int, "Posts archived for the first time."),
        Column("updated", int, "Archived posts whose content changed."),
        Column("unchanged", int, "Archived posts seen again unchanged."),
        Column("rejected", int, "Rows added to rejects."),
        Column("errors", int, "Errors logged (failed downloads, share-host failures…)."),
        Column("files_written", int, "Front-matter files written or rewritten."),
        Column(
            "skipped_known",
            int,
            "Listed post pages not fetched because that page is already archived (an article published twice "
            "has two pages); each counted once in a run, its resumes included.",
            since=2,
        ),
        Column(
            "mode",
            str,
            "`incremental` (known posts skipped), `full` (every post fetched again), `share` "
            "(`finews share`: share texts only; `site` is then the share host) or `reparse` "
            "(`finews reparse`: posts rebuilt from stored pages, no request made).",
            since=2,
        ),
        Column("resumes", int, "How many times `finews crawl --resume` continued this run.", since=2),
        Column(
            "failure",
            str,
            "Why the run failed, in one line (`disk full: …`, `site … stopped answering: …`, `3 posts not "
            "archived …`); null unless status is `failed`. The same line the command printed on stderr.",
            since=5,
        ),
        Column(
            "merged",
            int,
            "Post pages that were an archived article's other route (the emnews post of an outlet post, or the "
            "reverse), merged into its record; not counted as `new` or `updated`.",
            since=6,
        ),
        Column(
            "skipped_rejected",
            int,
            "Listed post pages not fetched because that page was already read and rejected; each counted once "
            "in a run, its resumes included.",
            since=6,
        ),
        Column(
            "running_seconds",
            float,
            "How long the run ran, summed over its sessions (a resume adds its own, not the time between); "
            "committed with the counts, so a killed session keeps all but its last half second. Null for runs "
            "recorded before migration 006.",
            since=6,
        ),
        Column(
            "new_outlet",
            int,
            "New posts of an outlet (`kind` `media` or `market`): the base of the source and editor coverage. Field coverage: `finews check` compares a run's shares with earlier runs'.",
            since=10,
        ),
        Column(
            "new_with_source",
            int,
            "New outlet posts with a `source`. Field coverage: `finews check` compares a run's shares with earlier runs'.",
            since=10,
        ),
        Column(
            "new_with_editor",
            int,
            "New outlet posts with an `editor`. Field coverage: `finews check` compares a run's shares with earlier runs'.",
            since=10,
        ),
        Column(
            "new_with_body",
            int,
            "New posts whose `body_text` is not empty. Field coverage: `finews check` compares a run's shares with earlier runs'.",
            since=10,
        ),
        Column(
            "new_shareable",
            int,
            "New posts the share host has a text for (every kind but `sitenews`): the base of the share-failure rate. Field coverage: `finews check` compares a run's shares with earlier runs'.",
            since=10,
        ),
        Column(
            "new_body_from_page",
            int,
            "New shareable posts whose body came from the page, not the share host (`body_origin` not `share`). Field coverage: `finews check` compares a run's shares with earlier runs'.",
            since=10,
        ),
    ),
)

LISTED_POSTS = Table(
    "listed_posts",
    "Every post page a crawl run has accounted for (skipped as known, requested, archived or rejected), by "
    "name, with the last run that did: a resumed run neither counts nor fetches again what an earlier "
    "session of the same run already did.",
    "name",
    (
        Column("name", str, "The post's name from its URL.", since=6),
        Column("run_id", int, "The crawl_runs row of the last run that accounted for it.", since=6),
    ),
    since=6,
)

FRONTIER = Table(
    "frontier",
    "Posts discovered but not yet archived (nor rejected): the next run, resumed or not, fetches these first. "
    "A row is removed once its post's record and file are written, so a crash at any point leaves it here.",
    "name",
    (
        Column("name", str, "The post's name from its URL.", since=2),
        Column("url", str, "The post page's URL.", since=2),
        Column("discovered_at", str, "UTC ISO 8601.", since=2),
        Column("run_id", int, "The crawl_runs row of the run that discovered it.", since=2),
    ),
    since=2,
)

POST_REVISIONS = Table(
    "post_revisions",
    "Earlier texts of a post: when an archived post's title or body changes, the version it replaces.",
    ("info_code", "revision"),
    (
        Column("info_code", str, "The post (`posts.info_code`).", since=2),
        Column("revision", int, "1 for the first version replaced, then 2, 3…", since=2),
        Column("content_hash", str, "The replaced version's `content_hash`.", since=2),
        Column("title", str, "The replaced version's title.", since=2),
        Column("body_html", str, "The replaced version's body.", since=2),
        Column("seen_at", str, "UTC ISO 8601: when the replaced version was last seen.", since=2),
    ),
    since=2,
)

POST_URLS = Table(
    "post_urls",
    "Every URL an archived article was seen under, whichever route reached it (docs/routes.md).",
    "url",
    (
        Column("url", str, "The URL as seen.", since=3),
        Column(
            "kind",
            str,
            "`post` (a finews post page), `share` (a NewsShare.html link), `article` (an East Money article link) "
            "or `json` (the GetNewsText.do URL its text came from).",
            since=3,
        ),
        # Not public: a post's public record lists its URLs inside it.
        Column("info_code", str, "The article (`posts.info_code`).", since=3, public=False),
        Column("first_seen_at", str, "UTC ISO 8601: when the URL was first seen for this article.", since=3),
    ),
    since=3,
)

PAGES = Table(
    "pages",
    "The index of the WARC files (`OUTPUT/warc/`), where every page a crawl fetched is kept as received: one "
    "row per URL pointing at its latest capture, except that an error answer never replaces a stored "
    "successful one. `finews reparse` rebuilds every post from these, with no network.",
    "url",
    (
        Column("url", str, "The page's URL (after any redirect).", since=4),
        Column("status", int, "HTTP status.", since=4),
        Column(
            "callback",
            str,
            "The spider callback that read it (`parse_post`, `parse_share`, `parse_listing`, `parse_feed`…); "
            "null for robots.txt.",
            since=4,
        ),
        Column("fetched_at", str, "UTC ISO 8601.", since=4),
        Column("run_id", int, "The crawl_runs row of the run that fetched it.", since=4),
        Column("size", int, "The body's length in bytes, uncompressed.", since=4),
        Column("headers", str, "Null since version 12 (the headers are in the WARC record); before, the "
               "response headers as a JSON object, name → list of values.", since=4),
        Column(
            "body",
            bytes,
            "Null since version 12 (the body is the WARC record's payload); before, the body zlib-compressed.",
            since=4,
        ),
        Column("digest", str, "The payload's WARC-Payload-Digest (`sha1:` and base32): a later answer with the "
               "same digest is written as a `revisit` record and the row keeps pointing at this capture.",
               since=12),
        Column("warc_file", str, "The WARC file under `OUTPUT/warc/` holding the capture's `response` record "
               "(while a crawl writes it, the file is named with `.open` after it).", since=12),
        Column("warc_offset", int, "Where that record starts in the file (a gzip member of its own).", since=12),
        Column("warc_length", int, "The record's length in the file, compressed.", since=12),
        Column("warc_date", str, "The record's WARC-Date.", since=12),
    ),
    since=4,
)

TABLES = (POSTS, REJECTS, CRAWL_RUNS, FRONTIER, POST_REVISIONS, POST_URLS, PAGES, LISTED_POSTS)

POSTS_SEARCH = FullTextIndex(
    "posts_fts",
    "Full-text index of `posts` (title, body_text), SQLite FTS5 with the `trigram` tokenizer: any substring "
    "of three or more characters matches, so Chinese needs no word segmentation "
    "(`SELECT … FROM posts JOIN posts_fts ON posts_fts.rowid = posts.rowid WHERE posts_fts MATCH '\"准备金率\"'`). "
    "The text is not stored twice: the index reads it from `posts` (by rowid), and triggers keep it in step "
    "with every insert, update and delete. After anything that rebuilds `posts` (`sqlite-utils transform`), "
    "run `INSERT INTO posts_fts(posts_fts) VALUES ('rebuild')`.",
    "posts",
    ("title", "body_text"),
    "trigram",
    since=7,
)
SEARCH_INDEXES = (POSTS_SEARCH,)

POST_CHANGES = ChangeSequence(
    "change_counter",
    "The change feed's counter: one row, `last`, the sequence number last given to a change of a post "
    "(`posts.change_seq`). Readers of the feed keep the highest `change_seq` they have read and ask for the "
    "posts above it; since one writer at a time takes numbers inside its transaction, a number a reader can "
    "see is always above every number committed before it, so nothing is missed or read twice.",
    "posts",
    "change_seq",
    # The public record's columns as of migration 009, but last_seen_at (every run moves it for every listed
    # post), updated_at (a reparse rewrites it on posts it rebuilds unchanged: alone, it is no change) and
    # published_day (generated from published_at).
    ("name", "title", "published_at", "category", "tags", "kind", "media", "source", "editor", "digest",
     "body_html", "body_origin", "body_text", "summary", "share_url", "article_url", "post_url",
     "back_link_lines", "share_status", "content_hash", "file_name", "first_seen_at", "share_fetched_at",
     "share_detail"),
    (("post_urls", "info_code"),),
    "info_code",
    since=9,
)

LATEST_POSTS = View(
    "latest_posts",
    "The archived posts, newest first, with the columns a reader wants.",
    """SELECT info_code, published_at, published_day, category, media, kind, title, summary, source,
        coalesce(share_url, article_url) AS link, post_url, file_name, last_seen_at
    FROM posts ORDER BY published_at DESC, info_code DESC""",
    (
        Column("info_code", str, "The article."),
        Column("published_at", str, "ISO 8601 in +08:00."),
        Column("published_day", str, "The day in Asia/Shanghai."),
        Column("category", str, "Category slug."),
        Column("media", str, "Outlet; null for emnews."),
        Column("kind", str, "`media`, `market`, `emnews` or `sitenews`."),
        Column("title", str, "Headline."),
        Column("summary", str, "Digest, else the start of the text."),
        Column("source", str, "文章来源, when named."),
        Column("link", str, "The share link, else the East Money article link."),
        Column("post_url", str, "The post page."),
        Column("file_name", str, "The front-matter file under `_posts/`."),
        Column("last_seen_at", str, "UTC ISO 8601: last seen on the site."),
    ),
    since=4,
)

POSTS_PER_DAY = View(
    "posts_per_day",
    "How many posts each category published each day (Asia/Shanghai), newest day first.",
    """SELECT published_day AS day, category, count(*) AS posts FROM posts
    GROUP BY published_day, category ORDER BY day DESC, category""",
    (
        Column("day", str, "`YYYY-MM-DD` in Asia/Shanghai."),
        Column("category", str, "Category slug."),
        Column("posts", int, "Posts archived for that category and day."),
    ),
    since=4,
)
VIEWS = (LATEST_POSTS, POSTS_PER_DAY)
MIGRATIONS_TABLE = "schema_migrations"
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """An archive this version cannot read (written by a newer version)."""


def create_migrations_table(db: sqlite_utils.Database) -> None:
    """``schema_migrations``, as sqlite-utils 4 wrote it (frozen like the migrations); nothing when it exists."""
    if not db[MIGRATIONS_TABLE].exists():
        db.execute(f"""CREATE TABLE "{MIGRATIONS_TABLE}" (
   "name" TEXT PRIMARY KEY,
   "applied_at" TEXT
)""")


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this archive lacks, each in its own transaction; returns the version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"archive schema version {version} is newer than this finews ({SCHEMA_VERSION})")
    create_migrations_table(db)
    for number, (name, apply) in enumerate(MIGRATIONS, start=1):
        if number <= version:
            continue
        # One transaction per migration (``with db.conn`` would not hold sqlite-utils' own commits back).
        with db.atomic():
            apply(db)
            db.table(MIGRATIONS_TABLE).insert({"name": name, "applied_at": datetime.now(UTC).isoformat()})
            db.execute(f"PRAGMA user_version = {number}")
    return SCHEMA_VERSION


_SQL_TYPES = {str: "TEXT", int: "INTEGER", bytes: "BLOB", float: "REAL"}


def schema_markdown() -> str:
    lines = [
        "# The archive schema",
        "",
        f"Generated from `pipelines/schema.py` (schema version {SCHEMA_VERSION}); do not edit by hand:",
        "`python -m pipelines.schema > docs/schema.md`.",
        "",
        (
            "`archive.db` is SQLite in WAL mode. `PRAGMA user_version` is the schema version; "
            f"`{MIGRATIONS_TABLE}` lists the applied migrations."
        ),
    ]
    for table in TABLES:
        lines += ["", f"## `{table.name}`", "", table.doc, "", "| column | type | meaning |", "|---|---|---|"]
        for column in table.columns:
            key = " (primary key)" if column.name in table.pk_columns else ""
            kind = " (generated)" if column.generated else ""
            if table is POSTS and not column.public:
                kind += " (not in posts.jsonl)"
            lines.append(f"| `{column.name}` | {_SQL_TYPES[column.type]}{key}{kind} | {column.doc} |")
    for index in SEARCH_INDEXES:
        lines += ["", f"## `{index.name}` (full-text search)", "", index.doc, "",
                  (f"Indexes `{index.table}`: {', '.join(f'`{column}`' for column in index.columns)}; "
                   f"tokenizer `{index.tokenize}`.")]
    lines += ["", f"## `{POST_CHANGES.name}` (the change feed)", "", POST_CHANGES.doc]
    for view in VIEWS:
        lines += ["", f"## `{view.name}` (view)", "", view.doc, "", "| column | type | meaning |", "|---|---|---|"]
        lines += [f"| `{column.name}` | {_SQL_TYPES[column.type]} | {column.doc} |" for column in view.columns]
    lines += ["", "## Migrations", ""]
    lines += [f"{number}. `{name}`" for number, (name, _apply) in enumerate(MIGRATIONS, start=1)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_markdown())
