"""The archive's schema: the one place that defines it. The store, docs/schema.md and the tests read it here.

Changes are numbered forward migrations; each applied one is recorded in ``schema_migrations`` and
``PRAGMA user_version`` holds the highest, so an older archive is upgraded in place on open.
Regenerate the docs with ``python -m pipelines.schema > docs/schema.md`` (a test checks they agree).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlite_utils


@dataclass(frozen=True)
class Column:
    name: str
    type: type
    doc: str
    since: int = 1  # the migration that added it


@dataclass(frozen=True)
class Table:
    """A table as it is now; ``since`` on the table and its columns says which migration added what.

    Migrations materialise only their own number's part (``create``, ``add_columns``), so a released
    migration that loops over TABLES keeps creating exactly what it created when it was released.
    """

    name: str
    doc: str
    pk: str | tuple[str, ...]
    columns: tuple[Column, ...]
    since: int = 1

    @property
    def pk_columns(self) -> tuple[str, ...]:
        return (self.pk,) if isinstance(self.pk, str) else self.pk

    def create(self, db: sqlite_utils.Database, migration: int = 1) -> None:
        """The table as migration ``migration`` created it; nothing when that migration did not add it."""
        if self.since != migration:
            return
        db[self.name].create(
            {column.name: column.type for column in self.columns if column.since == migration},
            pk=self.pk,
            not_null=set(self.pk_columns),
        )

    def add_columns(self, db: sqlite_utils.Database, migration: int) -> None:
        """The columns migration ``migration`` added to this table when the table is older than it."""
        if self.since >= migration:
            return
        for column in self.columns:
            if column.since == migration:
                db[self.name].add_column(column.name, column.type)


POSTS = Table(
    "posts",
    "One row per article (infoCode), whichever routes it was reached by.",
    "info_code",
    (
        Column("info_code", str, "`NW` + 18 digits: the East Money article id; `site:<name>` for site notices."),
        Column("name", str, "The post's file slug (`NW…` for outlet posts, 18 digits for emnews)."),
        Column("title", str, "Headline, entities decoded."),
        Column("published_at", str, "ISO 8601 instant in +08:00 (a zone-less original is read as UTC)."),
        Column("category", str, "Category slug, as in `/category/<slug>.html`."),
        Column("tags", str, "JSON array of the post's tags."),
        Column("kind", str, "`media`, `market`, `emnews` or `sitenews`."),
        Column("media", str, "Outlet name from the tag (`今晚报`); null for emnews."),
        Column("source", str, "文章来源 text, markup stripped; null when absent."),
        Column("editor", str, "Editor named in a `(…编辑NAME)` note; null when absent."),
        Column("digest", str, "The emnews `> ` digest line's text; null when absent."),
        Column("body_html", str, "Article body only; exact when body_origin is `share`."),
        Column("body_origin", str, "`share` (GetNewsText answer, as written) or `page` (rendered page)."),
        Column("body_text", str, "Body text, one line per block."),
        Column("summary", str, "Digest, else the first 120 characters of body_text."),
        Column("share_url", str, "NewsShare.html link (outlet and market posts)."),
        Column("article_url", str, "East Money article link (emnews posts)."),
        Column("post_url", str, "The post page the record was built from."),
        Column("back_link_lines", str, "The post's back links as its file wrote them (older formats differ)."),
        Column("share_status", str, "`ok`, or why the share host's text was not used."),
        Column("content_hash", str, "sha256 over the content fields (title, date, category, tags, digest, body, links)."),
        Column("file_name", str, "The front-matter file under `_posts/`."),
        Column("first_seen_at", str, "UTC ISO 8601: first archived."),
        Column("last_seen_at", str, "UTC ISO 8601: last seen on the site."),
        Column("updated_at", str, "UTC ISO 8601: last change of content."),
        Column("last_seen_run", int, "The crawl_runs row of the last run that saw it listed on the site.", since=2),
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
    "One row per `finews crawl` run.",
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
        Column("skipped_known", int, "Post links not fetched because the post is already archived.", since=2),
        Column("mode", str, "`incremental` (known posts skipped) or `full` (every post fetched again).", since=2),
        Column("resumes", int, "How many times `finews crawl --resume` continued this run.", since=2),
    ),
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

TABLES = (POSTS, REJECTS, CRAWL_RUNS, FRONTIER, POST_REVISIONS)
MIGRATIONS_TABLE = "schema_migrations"


def _m001_initial(db: sqlite_utils.Database) -> None:
    for table in TABLES:
        table.create(db)
    db["posts"].create_index(["published_at"])
    db["posts"].create_index(["category", "published_at"])


def _m002_scheduled_runs(db: sqlite_utils.Database) -> None:
    for table in TABLES:
        table.create(db, 2)
        table.add_columns(db, 2)
    # Incremental runs ask, for every listed post, whether its name or infoCode is archived.
    db["posts"].create_index(["name"])
    db["rejects"].create_index(["post_name"])


# Append only: a released migration is never edited, a new one is added after it.
MIGRATIONS: tuple[tuple[str, Callable[[sqlite_utils.Database], None]], ...] = (
    ("001_initial", _m001_initial),
    ("002_scheduled_runs", _m002_scheduled_runs),
)
SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    """An archive this version cannot read (written by a newer version)."""


def migrate(db: sqlite_utils.Database) -> int:
    """Apply the migrations this archive lacks, each in its own transaction; returns the version."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise SchemaError(f"archive schema version {version} is newer than this finews ({SCHEMA_VERSION})")
    if not db[MIGRATIONS_TABLE].exists():
        db[MIGRATIONS_TABLE].create({"name": str, "applied_at": str}, pk="name")
    for number, (name, apply) in enumerate(MIGRATIONS, start=1):
        if number <= version:
            continue
        # One transaction per migration (``with db.conn`` would not hold sqlite-utils' own commits back).
        with db.atomic():
            apply(db)
            db[MIGRATIONS_TABLE].insert({"name": name, "applied_at": datetime.now(timezone.utc).isoformat()})
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
        "`archive.db` is SQLite in WAL mode. `PRAGMA user_version` is the schema version; "
        f"`{MIGRATIONS_TABLE}` lists the applied migrations.",
    ]
    for table in TABLES:
        lines += ["", f"## `{table.name}`", "", table.doc, "", "| column | type | meaning |", "|---|---|---|"]
        for column in table.columns:
            key = " (primary key)" if column.name in table.pk_columns else ""
            lines.append(f"| `{column.name}` | {_SQL_TYPES[column.type]}{key} | {column.doc} |")
    lines += ["", "## Migrations", ""]
    lines += [f"{number}. `{name}`" for number, (name, _apply) in enumerate(MIGRATIONS, start=1)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_markdown())
