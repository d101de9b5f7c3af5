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


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    pk: str
    columns: tuple[Column, ...]

    def create(self, db: sqlite_utils.Database) -> None:
        db[self.name].create({column.name: column.type for column in self.columns}, pk=self.pk, not_null={self.pk})


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
        Column("finished_at", str, "UTC ISO 8601; null while running."),
        Column("status", str, "`running`, `finished`, `interrupted` or `failed`."),
        Column("exit_code", int, "The process exit code the run ended with."),
        Column("requests", int, "HTTP requests issued."),
        Column("new", int, "Posts archived for the first time."),
        Column("updated", int, "Archived posts whose content changed."),
        Column("unchanged", int, "Archived posts seen again unchanged."),
        Column("rejected", int, "Rows added to rejects."),
        Column("errors", int, "Errors logged (failed downloads, share-host failures…)."),
        Column("files_written", int, "Front-matter files written or rewritten."),
    ),
)

TABLES = (POSTS, REJECTS, CRAWL_RUNS)
MIGRATIONS_TABLE = "schema_migrations"


def _m001_initial(db: sqlite_utils.Database) -> None:
    for table in TABLES:
        table.create(db)
    db["posts"].create_index(["published_at"])
    db["posts"].create_index(["category", "published_at"])


# Append only: a released migration is never edited, a new one is added after it.
MIGRATIONS: tuple[tuple[str, Callable[[sqlite_utils.Database], None]], ...] = (
    ("001_initial", _m001_initial),
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
        with db.conn:
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
            key = " (primary key)" if column.name == table.pk else ""
            lines.append(f"| `{column.name}` | {_SQL_TYPES[column.type]}{key} | {column.doc} |")
    lines += ["", "## Migrations", ""]
    lines += [f"{number}. `{name}`" for number, (name, _apply) in enumerate(MIGRATIONS, start=1)]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_markdown())
