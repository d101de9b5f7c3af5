"""Datasette's metadata for the archive, made from the schema module so its descriptions never drift.

``finews serve`` writes it beside the archive (``OUTPUT/datasette-metadata.yml``) and runs Datasette with
it; ``python -m pipelines.datasette`` prints it. It gives the titles and descriptions of every table,
view and column, full-text search on ``posts`` through ``posts_fts``, and facets on category, media and day.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

from pipelines.archive import ARCHIVE_FILE
from pipelines.files import write_atomically
from pipelines.schema import LATEST_POSTS, POSTS, POSTS_PER_DAY, POSTS_SEARCH, TABLES, VIEWS

METADATA_FILE = "datasette-metadata.yml"
# Datasette names a database after its file.
DATABASE = Path(ARCHIVE_FILE).stem
SITE_URL = "http://finews.withounder.com/"
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


def datasette_metadata() -> dict[str, Any]:
    settings = _table_settings()
    tables: dict[str, Any] = {}
    for table in (*TABLES, *VIEWS):
        description = table.doc
        if table is POSTS:
            description += (
                " Search matches any substring of three or more characters in the title or the text "
                "(SQLite FTS5, trigram tokenizer); shorter terms find nothing here (`finews search` scans for them)."
            )
        tables[table.name] = {
            "description": description,
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
            }
        },
    }


def metadata_yaml() -> str:
    return yaml.safe_dump(datasette_metadata(), allow_unicode=True, sort_keys=False, width=110)


def write_metadata(output: Path) -> Path:
    """``OUTPUT/datasette-metadata.yml``, for this finews's schema; rewritten only when it would change."""
    path = output / METADATA_FILE
    text = metadata_yaml()
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_atomically(path, text)
    return path


if __name__ == "__main__":
    sys.stdout.write(metadata_yaml())
