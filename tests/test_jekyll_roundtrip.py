"""The seed through the real consumer: real Jekyll renders it, the crawler reads it through http_proxy,
and the exported file is the seed, byte for byte."""

from __future__ import annotations

import subprocess

from crawler.output import JEKYLL_CONFIG_FILE
from crawler.postfile import read_post_file
from crawler.replica.render import SHARE_HOST, render_site
from crawler.replica.server import ReplicaServer
from tests.shared import SEED, needs_shared
from tests.sites import jekyll_build, needs_jekyll, static_pages
from tests.test_crawl import crawl_generated_site, finews, rows


@needs_shared
@needs_jekyll
def test_seed_round_trips_byte_identically_through_real_jekyll(tmp_path):
    site_dir = jekyll_build([SEED], tmp_path)
    pages = static_pages(site_dir)
    # The share host answers GetNewsText with the body as written, as the real one does.
    pages.update({key: page for key, page in render_site([read_post_file(SEED)]).items() if key[0] == SHARE_HOST})
    with ReplicaServer(pages) as server:
        result = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
    assert result.returncode == 0, result.stderr
    exported = tmp_path / "out" / "_posts" / SEED.name
    assert exported.read_bytes() == SEED.read_bytes()


@needs_jekyll
def test_jekyll_builds_the_output_folder_into_the_posts_and_none_of_the_archive_files(tmp_path):
    out = crawl_generated_site(tmp_path, 12) / "out"
    assert finews("export", "--output", "out", "--format", "jsonl", cwd=tmp_path).returncode == 0
    # What other commands leave there: a stopped run's Scrapy queue, `finews serve`'s metadata.
    (out / "jobs" / "run-1").mkdir(parents=True)
    (out / "jobs" / "run-1" / "requests.queue").write_bytes(b"queued")
    (out / "datasette-metadata.yml").write_text("title: finews\n")
    subprocess.run(["jekyll", "build", "-q", "-s", str(out), "-d", str(tmp_path / "_site")], check=True, timeout=300,
                   capture_output=True)
    published = sorted(path.relative_to(tmp_path / "_site").as_posix() for path in (tmp_path / "_site").rglob("*")
                       if path.is_file())
    # Each post once, at its URL on the site (its publication day in Asia/Shanghai); nothing else.
    expected = sorted(row["post_url"].split("/", 3)[3] for row in rows(out / "archive.db", "SELECT post_url FROM posts"))
    assert published == expected


def test_an_operators_own_jekyll_config_is_never_rewritten(tmp_path):
    out = crawl_generated_site(tmp_path, 10) / "out"
    own = "# mine\ntitle: my archive\nexclude: [archive.db]\n"
    (out / JEKYLL_CONFIG_FILE).write_text(own)
    for command in (["export"], ["export", "--format", "jsonl"], ["reparse"]):
        assert finews(*command, "--output", "out", cwd=tmp_path).returncode == 0
    assert (out / JEKYLL_CONFIG_FILE).read_text() == own
