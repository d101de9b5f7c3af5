"""Running a benchmark command as a smoke test: a real subprocess on a small site, its results read back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.test_crawl import ROOT


def run_benchmark(module: str, posts: int, work: Path) -> tuple[subprocess.CompletedProcess, dict]:
    """``python -m MODULE --posts POSTS --rounds 1`` in ``work`` (nginx when installed, else the replica's
    server), without the caller's proxy; its process and its ``results.json`` ({} when it wrote none)."""
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run(
        [sys.executable, "-m", module, "--posts", str(posts), "--rounds", "1", "--work", str(work), "--server", "auto"],
        cwd=work, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    results = json.loads((work / "results.json").read_text()) if (work / "results.json").exists() else {}
    return result, results
