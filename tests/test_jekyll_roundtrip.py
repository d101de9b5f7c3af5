"""The seed through the real consumer: real Jekyll renders it, the crawler reads it through http_proxy,
and the exported file is the seed, byte for byte."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from crawler.postfile import read_post_file
from crawler.replica.render import Page, render_site
from crawler.replica.server import ReplicaServer
from tests.shared import CORPUS, SEED, SHARED, needs_shared
from tests.test_crawl import finews

SITE_HOST = "finews.withounder.com"
SHARE_HOST = "finews.zning.xyz"
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/xml", ".json": "application/json"}

needs_jekyll = pytest.mark.skipif(
    shutil.which("jekyll") is None, reason="jekyll is not installed (scripts/test.sh installs Debian's jekyll as root)"
)


def jekyll_build(posts: list[Path], work: Path) -> Path:
    """Build ``posts`` with the stand-in layouts in ../shared/jekyll-site; returns the _site folder."""
    source = work / "site"
    shutil.copytree(SHARED / "jekyll-site", source)
    (source / "_posts").mkdir()
    (source / "category").mkdir()
    for post in posts:
        shutil.copy(post, source / "_posts" / post.name)
        category = CORPUS / "category" / f"{read_post_file(post).categories}.html"
        if category.exists():
            shutil.copy(category, source / "category" / category.name)
    for path in source.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)  # ../shared is read-only in CI
    subprocess.run(["jekyll", "build", "-q", "-s", str(source), "-d", str(work / "_site")], check=True, timeout=120)
    return work / "_site"


def static_pages(site_dir: Path) -> dict[tuple[str, str], Page]:
    """What a static web server answers for ``site_dir`` on the site host (``/x/`` → ``/x/index.html``)."""
    pages = {}
    for path in site_dir.rglob("*"):
        if path.is_file():
            url_path = "/" + path.relative_to(site_dir).as_posix()
            page = Page(200, CONTENT_TYPES.get(path.suffix, "application/octet-stream"), path.read_bytes())
            pages[(SITE_HOST, url_path)] = page
            if path.name == "index.html":
                pages[(SITE_HOST, url_path.removesuffix("index.html"))] = page
    return pages


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
