"""`finews search`: Chinese substrings found through the trigram index, shorter terms by a stated scan."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
import sqlite_utils

from pipelines.archive import Archive
from pipelines.search import QueryError, search, snippet_around
from tests.test_crawl import crawl_generated_site, finews, rows


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return crawl_generated_site(tmp_path_factory.mktemp("search"), 30)


def posts(work):
    return rows(work / "out" / "archive.db", "SELECT * FROM posts")


def hits_of(stdout: str) -> list[list[str]]:
    """Each hit's three lines (date, outlet and title; post URL; snippet)."""
    lines = stdout.splitlines()[:-1]
    return [lines[index : index + 3] for index in range(0, len(lines), 3)]


def test_a_chinese_word_from_a_text_finds_exactly_the_posts_holding_it_newest_first(work):
    archived = posts(work)
    word = archived[0]["body_text"].split("\n")[0][2:7]  # five characters from inside a sentence
    expected = sorted((row for row in archived if word in row["title"] or word in row["body_text"]),
                      key=lambda row: (row["published_at"], row["info_code"]), reverse=True)
    result = finews("search", word, "--output", "out", "--limit", "100", cwd=work)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    hits = hits_of(result.stdout)
    assert [hit[1].strip() for hit in hits] == [row["post_url"] for row in expected]
    for hit, row in zip(hits, expected, strict=True):
        assert hit[0] == f"{row['published_at'][:10]} {row['published_at'][11:16]}  {row['media'] or '东财滚动新闻'}  {row['title']}"
        assert f"[{word}]" in hit[2] or word in row["title"]
    assert result.stdout.splitlines()[-1] == f"{len(expected)} posts match, {len(expected)} shown (newest first)"


def test_limit_shows_the_newest_and_counts_them_all(work):
    result = finews("search", "业内人士", "--output", "out", "--limit", "2", cwd=work)
    total = sum("业内人士" in row["title"] or "业内人士" in row["body_text"] for row in posts(work))
    assert total > 2
    assert len(hits_of(result.stdout)) == 2
    assert result.stdout.splitlines()[-1] == f"{total} posts match, 2 shown (newest first)"


def test_a_two_character_word_is_found_by_a_stated_scan(work):
    result = finews("search", "板块", "--output", "out", "--limit", "100", cwd=work)
    expected = [row for row in posts(work) if "板块" in row["title"] or "板块" in row["body_text"]]
    assert result.returncode == 0 and expected
    assert "'板块' is shorter than 3 characters" in result.stderr and "LIKE" in result.stderr
    assert len(hits_of(result.stdout)) == len(expected)
    assert all("[板块]" in hit[2] or "板块" in hit[0] for hit in hits_of(result.stdout))


def test_every_term_must_match_and_query_syntax_is_only_text(work):
    archived = posts(work)
    first, second = archived[0]["title"][:3], archived[0]["body_text"][-4:-1]
    both = finews("search", first, second, "--output", "out", "--limit", "100", cwd=work)
    expected = {row["post_url"] for row in archived
                if all(term in row["title"] or term in row["body_text"] for term in (first, second))}
    assert {hit[1].strip() for hit in hits_of(both.stdout)} == expected
    # Each is searched for as the text it is: `%` finds the posts that print a percentage.
    archive = Archive.open(work / "out" / "archive.db")
    try:
        for hostile in ('"', 'AND OR NOT', 'NEAR(a b)', '*', 'title:降准', '%', '_', "'; DROP TABLE posts; --"):
            literal = sum(all(term.casefold() in (row["title"] + row["body_text"]).casefold() for term in hostile.split())
                          for row in archived)
            assert search(archive.db.conn, hostile, 1).total == literal, hostile
    finally:
        archive.close()
    assert len(posts(work)) == len(archived)


def test_sqlite_utils_searches_the_archive_through_its_index_with_no_configuration(work):
    expected = {row["info_code"] for row in posts(work) if "营商环境" in row["title"] or "营商环境" in row["body_text"]}
    assert expected
    found = subprocess.run(
        [sys.executable, "-m", "sqlite_utils", "search", "out/archive.db", "posts", "营商环境", "--csv", "-c", "info_code"],
        cwd=work, capture_output=True, text=True, timeout=60, check=False,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.split()[0] == "info_code" and set(found.stdout.split()[1:]) == expected
    db = sqlite_utils.Database(work / "out" / "archive.db")
    assert {row["info_code"] for row in db["posts"].search("营商环境")} == expected
    db.close()


def test_nothing_to_search_for_and_no_archive_are_clear_errors(work, tmp_path):
    empty = finews("search", "  ", "--output", "out", cwd=work)
    assert empty.returncode == 2 and "nothing to search for" in empty.stderr
    missing = finews("search", "央行", "--output", "nothing-here", cwd=tmp_path)
    assert missing.returncode == 1 and "no archive at nothing-here/archive.db" in missing.stderr


def test_search_functions_on_their_own():
    with pytest.raises(QueryError):
        search(sqlite3.connect(":memory:"), "\t\n", 10)
    assert snippet_around("中国人民银行决定下调存款准备金率", ["人民"]) == "中国[人民]银行决定下调存款准备金率"
    assert snippet_around("中国人民银行决定下调存款准备金率", ["准备金", "银行"]) == "中国人民[银行]决定下调存款准备金率"
