"""Running one command as a measured process: wall time, peak RSS of its whole process tree, exit code.

Peak RSS is the larger of two readings taken every SAMPLE_SECONDS: the tree's summed RSS, and the sum
of each process's own high-water mark (``VmHWM``, which the kernel keeps exactly since the process's
``exec``), so a peak between two samples is not missed. (``ru_maxrss`` from ``wait4`` is no use here: a
child's mark starts from the benchmark's own size, inherited at ``fork``.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

# Often enough to stop a crawl near 50 %, seldom enough to cost the measured run next to nothing.
SAMPLE_SECONDS = 0.1
# A measured command that runs longer than this has hung: it is killed and the run reported failed.
TIMEOUT_SECONDS = 4 * 3600


@dataclass(frozen=True)
class Measured:
    wall_seconds: float
    peak_rss_bytes: int
    returncode: int
    stopped: bool  # killed by ``stop_when``
    stdout: str
    stderr: str


def high_water_mark(pid: int) -> int:
    """The process's peak RSS since its ``exec``, in bytes (``VmHWM``); 0 once it has ended."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def tree_rss(process: psutil.Process) -> tuple[int, int]:
    """(RSS now, sum of high-water marks) of ``process`` and its descendants; ended ones count zero."""
    now = marks = 0
    for member in (process, *process.children(recursive=True)):
        try:
            now += member.memory_info().rss
            marks += high_water_mark(member.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return now, marks


class _Ending(threading.Thread):
    """Waits for the child in a thread of its own, so its end is timed exactly, not to the next sample."""

    def __init__(self, pid: int) -> None:
        super().__init__(name=f"waitpid-{pid}", daemon=True)
        self.pid = pid
        self.done = threading.Event()
        self.status = 0
        self.at = 0.0

    def run(self) -> None:
        _pid, self.status = os.waitpid(self.pid, 0)
        self.at = time.perf_counter()
        self.done.set()


def run_measured(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], logs: Path,
    stop_when: Callable[[], bool] | None = None,
) -> Measured:
    """Run ``argv`` to its end (or until ``stop_when()`` holds, then SIGKILL it), sampling its memory.

    stdout and stderr go to files under ``logs`` (a pipe left unread would stall a chatty process).
    """
    logs.mkdir(parents=True, exist_ok=True)
    out_path, err_path = logs / "stdout", logs / "stderr"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        # Before the waiting thread starts: until it reaps the child, the pid cannot name another process.
        watched = psutil.Process(child.pid)
        ended = _Ending(child.pid)
        ended.start()
        peak = 0
        stopped = False
        while not ended.done.wait(SAMPLE_SECONDS):
            try:
                peak = max(peak, *tree_rss(watched))
            except psutil.NoSuchProcess:
                continue
            if stop_when is not None and not stopped and stop_when():
                child.send_signal(signal.SIGKILL)
                stopped = True
            elif time.perf_counter() - started > TIMEOUT_SECONDS:
                child.send_signal(signal.SIGKILL)
        ended.join()
    # Popen must not wait for a child that waitpid already reaped.
    child.returncode = os.waitstatus_to_exitcode(ended.status)
    return Measured(
        wall_seconds=ended.at - started,
        peak_rss_bytes=peak,
        returncode=child.returncode,
        stopped=stopped,
        stdout=out_path.read_text(errors="replace"),
        stderr=err_path.read_text(errors="replace"),
    )
