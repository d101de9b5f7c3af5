"""Fast commands stay fast: `finews status`, `search`, `export`, `check`, `changes`, `--help` and `--version`
load none of the crawl machinery (Scrapy and Twisted, nor itemadapter and web-poet, which import Scrapy).
Each runs in its own process on a small crawled archive, and `python -X importtime` says what it imported;
a failure names the chain of imports that brought the module in. What loading it would cost: BENCHMARKS.md,
Start-up of the fast commands."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.startup import CRAWL_MACHINERY, FAST_COMMANDS, crawl_machinery, finews_argv, tree_env
from tests.older_archive import archive_at_version
from tests.test_crawl import ROOT, crawl_generated_site

POSTS = 20


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crawl_generated_site(tmp_path_factory.mktemp("fast"), POSTS)


def assert_no_crawl_machinery(args: tuple[str, ...], cwd: Path) -> None:
    result = subprocess.run(finews_argv(*args, importtime=True), cwd=cwd, env=tree_env(ROOT), capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, "\n".join(line for line in result.stderr.splitlines()
                                             if not line.startswith("import time:"))
    loaded = crawl_machinery(result.stderr)
    assert not loaded, "imported by finews " + " ".join(args) + ":\n" + "\n".join(
        f"  {module}: {chain}" for module, chain in loaded.items())


@pytest.mark.parametrize("args", FAST_COMMANDS, ids=" ".join)
def test_a_fast_command_loads_no_crawl_machinery(work: Path, args: tuple[str, ...]) -> None:
    assert_no_crawl_machinery(args, work)


@pytest.mark.parametrize("args", [("search", "存款准备金", "--output", "out"), ("changes", "--output", "out")],
                         ids=" ".join)
def test_upgrading_an_older_archive_first_loads_none_either(tmp_path: Path, args: tuple[str, ...]) -> None:
    # These two bring an archive from an older finews to the current schema (every migration) before reading it.
    (tmp_path / "out").mkdir()
    archive_at_version(tmp_path / "out" / "archive.db", 1).close()
    assert_no_crawl_machinery(args, tmp_path)


def test_the_import_trace_names_the_crawl_machinery_and_who_loaded_it() -> None:
    # The checks above must not pass because they see nothing: the crawl's own runner loads Scrapy and Twisted.
    result = subprocess.run([sys.executable, "-X", "importtime", "-c", "import crawler.runner"], cwd=ROOT,
                            env=tree_env(ROOT), capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    loaded = crawl_machinery(result.stderr)
    assert {"scrapy", "twisted"} <= set(loaded) <= set(CRAWL_MACHINERY), loaded
    assert loaded["scrapy"].startswith("crawler.runner → ") and loaded["scrapy"].endswith(" → scrapy"), loaded
