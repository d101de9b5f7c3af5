"""``finews crawl --workers N``: the distributed crawl on this machine's cores, with nothing to set up.

One process cannot go faster than Scrapy's own cost per request (BENCHMARKS.md); the distributed crawl
(this package) spreads that over processes. Here it runs privately: a ``redis-server`` of its own, with no
persistence, listening only on a Unix socket in a folder only this user can open (no other local user can
reach it: docs/distributed.md), and N - 1 ``finews worker`` processes beside this one, which is the
writer and one more worker, exactly as ``finews crawl --redis`` with workers started by hand.

The helpers are children that die with this process, however it ends (a kill -9 included: Linux's
parent-death signal), so cron never finds a stray server or worker. Nothing of the run outlives it in
Redis: ``--resume`` after a kill finds what is not archived in the listings, as after a lost Redis.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis

from crawler.runner import CrawlError, CrawlSummary

REDIS_START_SECONDS = 10.0
# How long the workers get to stop once the crawl is over (they see it within FINEWS_REDIS_POLL_SECONDS).
WORKER_STOP_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1
# Records that may wait for the writer before the workers stop taking requests (FINEWS_MAX_BACKLOG, 3,000
# for workers on other machines): here Redis shares this machine's memory with the crawl (BENCHMARKS.md).
LOCAL_MAX_BACKLOG = 1000


class LocalWorkersUnavailable(RuntimeError):
    """The private Redis server could not be started; the message is one line for the user."""


def redis_binary() -> str | None:
    return shutil.which("redis-server", path=os.pathsep.join((os.environ.get("PATH", ""), "/usr/sbin", "/usr/bin")))


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the process that started it ends, however it ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def start_child(args: list[str], **popen: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent, **popen)  # noqa: PLW1509


def _stop(process: subprocess.Popen[bytes], seconds: float) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def private_redis() -> Iterator[str]:
    """A ``redis-server`` on a Unix socket only this user can reach, for as long as the block runs; its URL."""
    binary = redis_binary()
    if binary is None:
        raise LocalWorkersUnavailable("--workers needs redis-server: `apt-get install redis-server` (Debian)")
    folder = Path(tempfile.mkdtemp(prefix="finews-redis-"))  # mode 0700
    socket_path = folder / "redis.sock"
    log = folder / "redis.log"
    process = start_child(
        [binary, "--port", "0", "--unixsocket", str(socket_path), "--unixsocketperm", "700", "--save", "",
         "--appendonly", "no", "--dir", str(folder), "--logfile", str(log)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"unix://{socket_path}"
        client = redis.Redis.from_url(url, socket_timeout=5)
        try:
            wait_until_ready(process, client, log)
        finally:
            client.close()
        yield url
    finally:
        _stop(process, REDIS_START_SECONDS)
        shutil.rmtree(folder, ignore_errors=True)


def wait_until_ready(process: subprocess.Popen[bytes], client: redis.Redis, log: Path) -> None:
    """Until ``client`` gets an answer from the redis-server ``process`` just started (logging to ``log``);
    LocalWorkersUnavailable, with the log's last line, when it exits or stays silent."""
    deadline = time.monotonic() + REDIS_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalWorkersUnavailable(f"redis-server exited at start: {_last_line(log)}")
        try:
            client.ping()
            return
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    raise LocalWorkersUnavailable(f"redis-server did not answer within {REDIS_START_SECONDS:.0f} s: {_last_line(log)}")


def _last_line(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
    return lines[-1] if lines else "(no log)"


@contextmanager
def local_workers(redis_url: str, count: int, settings: dict[str, Any]) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` ``finews worker`` processes joining the crawl published in ``redis_url``, with the crawl's
    own ``-s`` settings. Their summary lines are not printed (the crawl prints one); errors are. Once the
    block ends they are waited for (the crawl's end stops them), and stopped if they outstay it; at once
    when the block raised."""
    command = [sys.executable, "-m", "crawler.cli", "worker", "--redis", redis_url, "-q"]
    for name, value in settings.items():
        command += ["-s", f"{name}={value}"]
    workers = [start_child(command, stdout=subprocess.DEVNULL) for _ in range(count)]
    try:
        yield workers
    except BaseException:
        # The crawl did not run (its output locked by another crawl, a bad setting): nothing to wait for.
        for worker in workers:
            _stop(worker, REDIS_START_SECONDS)
        raise
    deadline = time.monotonic() + WORKER_STOP_SECONDS
    for worker in workers:
        try:
            worker.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _stop(worker, REDIS_START_SECONDS)


def run_crawl_on_local_workers(
    site_url: str, output: Path, workers: int, overrides: dict[str, Any], worker_settings: dict[str, Any], *,
    full: bool = False, resume: bool = False,
) -> CrawlSummary:
    """``finews crawl --workers N``: this process and N - 1 workers, through a private Redis server."""
    from crawler.distributed.runner import run_distributed_crawl

    worker_settings = {"FINEWS_MAX_BACKLOG": LOCAL_MAX_BACKLOG, **worker_settings}
    try:
        with private_redis() as url, local_workers(url, workers - 1, worker_settings):
            return run_distributed_crawl(site_url, output, url, overrides, full=full, resume=resume)
    except LocalWorkersUnavailable as error:
        raise CrawlError(str(error)) from None
