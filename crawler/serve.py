"""``finews serve``: Datasette on the archive, with the project's metadata (search, facets, descriptions).

Datasette opens the archive read-only while crawls write it (WAL): it can run beside the scheduled crawls.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from pipelines.archive import ARCHIVE_FILE, Archive
from pipelines.datasette import write_metadata


class ServeError(RuntimeError):
    """Datasette cannot be started; the message is one line for the user."""


def datasette_command(archive_path: Path, metadata: Path, host: str, port: int) -> list[str]:
    return [
        sys.executable, "-m", "datasette", "serve", str(archive_path), "--metadata", str(metadata),
        "--host", host, "--port", str(port),
    ]


def serve(output: Path, host: str, port: int) -> None:
    """Replace this process with Datasette serving ``output``'s archive; returns only by raising ServeError."""
    archive_path = output / ARCHIVE_FILE
    if not archive_path.is_file():
        raise ServeError(f"no archive at {archive_path}: `finews crawl` makes one")
    if importlib.util.find_spec("datasette") is None:
        raise ServeError("datasette is not installed: python3 -m pip install 'finews-archive[serve]'")
    # An archive from an older finews is upgraded first: the metadata names its search index and views.
    Archive.open(archive_path).close()
    command = datasette_command(archive_path, write_metadata(output), host, port)
    # Datasette then gets the signals itself (Ctrl-C, a service manager's stop) and its exit code is ours.
    os.execv(command[0], command)
