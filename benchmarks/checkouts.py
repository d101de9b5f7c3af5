"""One benchmark measured in several checkouts of the project, each in a process of its own, so that two
versions compare in one run (``--code DIR``, e.g. a ``git worktree`` of an earlier commit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class CheckoutFailed(RuntimeError):
    """The benchmark failed in one checkout: the last line it wrote to stderr."""


def run_in_checkouts(script: str, arguments: list[str], codes: list[Path] | None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Run ``script --measure ARGUMENTS`` in each checkout (default: this one), in the order given, and
    yield each with the JSON object it printed."""
    for code in codes or [ROOT]:
        # The script run by its path with the checkout first on the path: ``crawler`` is that checkout's.
        env = {**os.environ, "PYTHONPATH": str(code.resolve())}
        result = subprocess.run(
            [sys.executable, str(Path(script).resolve()), "--measure", *arguments],
            env=env, cwd=code, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise CheckoutFailed(f"{code}: {(result.stderr.strip().splitlines() or ['failed'])[-1]}")
        yield code, json.loads(result.stdout)
