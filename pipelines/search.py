"""``finews search``: the archived posts whose title or text holds every term of a query, newest first.

The index (``posts_fts``) uses SQLite's trigram tokenizer, so a term of three or more characters is looked
up in the index as a substring, Chinese included. A shorter term (many Chinese words have two characters:
央行, 降准) cannot be looked up there: it is matched with LIKE, which reads every post the indexed terms
left (all of them when there is none), and the result says so.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pipelines.schema import POSTS, POSTS_SEARCH

MIN_INDEXED_LENGTH = 3  # the trigram tokenizer's: a shorter string matches no row through the index
SNIPPET_TOKENS = 30  # trigram tokens: about as many characters
SNIPPET_CONTEXT = 30  # characters each side of a LIKE match
HIGHLIGHT = ("[", "]")
ELLIPSIS = "…"


class QueryError(ValueError):
    """A query with nothing to search for."""


@dataclass(frozen=True)
class SearchHit:
    published_at: str
    outlet: str
    title: str
    post_url: str
    snippet: str


@dataclass(frozen=True)
class SearchResult:
    hits: tuple[SearchHit, ...]
    total: int
    scanned_terms: tuple[str, ...]  # the terms matched with LIKE, not through the index


def fts_phrase(term: str) -> str:
    """A term as an FTS5 string: quoted, so that no character of it is read as query syntax."""
    return '"' + term.replace('"', '""') + '"'


def like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def snippet_around(text: str, term: str) -> str:
    """The text around the first occurrence of ``term`` (case-insensitive), the term highlighted."""
    at = text.casefold().find(term.casefold())
    if at < 0:
        return text[: 2 * SNIPPET_CONTEXT] + (ELLIPSIS if len(text) > 2 * SNIPPET_CONTEXT else "")
    start, end = max(at - SNIPPET_CONTEXT, 0), at + len(term)
    return (
        (ELLIPSIS if start else "") + text[start:at] + HIGHLIGHT[0] + text[at:end] + HIGHLIGHT[1]
        + text[end : end + SNIPPET_CONTEXT] + (ELLIPSIS if end + SNIPPET_CONTEXT < len(text) else "")
    )


def search(db: sqlite3.Connection, query: str, limit: int) -> SearchResult:
    """Posts holding every whitespace-separated term of ``query`` in their title or body text."""
    terms = query.split()
    if not terms:
        raise QueryError("nothing to search for: give one or more words")
    indexed = [term for term in terms if len(term) >= MIN_INDEXED_LENGTH]
    scanned = [term for term in terms if len(term) < MIN_INDEXED_LENGTH]
    posts, index = POSTS.name, POSTS_SEARCH.name
    where: list[str] = []
    params: list[str | int] = []
    if indexed:
        source = f"{posts} JOIN {index} ON {index}.rowid = {posts}.rowid"
        where.append(f"{index} MATCH ?")
        params.append(" AND ".join(fts_phrase(term) for term in indexed))
        body = POSTS_SEARCH.columns.index("body_text")
        open_mark, close_mark = HIGHLIGHT
        snippet = f"snippet({index}, {body}, '{open_mark}', '{close_mark}', '{ELLIPSIS}', {SNIPPET_TOKENS})"
    else:
        source, snippet = posts, "NULL"
    for term in scanned:
        where.append(f"({posts}.title LIKE ? ESCAPE '\\' OR {posts}.body_text LIKE ? ESCAPE '\\')")
        params += [like_pattern(term)] * 2
    condition = " AND ".join(where)
    total = db.execute(f"SELECT count(*) FROM {source} WHERE {condition}", params).fetchone()[0]
    rows = db.execute(
        f"""SELECT {posts}.published_at, coalesce({posts}.media, json_extract({posts}.tags, '$[0]'), {posts}.category),
                {posts}.title, {posts}.post_url, {snippet}, {posts}.body_text
            FROM {source} WHERE {condition}
            ORDER BY {posts}.published_at DESC, {posts}.info_code DESC LIMIT ?""",
        [*params, limit],
    )
    hits = tuple(
        SearchHit(
            published_at or "", outlet or "", title or "", post_url or "",
            # One line: body_text has a line per block.
            " ".join(((fts_snippet or "") if indexed else snippet_around(body_text or "", scanned[0])).split()),
        )
        for published_at, outlet, title, post_url, fts_snippet, body_text in rows
    )
    return SearchResult(hits, total, tuple(scanned))
