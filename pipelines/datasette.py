"""Datasette's metadata for the archive, made from the schema module so its descriptions never drift.

``finews serve`` writes it beside the archive (``OUTPUT/datasette-metadata.yml``) and runs Datasette with
it; ``python -m pipelines.datasette`` prints it. It gives the titles and descriptions of every table,
view and column, full-text search on ``posts`` through ``posts_fts``, facets on category, media and day, and
the canned query ``search_posts``: ``finews search``'s own statement, which finds two-character words too.
"""

from __future__ import annotations

import html
import sys
from pathlib import Path
from typing import Any

import yaml

from pipelines.archive import ARCHIVE_FILE
from pipelines.files import write_atomically
from pipelines.schema import LATEST_POSTS, POSTS, POSTS_PER_DAY, POSTS_SEARCH, TABLES, VIEWS
from pipelines.search import MIN_INDEXED_LENGTH, WORDS_PARAMETER, outlet_sql, search_sql

METADATA_FILE = "datasette-metadata.yml"
# Datasette names a database after its file.
DATABASE = Path(ARCHIVE_FILE).stem
SITE_URL = "http://finews.withounder.com/"
SEARCH_QUERY = "search_posts"
# Relative to the table's page (/DATABASE/posts), so it holds under any base_url Datasette is given.
SEARCH_QUERY_LINK = f'<a href="{SEARCH_QUERY}">{SEARCH_QUERY}</a>'
# A day facet on the generated Asia/Shanghai day: Datasette's date facet on published_at would take the
# UTC date (date('2021-12-27T01:00:00+08:00') is 2021-12-26).
def post_facets() -> list[Any]:
    return ["category", "media", {"date": "published_day"}]


def _table_settings() -> dict[str, dict[str, Any]]:
    """What Datasette is told beyond descriptions (fresh objects each: YAML would write shared ones as anchors)."""
    return {
        POSTS.name: {
            "label_column": "title",
            "sort_desc": "published_at",
            "fts_table": POSTS_SEARCH.name,
            "facets": post_facets(),
        },
        LATEST_POSTS.name: {"facets": post_facets()},
        POSTS_PER_DAY.name: {"facets": ["category"]},
    }


def _posts_search_note(query: str) -> str:
    """What the table's search box misses, and where to go instead (``query``: the query's name, or a link)."""
    return (
        f" The search box matches any substring of {MIN_INDEXED_LENGTH} or more characters in the title or the "
        "text (SQLite FTS5, trigram tokenizer), and finds nothing for a shorter word (央行, 降准: the commonest "
        f"Chinese query); the {query} query finds those too, as `finews search` does."
    )


def search_query() -> dict[str, Any]:
    """``finews search`` as a canned query: its own statement, a few columns a reader wants, newest first."""
    posts = POSTS.name
    columns = (
        f"{posts}.published_at, {outlet_sql()} AS outlet, {posts}.title, {posts}.summary, {posts}.post_url, "
        f"{posts}.info_code"
    )
    return {
        "title": "Search posts (two-character words too)",
        "description": (
            f"The posts holding every word of `{WORDS_PARAMETER}` (separated by spaces) in their title or text, "
            f"newest first: the same statement as `finews search`. A word of {MIN_INDEXED_LENGTH} or more "
            "characters is looked up in the full-text index; a shorter one (央行, 降准) is matched with LIKE, "
            "reading the posts the other words left (all of them when there is none). Each word is plain text."
        ),
        "sql": search_sql(columns),
        "hide_sql": True,
    }


def datasette_metadata() -> dict[str, Any]:
    settings = _table_settings()
    tables: dict[str, Any] = {}
    for table in (*TABLES, *VIEWS):
        description: dict[str, str] = {"description": table.doc}
        if table is POSTS:
            # Datasette shows description_html instead of description on the page: both say it, one links.
            description = {
                "description": table.doc + _posts_search_note(SEARCH_QUERY),
                "description_html": html.escape(table.doc) + _posts_search_note(SEARCH_QUERY_LINK),
            }
        tables[table.name] = {
            **description,
            **settings.get(table.name, {}),
            "columns": {column.name: column.doc for column in table.columns},
        }
    return {
        "title": "finews archive",
        "description": (
            "Chinese financial news from the finews site, archived by finews-archive: one row per East Money "
            "article (infoCode), with every page as fetched."
        ),
        "source": "finews",
        "source_url": SITE_URL,
        "databases": {
            DATABASE: {
                "description": "archive.db: the SQLite archive a crawl writes (schema: docs/schema.md).",
                "tables": tables,
                "queries": {SEARCH_QUERY: search_query()},
            }
        },
    }


class _Dumper(yaml.SafeDumper):
    """Safe YAML that writes a multi-line string (the canned query's SQL) as a block, line for line."""


def _string(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _string)


def metadata_yaml() -> str:
    return yaml.dump(datasette_metadata(), Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=110)


def write_metadata(output: Path) -> Path:
    """``OUTPUT/datasette-metadata.yml``, for this finews's schema; rewritten only when it would change."""
    path = output / METADATA_FILE
    text = metadata_yaml()
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomically(path, text)
    return path


if __name__ == "__main__":
    sys.stdout.write(metadata_yaml())
