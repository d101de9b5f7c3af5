"""A throwaway ``redis-server`` for the distributed crawl's benchmark and tests: a free loopback port, no
persistence, a child process stopped with its owner (Debian's package: ``apt-get install redis-server``;
scripts/test.sh installs it, and its system service is never used)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import TracebackType

import redis

from benchmarks.servers import ServerUnavailable, free_port
from crawler.distributed.local import REDIS_START_SECONDS, LocalWorkersUnavailable, redis_binary, wait_until_ready


class RedisServer:
    """A throwaway redis-server on a free loopback port: no persistence, a child of the benchmark, stopped
    with it (the ``with`` block ends on an error or Ctrl-C too)."""

    def __init__(self, work: Path, password: str | None = None) -> None:
        binary = redis_binary()
        if binary is None:
            raise ServerUnavailable("redis-server is not installed: `apt-get install redis-server` (Debian)")
        work.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = work / "redis.log"
        # --dir: where it would write, were anything persisted; nothing is (--save '' --appendonly no).
        self.password = password
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(work), "--logfile", str(self.log), *(["--requirepass", password] if password else [])],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.client = redis.Redis(host="127.0.0.1", port=self.port, password=password, socket_timeout=30)
        try:
            wait_until_ready(self.process, self.client, self.log)
        except LocalWorkersUnavailable as error:
            self.stop()
            raise ServerUnavailable(str(error)) from None
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def flush(self) -> None:
        """Forget everything: the last run's frontier, duplicate filter, records, counts and published run."""
        self.client.flushall()

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=REDIS_START_SECONDS)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
