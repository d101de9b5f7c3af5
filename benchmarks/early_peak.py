"""``python -m benchmarks.early_peak``: each process's peak memory over the first seconds of a crawl.

    python -m benchmarks.early_peak --posts 100000 --seconds 50 [--workers 2] [--code DIR] [--work DIR]

At 100,000 posts ``finews crawl --workers 2`` peaks in its first half minute, while the listings are read
and Redis fills with the whole frontier (BENCHMARKS.md, *Memory at 100,000 posts*). This starts the crawl
on the nginx-served replica into a fresh output. After ``--seconds``, or when the crawl ends sooner, it
reads each process's own high-water mark (``VmHWM``) and stops the crawl with SIGTERM. It prints one line
per process and their sum. ``--code`` runs the finews found in another checkout (``PYTHONPATH``), to
compare two versions on the same site.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from benchmarks.measure import high_water_mark
from benchmarks.runs import ROOT, crawler_env, finews_argv
from benchmarks.servers import NginxServer, ServerUnavailable
from benchmarks.static_site import static_site

MIB = 2**20
# How long the stopped crawl may take to exit (it finishes what it has in flight).
STOP_SECONDS = 120


def role(process: psutil.Process) -> str:
    command = process.cmdline()
    if "worker" in command:
        return "worker"
    if "crawl" in command:
        return "crawl"
    return process.name()


def early_peaks(crawl: subprocess.Popen[bytes], seconds: float) -> list[tuple[str, int, int]]:
    """(role, pid, VmHWM in bytes) of the crawl and its children once ``seconds`` have passed since its workers
    started (on a loaded machine the imports alone can take seconds, and a SIGTERM before the crawl is set
    up kills it rather than stopping it), or it ended."""
    root = psutil.Process(crawl.pid)
    deadline = time.monotonic() + STOP_SECONDS  # until the workers are seen
    workers_seen = False
    peaks: dict[int, tuple[str, int]] = {}
    while time.monotonic() < deadline and crawl.poll() is None:
        if not workers_seen and any(name == "worker" for name, _mark in peaks.values()):
            workers_seen, deadline = True, time.monotonic() + seconds
        # Read while the processes live: a child's VmHWM is gone with it.
        try:
            members = (root, *root.children(recursive=True))
        except psutil.NoSuchProcess:  # the crawl ended since it was polled
            break
        for member in members:
            try:
                name = role(member)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
            mark = high_water_mark(member.pid)  # only ever grows; 0 once the process has ended
            if mark:
                peaks[member.pid] = (name, mark)
        time.sleep(0.25)
    return [(name, pid, peak) for pid, (name, peak) in peaks.items()]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.early_peak", description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--code", type=Path, default=ROOT, help="the checkout whose finews runs (default: this one)")
    parser.add_argument("--work", type=Path, default=Path("bench-work"))
    args = parser.parse_args()
    work = args.work.resolve()
    site = static_site(args.posts, work / f"site-{args.posts}")
    output = work / "early-peak"
    shutil.rmtree(output, ignore_errors=True)
    try:
        server = NginxServer(site, work / "nginx-early-peak")
    except ServerUnavailable as error:
        print(f"python -m benchmarks.early_peak: {error}", file=sys.stderr)
        return 1
    with server:
        env = {**crawler_env(server.proxy_url), "PYTHONPATH": str(args.code.resolve())}
        crawl = subprocess.Popen(
            finews_argv("crawl", "--output", str(output), "--workers", str(args.workers), "-q"), env=env, cwd=work,
        )
        try:
            peaks = early_peaks(crawl, args.seconds)
        finally:
            crawl.send_signal(signal.SIGTERM)
            crawl.wait(timeout=STOP_SECONDS)
    if crawl.returncode not in (0, 128 + signal.SIGTERM):
        print(f"python -m benchmarks.early_peak: the crawl failed (exit {crawl.returncode})", file=sys.stderr)
        return 1
    for name, pid, peak in sorted(peaks, key=lambda row: row[1]):
        print(f"{name:<14} pid {pid:<8} {peak / MIB:7.0f} MB")
    print(f"{'sum':<27} {sum(peak for _name, _pid, peak in peaks) / MIB:7.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
