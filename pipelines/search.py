"""``finews search``: the archived posts whose title or text holds every term of a query, newest first.

The index (``posts_fts``) uses SQLite's trigram tokenizer, so a term of three or more characters is looked
up in the index as a substring, Chinese included. A shorter term (many Chinese words have two characters:
央行, 降准) cannot be looked up there: it is matched with LIKE, which reads every post the indexed terms
left (all of them when there is none), and the result says so.

The whole rule is one SQL statement taking the query as it was typed (``:words``): ``finews search`` runs
it, and Datasette serves it as the canned query ``search_posts`` (pipelines/datasette.py), so a reader of
``finews serve`` finds what the command finds, two-character words included.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pipelines.schema import POSTS, POSTS_SEARCH

MIN_INDEXED_LENGTH = 3  # the trigram tokenizer's: a shorter string matches no row through the index
SNIPPET_CONTEXT = 30  # characters each side of the first match
HIGHLIGHT = ("[", "]")
ELLIPSIS = "…"
WORDS_PARAMETER = "words"
# What SQL splits terms on: Python's str.split() splits on every Unicode space, SQL only on these (tab, line
# feed, carriage return, no-break space, ideographic space: what a Chinese keyboard types between words).
_SPACES = (9, 10, 13, 160, 12288)


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


def _spaces_to_blanks(expression: str) -> str:
    for code in _SPACES:
        expression = f"replace({expression}, char({code}), ' ')"
    return expression


def search_sql(columns: str, newest_first: bool = True) -> str:
    """The posts (``posts`` is the row) holding every term of ``:words``, selecting ``columns``.

    Each term is plain text: an indexed one is quoted as an FTS5 phrase, a short one's ``%``, ``_`` and
    backslash are escaped for LIKE. No term at all selects nothing. Every placeholder is ``:words``.
    """
    posts, index = POSTS.name, POSTS_SEARCH.name
    words = _spaces_to_blanks(f"coalesce(:{WORDS_PARAMETER}, '')")
    like_escaped = r"replace(replace(replace(term, '\', '\\'), '%', '\%'), '_', '\_')"
    holds_scanned = (
        rf"NOT EXISTS (SELECT 1 FROM scanned WHERE NOT (coalesce({posts}.title, '') LIKE pattern ESCAPE '\' "
        rf"OR coalesce({posts}.body_text, '') LIKE pattern ESCAPE '\'))"
    )
    statement = rf"""WITH RECURSIVE
  split(term, rest) AS (
    SELECT '', ltrim({words} || ' ')
    UNION ALL
    SELECT substr(rest, 1, instr(rest, ' ') - 1), ltrim(substr(rest, instr(rest, ' '))) FROM split WHERE rest != ''
  ),
  terms(term) AS (SELECT term FROM split WHERE term != ''),
  indexed(expression) AS (
    SELECT group_concat('"' || replace(term, '"', '""') || '"', ' AND ') FROM terms
    WHERE length(term) >= {MIN_INDEXED_LENGTH}
  ),
  scanned(pattern) AS (
    SELECT '%' || {like_escaped} || '%' FROM terms WHERE length(term) < {MIN_INDEXED_LENGTH}
  ),
  -- The index narrows the posts when a term is long enough (MATCH '""' then: MATCH NULL is an error);
  -- otherwise every post is read. Short terms are checked in each branch, on the row it already has.
  matched(id) AS (
    SELECT {posts}.rowid FROM {index} JOIN {posts} ON {posts}.rowid = {index}.rowid
    WHERE {index} MATCH (SELECT coalesce(expression, '""') FROM indexed) AND {holds_scanned}
    UNION ALL
    SELECT {posts}.rowid FROM {posts}
    WHERE (SELECT expression FROM indexed) IS NULL AND EXISTS (SELECT 1 FROM terms) AND {holds_scanned}
  )
SELECT {columns}
FROM matched JOIN {posts} ON {posts}.rowid = matched.id"""
    if newest_first:
        statement += f"\nORDER BY {posts}.published_at DESC, {posts}.info_code DESC"
    return statement


def outlet_sql() -> str:
    """Who published a post: its outlet, else its first tag (东财滚动新闻 for emnews), else its category."""
    posts = POSTS.name
    return f"coalesce({posts}.media, json_extract({posts}.tags, '$[0]'), {posts}.category)"


def snippet_around(text: str, terms: list[str]) -> str:
    """The text around the earliest occurrence of any of ``terms`` (case-insensitive), the term highlighted."""
    folded = text.casefold()
    found = [(at, term) for term in terms if (at := folded.find(term.casefold())) >= 0]
    if not found:
        return text[: 2 * SNIPPET_CONTEXT] + (ELLIPSIS if len(text) > 2 * SNIPPET_CONTEXT else "")
    at, term = min(found)
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
    params = {WORDS_PARAMETER: " ".join(terms)}
    posts = POSTS.name
    total = db.execute(search_sql("count(*)", newest_first=False), params).fetchone()[0]
    columns = f"{posts}.published_at, {outlet_sql()}, {posts}.title, {posts}.post_url, {posts}.body_text"
    rows = db.execute(f"{search_sql(columns)}\nLIMIT {int(limit)}", params)
    hits = tuple(
        # One line: body_text has a line per block.
        SearchHit(published_at or "", outlet or "", title or "", post_url or "",
                  " ".join(snippet_around(body_text or "", terms).split()))
        for published_at, outlet, title, post_url, body_text in rows
    )
    return SearchResult(hits, total, tuple(term for term in terms if len(term) < MIN_INDEXED_LENGTH))
