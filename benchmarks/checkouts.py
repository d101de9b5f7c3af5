"""A benchmark measured in several checkouts of the project, each in a process of its own, so that two
versions compare in one run (``--code DIR``, e.g. a ``git worktree`` of an earlier commit).

A benchmark module defines ``measure(posts, repeat) -> dict`` (importing the project inside it, so that it
measures whichever checkout it runs in) and hands its ``main`` to ``benchmark_main``. The child process is
this file run by its path in the checkout: it loads the module from its file and prints what ``measure``
returns as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class CheckoutFailed(RuntimeError):
    """The benchmark failed in one checkout: the last line it wrote to stderr."""


def measure_in_checkout(script: str, code: Path, posts: int, repeat: int) -> dict[str, Any]:
    # Only the checkout on the path: ``crawler`` and ``pipelines`` are that checkout's, not this one's.
    result = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), str(Path(script).resolve()), str(posts), str(repeat)],
        env={**os.environ, "PYTHONPATH": str(code.resolve())}, cwd=code, capture_output=True, text=True, check=False,
    )
    if result.returncode != 0:
        raise CheckoutFailed(f"{code}: {(result.stderr.strip().splitlines() or ['failed'])[-1]}")
    figures: dict[str, Any] = json.loads(result.stdout)
    return figures


def benchmark_main(
    script: str, doc: str, columns: tuple[str, ...], row: Callable[[dict[str, Any]], tuple[str, ...]],
    repeat: int, argv: list[str] | None,
) -> int:
    """``python -m benchmarks.NAME [--posts N] [--repeat N] [--code DIR ...]``: a Markdown table, one row per
    checkout (default: this one) in the order given."""
    prog = f"python -m benchmarks.{Path(script).stem}"
    parser = argparse.ArgumentParser(prog=prog, description=doc.splitlines()[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=repeat)
    parser.add_argument("--code", type=Path, action="append", help="a checkout to measure (default: this one)")
    args = parser.parse_args(argv)
    print("| code | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for code in args.code or [ROOT]:
        try:
            figures = measure_in_checkout(script, code, args.posts, args.repeat)
        except CheckoutFailed as failure:
            print(f"{prog}: {failure}", file=sys.stderr)
            return 1
        print(f"| {code} | " + " | ".join(row(figures)) + " |")
    return 0


if __name__ == "__main__":  # the child: python checkouts.py MODULE_FILE POSTS REPEAT
    spec = importlib.util.spec_from_file_location("measured", sys.argv[1])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print(json.dumps(module.measure(int(sys.argv[2]), int(sys.argv[3]))))
