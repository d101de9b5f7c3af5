"""The change feed: a consumer that keeps the last change_seq it read sees every change of a post once,
however its reads fall between the writes of a crawl, a `--full` run and a share backfill."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from pipelines.archive import Archive
from pipelines.changes import changed_posts, reading
from tests.older_archive import archive_at_version
from tests.test_crawl import finews
from tests.test_scheduled import info_code_of, replica, start_finews

POSTS = 300
CHANGED = 3


@dataclass
class Consumer:
    """What a downstream tool keeps: the last sequence number, and its copy of every post."""

    archive: Path
    last: int = 0
    copy: dict[str, dict] = field(default_factory=dict)
    seen: list[tuple[int, str]] = field(default_factory=list)

    def read(self) -> None:
        if not self.archive.exists():
            return
        try:
            with reading(self.archive) as db:
                for record in changed_posts(db, self.last):
                    assert record["change_seq"] > self.last
                    self.last = record["change_seq"]
                    self.copy[record["info_code"]] = record
                    self.seen.append((record["change_seq"], record["info_code"]))
        except sqlite3.OperationalError as error:  # before the crawl has created the feed's column
            assert "no such column" in str(error) or "no such table" in str(error)

    def follow(self, process: subprocess.Popen) -> subprocess.CompletedProcess:
        """Read over and over while ``process`` writes, then once more after it ended."""
        reads = 0
        while process.poll() is None:
            self.read()
            reads += 1
            time.sleep(0.02)
        self.read()
        out, err = process.communicate()
        assert reads > 3, "the writer ended before the consumer could read alongside it"
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def public_records(archive: Path) -> dict[str, dict]:
    with reading(archive) as db:
        return {record["info_code"]: record for record in changed_posts(db, 0)}


def without(records: dict[str, dict], *keys: str) -> dict[str, dict]:
    return {code: {key: value for key, value in record.items() if key not in keys} for code, record in records.items()}


def changed_between(before: dict[str, dict], after: dict[str, dict]) -> set[str]:
    """The posts whose public record changed in anything but last_seen_at and updated_at (and the number)."""
    old = without(before, "last_seen_at", "updated_at", "change_seq")
    new = without(after, "last_seen_at", "updated_at", "change_seq")
    return {code for code in new if old.get(code) != new[code]}


def assert_exactly_once(consumer: Consumer, start: int, expected: set[str]) -> None:
    phase = [(seq, code) for seq, code in consumer.seen[start:]]
    numbers = [seq for seq, _code in phase]
    assert numbers == sorted(set(numbers)), "a change was read twice or out of order"
    assert {code for _seq, code in phase} == expected
    # What the consumer holds is the archive, post for post, but for when each was last seen listed (which
    # every run moves for every listed post) and last written (which alone is no change).
    assert without(consumer.copy, "last_seen_at", "updated_at") == without(
        public_records(consumer.archive), "last_seen_at", "updated_at")


def test_a_consumer_sees_every_change_once_across_a_crawl_a_full_run_and_a_backfill(tmp_path: Path) -> None:
    site = generate_site(POSTS)
    archive = tmp_path / "out" / "archive.db"
    consumer = Consumer(archive)

    # 1. A first crawl, from the pages alone (the share texts come with the backfill).
    with replica(site.files, delay=0.005) as server:
        crawl = consumer.follow(start_finews("crawl", "--output", "out", "-s", "FINEWS_FOLLOW_SHARE=False",
                                             cwd=tmp_path, proxy=server.proxy_url))
    assert crawl.returncode == 0, crawl.stderr
    assert_exactly_once(consumer, 0, set(site.valid_info_codes))
    assert len(consumer.copy) == len(site.valid_info_codes)

    # 2. --full over a site where three posts changed: those three, each once.
    before, start = public_records(archive), len(consumer.seen)
    edited = [name for name, _text in site.files if "NW" in name and name not in site.malformed
              and site.twin_info_code not in name][:CHANGED]
    titles = {name: parse_post_file(name, text).title for name, text in site.files if name in edited}
    files = [(name, text.replace(titles[name], titles[name] + "（更新）", 1) if name in edited else text)
             for name, text in site.files]
    with replica(files, delay=0.005) as server:
        full = consumer.follow(start_finews("crawl", "--full", "--output", "out", "-s", "FINEWS_FOLLOW_SHARE=False",
                                            cwd=tmp_path, proxy=server.proxy_url))
    assert full.returncode == 0, full.stderr
    expected = changed_between(before, public_records(archive))
    assert expected == {info_code_of(name) for name in edited}
    assert_exactly_once(consumer, start, expected)

    # 3. The backfill: every post whose body now comes from the share host.
    before, start = public_records(archive), len(consumer.seen)
    with replica(files, delay=0.005) as server:
        backfill = consumer.follow(start_finews("share", "--backfill", "--output", "out", cwd=tmp_path,
                                                proxy=server.proxy_url))
    assert backfill.returncode == 0, backfill.stderr
    expected = changed_between(before, public_records(archive))
    assert len(expected) > POSTS // 2
    assert_exactly_once(consumer, start, expected)

    # The command prints the same records, and the number to keep alone on stderr's last line.
    middle = consumer.seen[len(consumer.seen) // 2][0]
    result = finews("changes", "--output", "out", "--after", str(middle), cwd=tmp_path)
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert printed == sorted((record for record in public_records(archive).values() if record["change_seq"] > middle),
                             key=lambda record: record["change_seq"])
    assert result.stderr.splitlines()[-1] == str(consumer.last)
    paged = finews("changes", "--output", "out", "--after", str(middle), "--limit", "2", "--format", "text",
                   cwd=tmp_path)
    assert [line.split("\t")[0] for line in paged.stdout.splitlines()] == [str(seq) for seq, _ in sorted(
        (record["change_seq"], code) for code, record in public_records(archive).items()
        if record["change_seq"] > middle)[:2]]
    assert paged.stderr.strip() == paged.stdout.splitlines()[-1].split("\t")[0]
    # A consumer that read further than this archive goes (it was restored from a backup) is told, not fed less.
    ahead = finews("changes", "--output", "out", "--after", str(consumer.last + 5), cwd=tmp_path)
    assert ahead.returncode == 1 and ahead.stdout == ""
    assert f"is beyond this archive's last change ({consumer.last})" in ahead.stderr


def test_an_archive_from_before_the_feed_numbers_its_posts_in_the_order_they_changed(tmp_path: Path) -> None:
    from pipelines.schema import POST_CHANGES

    path = tmp_path / "archive.db"
    db = archive_at_version(path, POST_CHANGES.since - 1)
    updated = ["2021-12-28T01:00:00+00:00", "2021-12-27T01:00:00+00:00", "2021-12-29T01:00:00+00:00"]
    db["posts"].insert_all({"info_code": f"NW20211227222658249{index}", "title": "t", "updated_at": moment}
                           for index, moment in enumerate(updated))
    db.close()
    archive = Archive.open(path)
    order = [code for (code,) in archive.db.execute("SELECT info_code FROM posts ORDER BY change_seq")]
    assert order == ["NW202112272226582491", "NW202112272226582490", "NW202112272226582492"]
    # The next change takes the next number, never one given before.
    archive.db.execute("UPDATE posts SET title = 'u' WHERE info_code = 'NW202112272226582492'")
    archive.db.execute("UPDATE posts SET last_seen_at = 'now' WHERE info_code = 'NW202112272226582490'")
    seqs = dict(archive.db.execute("SELECT info_code, change_seq FROM posts").fetchall())
    archive.close()
    assert seqs == {"NW202112272226582491": 1, "NW202112272226582490": 2, "NW202112272226582492": 4}


@pytest.mark.parametrize("after", ["-1", "x"])
def test_a_bad_sequence_number_is_a_usage_error(after: str, tmp_path: Path) -> None:
    result = finews("changes", "--after", after, cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1 and "--after" in result.stderr
