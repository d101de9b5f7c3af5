"""The replica written out as static files, so a static server (nginx) can answer for it.

Layout under the root, one folder per host:

- ``finews.withounder.com/<decoded path>``: every site page; a path ending in ``/`` is its ``index.html``;
- ``finews.zning.xyz/NewsData/GetNewsText/<infoCode>.json``: the share host's ``GetNewsText.do?id=<code>``
  answers (a query URL, which the server maps to this file by its ``id``).

The share host's ``NewsShare.html`` pages are not written: no crawler requests them.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlsplit

from crawler.postfile import parse_post_file
from crawler.replica.generate import SyntheticSite, generate_site
from crawler.replica.render import (
    SHARE_HOST,
    SHARE_TEXT_PATH,
    SITE_HOST,
    Page,
    PageKey,
    render_site,
)

SHARE_TEXT_DIR = "NewsData/GetNewsText"
# Written last, holding the file count: a folder without it was interrupted while written, never reused.
COMPLETE_MARK = "complete"


class UnsafePagePath(ValueError):
    """A page path that would land outside its host's folder."""


@dataclass(frozen=True)
class StaticSite:
    root: Path
    site: SyntheticSite
    files: int  # static files written

    @property
    def posts(self) -> int:
        """Post files, so post pages: one each (every synthetic post has a dated file name)."""
        return len(self.site.files)

    @property
    def valid_posts(self) -> int:
        """Distinct infoCodes the archive can hold (the twin's two pages are one; malformed posts none)."""
        return len(self.site.valid_info_codes)


def relative_file(host: str, path_and_query: str) -> PurePosixPath | None:
    """Where the answer for ``host`` + ``path_and_query`` lives, relative to the root; None: not written."""
    if host == SHARE_HOST:
        split = urlsplit(path_and_query)
        codes = parse_qs(split.query).get("id")
        if split.path != SHARE_TEXT_PATH or not codes or not codes[0].isalnum():
            return None
        return PurePosixPath(host, SHARE_TEXT_DIR, f"{codes[0]}.json")
    if host != SITE_HOST:
        return None
    path = path_and_query + "index.html" if path_and_query.endswith("/") else path_and_query
    relative = PurePosixPath(path.lstrip("/"))
    if not relative.parts or ".." in relative.parts:
        raise UnsafePagePath(f"refusing page path {path_and_query!r}")
    return PurePosixPath(host, relative)


def write_pages(pages: Mapping[PageKey, Page], root: Path) -> int:
    """Write every 200 answer under ``root``; returns how many files were written."""
    written = 0
    made: set[Path] = set()
    for (host, path_and_query), page in pages.items():
        relative = relative_file(host, path_and_query)
        if relative is None or page.status != 200:
            continue
        target = root / relative
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        target.write_bytes(page.body)
        written += 1
    return written


def static_site(posts: int, root: Path) -> StaticSite:
    """The replica of ``posts`` synthetic posts as static files under ``root``; reused when already whole
    (the generator gives the same bytes for the same count)."""
    site = generate_site(posts)
    mark = root / COMPLETE_MARK
    if mark.exists():
        return StaticSite(root, site, int(mark.read_text()))
    if root.exists():
        shutil.rmtree(root)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    files = write_pages(pages, root)
    mark.write_text(str(files))
    return StaticSite(root, site, files)
