"""Sites for end-to-end tests: real Jekyll builds, and static folders served through the replica's proxy."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pytest

from crawler.postfile import PostFileError, read_post_file
from crawler.replica.render import SHARE_HOST, SITE_HOST, Page, share_page_key, share_text_key
from tests.shared import CORPUS, SHARED

CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".xml": "application/xml", ".json": "application/json"}

needs_jekyll = pytest.mark.skipif(
    shutil.which("jekyll") is None, reason="jekyll is not installed (scripts/test.sh installs Debian's jekyll as root)"
)


def jekyll_build(posts: Iterable[Path], work: Path) -> Path:
    """Build ``posts`` with the stand-in layouts in ../shared/jekyll-site and the real category pages."""
    source = work / "site"
    shutil.copytree(SHARED / "jekyll-site", source)
    (source / "_posts").mkdir()
    (source / "category").mkdir()
    for post in posts:
        shutil.copy(post, source / "_posts" / post.name)
        try:
            category = CORPUS / "category" / f"{read_post_file(post).categories}.html"
        except PostFileError:
            continue
        if category.exists():
            shutil.copy(category, source / "category" / category.name)
    for path in source.rglob("*"):
        path.chmod(path.stat().st_mode | 0o200)  # ../shared is read-only in CI
    subprocess.run(["jekyll", "build", "-q", "-s", str(source), "-d", str(work / "_site")], check=True, timeout=300,
                   capture_output=True)
    return work / "_site"


def static_pages(site_dir: Path, share_dir: Path | None = None) -> dict[tuple[str, str], Page]:
    """What a static server answers for ``site_dir`` (``/x/`` → ``/x/index.html``), and the share host's
    answers from ``share_dir`` (``newsdata/<code>.json``, ``html_News/<code>.html``) as the real one holds them."""
    pages = {}
    for path in site_dir.rglob("*"):
        if path.is_file():
            url_path = "/" + path.relative_to(site_dir).as_posix()
            page = Page(200, CONTENT_TYPES.get(path.suffix, "application/octet-stream"), path.read_bytes())
            pages[(SITE_HOST, url_path)] = page
            if path.name == "index.html":
                pages[(SITE_HOST, url_path.removesuffix("index.html"))] = page
    if share_dir is not None:
        for path in (share_dir / "newsdata").glob("*.json"):
            pages[share_text_key(path.stem)] = Page(200, CONTENT_TYPES[".json"], path.read_bytes())
        for path in (share_dir / "html_News").glob("*.html"):
            pages[share_page_key(path.stem)] = Page(200, CONTENT_TYPES[".html"], path.read_bytes())
    assert all(host in (SITE_HOST, SHARE_HOST) for host, _path in pages)
    return pages
