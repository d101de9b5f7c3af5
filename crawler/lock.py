"""One crawl per output folder: an exclusive ``flock`` on ``OUTPUT/archive.db.lock``.

The kernel releases a ``flock`` when its process ends, however it ends (kill -9 included), so a lock
left behind by a dead crawl never blocks the next one: there is no stale-lock cleanup to get wrong.
The file holds the holder's pid, only so that a refused crawl can say who holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

LOCK_FILE = "archive.db.lock"
# A crawl that has just taken the lock writes its pid right after; a refused one waits this long to read it.
PID_WAIT_SECONDS = 1.0


class CrawlLocked(RuntimeError):
    """Another live process holds the lock."""

    def __init__(self, path: Path, pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "another process"
        super().__init__(f"another crawl ({holder}) is running on {path.parent}")
        self.path = path
        self.pid = pid


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def lock_holder(path: Path) -> int | None:
    """The pid holding the lock at ``path``, or None when no process holds it (a test, not a wait)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd) or 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class CrawlLock:
    """Held from ``acquire`` until ``release`` or the process's end; a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> CrawlLock:
        # No O_TRUNC: the file may be another live crawl's, and its pid must stay readable.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            deadline = time.monotonic() + PID_WAIT_SECONDS
            pid = _read_pid(fd)
            while pid is None and time.monotonic() < deadline:
                time.sleep(0.05)
                pid = _read_pid(fd)
            os.close(fd)
            raise CrawlLocked(self.path, pid) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> CrawlLock:
        return self.acquire()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.release()
