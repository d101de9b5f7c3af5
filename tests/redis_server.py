"""The distributed crawl's tests need a real ``redis-server`` (benchmarks.redis_server starts one on a free
loopback port, without persistence); where it is not installed they skip. scripts/test.sh installs it."""

from __future__ import annotations

import pytest

from benchmarks.redis_server import RedisServer, redis_binary

needs_redis = pytest.mark.skipif(redis_binary() is None, reason="redis-server is not installed (scripts/test.sh installs it)")

__all__ = ["RedisServer", "needs_redis"]
