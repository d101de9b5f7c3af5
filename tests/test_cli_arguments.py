"""The command line's boundary: a bad value is one line on stderr and exit 2, before anything is touched;
help says what each command does and what its exit codes mean."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from crawler.cli import build_parser, main
from crawler.postfile import SHANGHAI
from crawler.replica.generate import generate_site
from tests.test_crawl import ROOT, crawl_generated_site, finews

BAD_COMMAND_LINES = {
    "site without a scheme": (["crawl", "--site", "finews.withounder.com"], "--site"),
    "site that is no URL": (["crawl", "--site", "not a url"], "--site"),
    "site on ftp": (["crawl", "--site", "ftp://finews.withounder.com/"], "--site"),
    "site with a port that is no number": (["crawl", "--site", "http://finews.withounder.com:x/"], "port"),
    "site by setting": (["crawl", "-s", "FINEWS_SITE_URL=finews.withounder.com"], "FINEWS_SITE_URL"),
    "float setting not a number": (["crawl", "-s", "DOWNLOAD_DELAY=abc"], "DOWNLOAD_DELAY"),
    "int setting not whole": (["crawl", "-s", "CONCURRENT_REQUESTS=2.5"], "CONCURRENT_REQUESTS"),
    "bool setting": (["share", "--backfill", "-s", "FINEWS_FOLLOW_SHARE=nope"], "FINEWS_FOLLOW_SHARE"),
    "dict setting": (["crawl", "-s", "ITEM_PIPELINES=[1]"], "ITEM_PIPELINES"),
    "log level": (["crawl", "-s", "LOG_LEVEL=LOUD"], "LOG_LEVEL"),
    "misspelt finews setting": (["crawl", "-s", "FINEWS_FOLLW_SHARE=False"], "did you mean FINEWS_FOLLOW_SHARE?"),
    "unknown finews setting": (["crawl", "-s", "FINEWS_NOTHING_LIKE_IT=1"], "FINEWS_NOTHING_LIKE_IT"),
    "misspelt scrapy setting": (["worker", "--redis", "redis://h/0", "-s", "DOWNLOAD_DELY=1"],
                                "did you mean DOWNLOAD_DELAY?"),
    "worker redis not a URL": (["worker", "--redis", "notaurl"], "--redis"),
    "crawl redis with a bad db": (["crawl", "--redis", "redis://localhost:6379/zero"], "--redis"),
    "output with missing parents": (["crawl", "--output", "a/missing/deeper/out"], "a/missing/deeper/out"),
    "output that is a file": (["export", "--output", "a-file"], "a-file"),
    "since a word": (["export", "--since", "yesterday"], "--since"),
    "since no such day": (["export", "--since", "2021-13-45"], "--since"),
    "since basic format": (["export", "--since", "20211228"], "--since"),
    "since without a zone": (["export", "--since", "2021-12-28T06:00"], "--since"),
    "demo of no posts": (["demo", "--posts", "0"], "--posts"),
    "replica too small": (["replica", "serve", "--count", "5"], "--count"),
    "replica of a missing folder": (["replica", "serve", "--posts", "nonexistent"], "nonexistent"),
    "replica port": (["replica", "serve", "--port", "70000"], "--port"),
    "unknown option": (["crawl", "--bogus"], "usage: finews crawl"),
    "nested unknown option": (["replica", "serve", "--bogus"], "usage: finews replica serve"),
    "no runs": (["status", "--runs", "0"], "--runs"),
    "workers not a number": (["crawl", "--workers", "two"], "--workers"),
    "verify without posts": (["verify"], "usage: finews verify"),
    "an empty output folder name": (["crawl", "--output", ""], "empty folder name"),
    "an abbreviated option": (["crawl", "--ful"], "unrecognized arguments: --ful"),
    "the output as a setting": (["crawl", "-s", "FINEWS_OUTPUT=elsewhere"], "--output"),
    "a backup into a folder with files": (["backup", "a-folder"], "a-folder is not empty"),
    "a backup into nowhere": (["backup", ""], "empty folder name"),
    "changes before the first": (["changes", "--after", "-3"], "--after"),
}


@pytest.mark.parametrize("argv, named", BAD_COMMAND_LINES.values(), ids=BAD_COMMAND_LINES.keys())
def test_a_bad_command_line_is_one_line_exit_2_and_touches_nothing(argv, named, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-folder" / "mine").write_text("not to be mixed with a backup")
    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"finews {argv[0]}"), captured.err
    assert named in lines[0]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a-file", "a-folder"]
    assert [path.name for path in (tmp_path / "a-folder").iterdir()] == ["mine"]


def test_good_settings_pass_as_given(tmp_path, monkeypatch):
    parser = build_parser()
    args = parser.parse_args(["crawl", "-s", "DOWNLOAD_DELAY=0.5", "-s", "LOG_LEVEL=DEBUG", "-s",
                              "FINEWS_FOLLOW_SHARE=False", "-s", 'ITEM_PIPELINES={"x.Y": 1}', "-s",
                              "SOME_EXTENSION_LIMIT=3", "--site", "https://example.org:8443/", "--output", "new"])
    assert args.set == [("DOWNLOAD_DELAY", "0.5"), ("LOG_LEVEL", "DEBUG"), ("FINEWS_FOLLOW_SHARE", "False"),
                        ("ITEM_PIPELINES", '{"x.Y": 1}'), ("SOME_EXTENSION_LIMIT", "3")]
    assert args.site == "https://example.org:8443/"
    worker = parser.parse_args(["worker", "--redis", "redis://:secret@127.0.0.1:6379/2"])
    assert worker.redis == "redis://:secret@127.0.0.1:6379/2"


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return crawl_generated_site(tmp_path_factory.mktemp("since"), 25)


def test_since_selects_by_instant_whatever_zone_it_is_written_in(archive):
    db = sqlite3.connect(archive / "out" / "archive.db")
    published = sorted(datetime.fromisoformat(value) for (value,) in db.execute("SELECT published_at FROM posts"))
    db.close()
    middle = published[len(published) // 2]
    expected = sum(instant >= middle for instant in published)
    assert 0 < expected < len(published)
    spellings = [middle.isoformat(), middle.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                 middle.astimezone(timezone(timedelta(hours=-5))).isoformat(timespec="seconds"),
                 middle.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S %z")]  # as the post files write it
    for since in spellings:
        result = finews("export", "--output", "out", "--format", "jsonl", "--since", since, cwd=archive)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{expected} posts exported"), (since, result.stdout)
        with open(archive / "out" / "posts.jsonl", encoding="utf-8") as exported:
            assert all(datetime.fromisoformat(json.loads(line)["published_at"]) >= middle for line in exported)


def test_since_a_day_starts_at_midnight_in_shanghai(archive):
    db = sqlite3.connect(archive / "out" / "archive.db")
    published = [datetime.fromisoformat(value) for (value,) in db.execute("SELECT published_at FROM posts")]
    db.close()
    day = sorted(published)[len(published) // 2].astimezone(SHANGHAI).date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    result = finews("export", "--output", "out", "--format", "jsonl", "--since", day.isoformat(), cwd=archive)
    assert result.stdout.startswith(f"{sum(instant >= midnight for instant in published)} posts exported")


def test_the_output_folder_is_created_but_never_its_parents(tmp_path):
    result = finews("crawl", "--output", "missing/out", cwd=tmp_path)
    assert result.returncode == 2 and not (tmp_path / "missing").exists()
    assert result.stderr.strip() == ("finews crawl: argument --output: missing/out: its parent folder "
                                     f"{tmp_path / 'missing'} does not exist (finews creates the folder, "
                                     "never the folders above it)")


def test_scrapy_crawl_never_creates_missing_parents(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "site", "-s", f"FINEWS_OUTPUT={tmp_path / 'a' / 'out'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 1 and not (tmp_path / "a").exists()
    assert result.stderr.splitlines() == [(f"scrapy crawl: output {tmp_path / 'a' / 'out'}: its parent folder "
                                           f"{tmp_path / 'a'} does not exist")]


def test_demo_writes_the_originals_it_serves_and_verify_accounts_for_each(tmp_path):
    result = finews("demo", "--posts", "20", "--output", "out", "--write-posts", "originals", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "finews verify --posts originals --output out" in result.stdout
    site = generate_site(20)
    assert {path.name: path.read_text(encoding="utf-8") for path in (tmp_path / "originals").iterdir()} == dict(site.files)
    checked = finews("verify", "--posts", "originals", "--output", "out", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout
    assert checked.stdout.splitlines()[-1].startswith("20 originals: ") and " 0 missing" in checked.stdout
    # Without the exported files (a backup taken without --posts), every archived original is missing.
    (tmp_path / "out" / "_posts").rename(tmp_path / "posts-aside")
    unexported = finews("verify", "--posts", "originals", "--output", "out", cwd=tmp_path)
    assert unexported.returncode == 1 and " 0 merged" in unexported.stdout and " 0 identical" in unexported.stdout
    (tmp_path / "posts-aside").rename(tmp_path / "out" / "_posts")
    # Another site's posts (here the 20 of a smaller demo) would be reported as missing: refused, not mixed
    # with the new ones or deleted.
    again = finews("demo", "--posts", "30", "--output", "out", "--write-posts", "originals", cwd=tmp_path)
    assert again.returncode == 2 and len(again.stderr.splitlines()) == 1
    assert "originals holds 20 post files this replica does not serve" in again.stderr
    assert len(list((tmp_path / "originals").iterdir())) == 20


def test_verify_says_what_is_missing_in_one_line(tmp_path):
    (tmp_path / "posts").mkdir()
    (tmp_path / "out").mkdir()
    empty = finews("verify", "--posts", "posts", "--output", "out", cwd=tmp_path)
    assert empty.returncode == 2 and empty.stderr.strip() == "finews verify: posts holds no post files (*.md) to verify"
    (tmp_path / "posts" / "2021-12-27-NW202112272226582498.md").write_text("---\ntitle: x\n---\n")
    (tmp_path / "out" / "archive.db").write_bytes(os.urandom(4096))
    garbage = finews("verify", "--posts", "posts", "--output", "out", cwd=tmp_path)
    assert garbage.returncode == 1 and garbage.stderr.startswith("finews verify: archive out/archive.db cannot be read")
    assert len(garbage.stderr.splitlines()) == 1
    (tmp_path / "out" / "archive.db").unlink()
    missing = finews("verify", "--posts", "posts", "--output", "out", cwd=tmp_path)
    assert missing.returncode == 1 and missing.stderr.strip() == "finews verify: no archive at out/archive.db"


def test_replica_on_a_port_in_use_says_so_in_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = finews("replica", "serve", "--count", "9", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == f"finews replica serve: port {port} on 127.0.0.1 is in use (--port P for another)"


def test_version_and_help_say_what_each_command_does_and_its_exit_codes(capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--version"])
    assert exit.value.code == 0
    assert capsys.readouterr().out.strip().startswith("finews ")
    commands = [["crawl"], ["worker"], ["share"], ["status"], ["demo"], ["export"], ["search"], ["reparse"],
                ["serve"], ["verify"], ["replica"], ["replica", "serve"]]
    for command in commands:
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        description = text.split("\n\n")[1]
        assert description.strip() and description[0].isupper(), (command, text)
        assert "exit codes:\n  0 " in text and "\n  2    usage error" in text, (command, text)
    with pytest.raises(SystemExit):
        main(["replica", "serve", "--help"])
    serve_help = " ".join(capsys.readouterr().out.split())
    assert "port to listen on (default: 8118)" in serve_help and "(default: 60)" in serve_help
