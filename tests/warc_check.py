"""warcio's own check of a WARC file, as a user runs it (``warcio check FILE``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def warcio_check(path: Path) -> str:
    """What ``warcio check`` says is wrong with a WARC file ("" when nothing is: every digest verifies)."""
    result = subprocess.run([str(Path(sys.executable).with_name("warcio")), "check", str(path)],
                            capture_output=True, text=True, check=False)
    return "" if result.returncode == 0 else (result.stdout + result.stderr or f"exit {result.returncode}")
