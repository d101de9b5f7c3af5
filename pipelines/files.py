"""Every file finews writes into its output (post files, posts.jsonl, metadata, _config.yml) is written here.

Readers (a Jekyll build, nginx, rsync, Datasette) may run as another user: a file gets the mode a plain
``open()`` gives it, 0666 less the umask, never ``tempfile.mkstemp``'s 0600, which would hide it from them.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

# The temporary files of write_atomically and create_partial: a kill mid-write can leave one, which the next
# command holding the output's lock removes.
PARTIAL_FILE_PREFIX = ".tmp-"
# What open(path, "w") passes to the kernel, which takes the umask off it.
_OPEN_MODE = 0o666


def create_partial(directory: Path, suffix: str) -> tuple[int, Path]:
    """A new empty temporary file in ``directory``, open for writing: its descriptor and path. Created
    with O_EXCL (no other process's file is ever reused) and the kernel's umask applied, as open() would."""
    # Absolute, as mkstemp's: an error's one line names the folder wherever the command was started.
    directory = directory.absolute()
    while True:
        path = directory / f"{PARTIAL_FILE_PREFIX}{secrets.token_hex(8)}{suffix}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, _OPEN_MODE), path
        except FileExistsError:
            continue


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never a part: write a temporary file, then rename it.

    No fsync: a killed process loses nothing the kernel has, and the files are derived from the
    archive, which is the record (`finews export` rewrites any file that differs from it, after a
    power loss too); an fsync per file cost more than the file's whole pipeline (BENCHMARKS.md).
    """
    handle, temporary = create_partial(path.parent, path.suffix)
    try:
        try:
            # Plain os.write: a buffered text file object per post file cost a tenth of an export.
            unwritten = memoryview(text.encode("utf-8"))
            while unwritten:
                unwritten = unwritten[os.write(handle, unwritten):]
        finally:
            os.close(handle)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.filename is None:  # os.write names no file: the error's one line must
            error.filename = str(path)
        raise
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
