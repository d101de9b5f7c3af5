"""The public record of a post: what ``finews export --format jsonl`` writes, one JSON object a line.

Derived from the schema (``Column.public``), so a column added to ``posts`` reaches the record and its
documentation with no other change. Free of Scrapy: any tool that prints posts (an export, a change feed)
builds them with ``public_post`` and writes them with ``public_line``, so every one prints the same shape.
Regenerate the docs with ``python -m pipelines.public > docs/posts-jsonl.md`` (a test checks they agree).
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pipelines.schema import POST_URLS, POSTS, Column, Table

# Where ``finews export --format jsonl`` writes the records, in the output folder.
JSONL_FILE = "posts.jsonl"
PUBLIC_POST_COLUMNS: tuple[Column, ...] = tuple(column for column in POSTS.columns if column.public)
PUBLIC_URL_COLUMNS: tuple[Column, ...] = tuple(column for column in POST_URLS.columns if column.public)
URLS_KEY = "post_urls"

# No public column holds bytes: JSON has no type for them, and a new one must choose its own encoding.
_JSON_TYPES = {str: "string", int: "integer", float: "number"}


def _public_value(column: Column, value: Any) -> Any:
    if column.holds_json and value is not None:
        return json.loads(value)
    return value


def public_post(row: Mapping[str, Any], urls: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The public record of a ``posts`` row (every public column, in the schema's order) with its
    ``post_urls`` rows (every public column), the URLs ordered by kind then URL whatever order they come in,
    so that the same archive always gives the same bytes."""
    record = {column.name: _public_value(column, row[column.name]) for column in PUBLIC_POST_COLUMNS}
    listed = [{column.name: url[column.name] for column in PUBLIC_URL_COLUMNS} for url in urls]
    record[URLS_KEY] = sorted(listed, key=lambda url: (url["kind"] or "", url["url"]))
    return record


def public_line(record: Mapping[str, Any]) -> str:
    """One line of posts.jsonl: the record as JSON, UTF-8 text kept as is, ending in a newline."""
    return json.dumps(record, ensure_ascii=False) + "\n"


def public_posts(db: sqlite3.Connection, since: str | None = None) -> Iterator[dict[str, Any]]:
    """Every post's public record in publication order (then infoCode), streamed; ``since`` keeps the posts
    published on or after it (compared as text with the +08:00 ``published_at``)."""
    posts = db.cursor()
    posts.row_factory = sqlite3.Row
    where, params = ("WHERE published_at >= ?", [since]) if since else ("", [])
    urls_sql = f"SELECT * FROM {POST_URLS.name} WHERE info_code = ?"
    for row in posts.execute(f"SELECT * FROM {POSTS.name} {where} ORDER BY published_at, info_code", params):
        urls = db.cursor()
        urls.row_factory = sqlite3.Row
        yield public_post(row, urls.execute(urls_sql, [row["info_code"]]))


def _field_line(table: Table, column: Column, prefix: str = "") -> str:
    kind = "array" if column.holds_json else _JSON_TYPES[column.type]
    nullable = "" if column.name in table.pk_columns else " or null"
    return f"| `{prefix}{column.name}` | {kind}{nullable} | {column.doc} |"


def public_markdown() -> str:
    lines = [
        "# `posts.jsonl`: the public record of a post",
        "",
        "Generated from `pipelines/schema.py` by `pipelines/public.py`; do not edit by hand:",
        "`python -m pipelines.public > docs/posts-jsonl.md`.",
        "",
        "`finews export --format jsonl` writes `OUTPUT/posts.jsonl`: one JSON object a line (UTF-8, `\\n` after",
        "each), one line per `posts` row, in publication order (`published_at`, then `info_code`). Each object",
        "has the keys below in this order; a column of `posts` marked `(not in posts.jsonl)` in",
        "[schema.md](schema.md) is the archive's own bookkeeping and is left out. A second export of the same",
        "archive writes the same bytes.",
        "",
        "| key | JSON type | meaning |",
        "|---|---|---|",
    ]
    lines += [_field_line(POSTS, column) for column in PUBLIC_POST_COLUMNS]
    lines.append(
        f"| `{URLS_KEY}` | array of objects | Every URL the article was seen under (the `{POST_URLS.name}` "
        "table), ordered by `kind` then `url`; each object has the keys below. |"
    )
    lines += [_field_line(POST_URLS, column, f"{URLS_KEY}[].") for column in PUBLIC_URL_COLUMNS]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(public_markdown())
