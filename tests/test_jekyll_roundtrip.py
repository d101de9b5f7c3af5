"""The seed through the real consumer: real Jekyll renders it, the crawler reads it through http_proxy,
and the exported file is the seed, byte for byte."""

from __future__ import annotations

from crawler.postfile import read_post_file
from crawler.replica.render import SHARE_HOST, render_site
from crawler.replica.server import ReplicaServer
from tests.shared import SEED, needs_shared
from tests.sites import jekyll_build, needs_jekyll, static_pages
from tests.test_crawl import finews


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
