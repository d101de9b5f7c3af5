"""Every file a command writes into the output gets the mode a plain open() gives it (0666 less the umask), so a
Jekyll build, nginx or rsync running as another user can read the archive's posts."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from crawler.postfile import parse_post_file
from crawler.replica.generate import generate_site
from crawler.replica.render import render_site
from crawler.replica.server import ReplicaServer
from tests.test_crawl import finews


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The umask of this process, which the commands it starts inherit, for the block."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def wrong_modes(output: Path, mask: int) -> dict[str, str]:
    """Every file under ``output`` whose permission bits are not 0666 less ``mask``, with its mode."""
    expected = 0o666 & ~mask
    return {
        str(path.relative_to(output)): oct(stat.S_IMODE(path.stat().st_mode))
        for path in output.rglob("*")
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) != expected
    }


def remove_one_post_file(output: Path) -> None:
    """The next command writes it again (every command starts by making _posts mirror the archive)."""
    next(iter(sorted((output / "_posts").iterdir()))).unlink()


@pytest.mark.parametrize("mask", [0o022, 0o027], ids=["umask-022", "umask-027"])
def test_every_writer_gives_its_files_the_mode_open_would(tmp_path, mask):
    site = generate_site(10)
    out = tmp_path / "out"
    with umask(mask), ReplicaServer(render_site(parse_post_file(name, text) for name, text in site.files)) as server:
        crawl = finews("crawl", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
        assert crawl.returncode == 0, crawl.stderr
        assert len(list((out / "_posts").iterdir())) > 5
        assert wrong_modes(out, mask) == {}

        remove_one_post_file(out)
        share = finews("share", "--backfill", "--output", "out", cwd=tmp_path, proxy=server.proxy_url)
        assert share.returncode == 0, share.stderr
        remove_one_post_file(out)
        reparse = finews("reparse", "--output", "out", cwd=tmp_path)
        assert reparse.returncode == 0, reparse.stderr
        remove_one_post_file(out)
        for export_format in ("frontmatter", "jsonl"):
            export = finews("export", "--output", "out", "--format", export_format, cwd=tmp_path)
            assert export.returncode == 0, export.stderr
    assert (out / "posts.jsonl").exists() and (out / "_config.yml").exists()
    assert wrong_modes(out, mask) == {}
