"""What the processes of one distributed crawl share in Redis, and every operation on it.

Keys, under a prefix (``FINEWS_REDIS_PREFIX``, default ``finews``):

- ``P:requests``: the frontier, scrapy-redis's priority queue (a sorted set of requests as JSON,
  crawler/distributed/request_codec.py);
- ``P:dupefilter``: fingerprints of the requests this run has scheduled (scrapy-redis's RFPDupeFilter);
- ``P:items``: records handed to the ingest, oldest first (JSON, crawler/distributed/records.py);
- ``P:known``: names of posts whose own page is archived, which a worker skips before any request;
- ``P:run``: the run the workers join (site, run id, mode), published by ``finews crawl --redis``;
- ``P:stats``: the workers' counts for ``crawl_runs`` (requests, skipped_known, errors);
- ``P:workers``: worker ids; ``P:alive:ID`` a worker's heartbeat, a key that expires unless renewed;
- ``P:leases:ID`` and ``P:scores:ID``: requests worker ID has taken and not settled (lease id → the
  encoded request, and its frontier score), so a dead worker's requests go back exactly as they were.

Whatever moves work from one key to another is one Lua script or one MULTI transaction: a worker killed
at any instant leaves every request in exactly one place (the frontier, a lease, or handed off).
What is read from Redis is data, never code: requests and records are JSON, checked field by field when
read, and an entry that is not one finews wrote is dropped and counted. Whoever can write to the Redis
server can delay or drop work, never run code in a worker or the writer.
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from redis import ConnectionError as RedisConnectionError
from redis import Redis
from redis import TimeoutError as RedisTimeoutError
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from crawler.distributed.records import Record, UnreadableEntry, decode_record, encode_record
from pipelines.archive import PostLink

# Members of P:known are added and read in batches of this many (one round trip each).
KNOWN_BATCH = 5_000
# The crawl_runs counts the workers add to, and the Scrapy stats they come from.
WORKER_COUNTS = {
    "requests": "downloader/request_count",
    "skipped_known": "finews/skipped_known",
    "errors": "log_count/ERROR",
}
SITE_UNREACHABLE = "site_unreachable"
# P:run's status while workers should work; ``finews crawl --redis`` sets another when it stops.
RUN_GOES_ON = "running"


@dataclass
class Outbox:
    """What a worker has to tell Redis, kept until its next exchange: requests to queue, leases that end,
    records for the writer, counts to add. One exchange applies it all, in this order, atomically: the
    requests a response gave are queued before its lease ends, in the same script that hands off its items."""

    requests: list[tuple[str, float, bytes, bool]] = field(default_factory=list)  # fingerprint, score, encoded, always
    leases: list[str] = field(default_factory=list)
    records: list[bytes] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.requests) + len(self.leases) + len(self.records)

    def add_records(self, records: Iterable[Record]) -> None:
        self.records.extend(encode_record(record) for record in records)


# One round trip does all a worker has to say and ask (see ``Outbox``). KEYS: frontier, duplicate filter,
# records, leases, scores, lease counter, counts. ARGV, in order: the requests to queue (count, then
# fingerprint, score, encoded request, "1" to queue it even if seen, for each); the leases that end; the
# records for the writer; the counts to add; how many requests to take; the most records that may wait for
# the writer before this worker takes more (0: no limit). Returns the frontier's size after, then a lease id
# and an encoded request for each request taken, best (lowest score) first.
_EXCHANGE = """
local at = 0
local function arg() at = at + 1; return ARGV[at] end
for _ = 1, tonumber(arg()) do
  local fingerprint, score, request, always = arg(), arg(), arg(), arg()
  if always == '1' or redis.call('SADD', KEYS[2], fingerprint) == 1 then
    redis.call('ZADD', KEYS[1], score, request)
  end
end
for _ = 1, tonumber(arg()) do
  local lease = arg()
  redis.call('HDEL', KEYS[4], lease)
  redis.call('HDEL', KEYS[5], lease)
end
for _ = 1, tonumber(arg()) do redis.call('RPUSH', KEYS[3], arg()) end
for _ = 1, tonumber(arg()) do
  local name, value = arg(), arg()
  redis.call('HINCRBY', KEYS[7], name, value)
end
local wanted, backlog = tonumber(arg()), tonumber(arg())
local reply = {}
if wanted > 0 and (backlog == 0 or redis.call('LLEN', KEYS[3]) < backlog) then
  local best = redis.call('ZRANGE', KEYS[1], 0, wanted - 1, 'WITHSCORES')
  if #best > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #best / 2 - 1)
    for i = 1, #best, 2 do
      local lease = tostring(redis.call('INCR', KEYS[6]))
      redis.call('HSET', KEYS[4], lease, best[i])
      redis.call('HSET', KEYS[5], lease, best[i + 1])
      table.insert(reply, lease)
      table.insert(reply, best[i])
    end
  end
end
table.insert(reply, 1, redis.call('ZCARD', KEYS[1]))
return reply
"""

# KEYS: frontier, workers; ARGV: key prefix, the worker to return (or '' for every worker whose heartbeat
# has expired). Returns how many requests went back to the frontier.
_RETURN_LEASES = """
local returned = 0
local workers = {}
if ARGV[2] ~= '' then workers = {ARGV[2]} else workers = redis.call('SMEMBERS', KEYS[2]) end
for _, worker in ipairs(workers) do
  if ARGV[2] ~= '' or redis.call('EXISTS', ARGV[1] .. ':alive:' .. worker) == 0 then
    local leases = ARGV[1] .. ':leases:' .. worker
    local scores = ARGV[1] .. ':scores:' .. worker
    local held = redis.call('HGETALL', leases)
    for i = 1, #held, 2 do
      local score = redis.call('HGET', scores, held[i]) or '0'
      redis.call('ZADD', KEYS[1], score, held[i + 1])
      returned = returned + 1
    end
    redis.call('DEL', leases, scores)
    redis.call('SREM', KEYS[2], worker)
  end
end
return returned
"""

# KEYS: frontier, items, workers; ARGV: key prefix. 1 when no work is left anywhere: nothing queued,
# nothing handed off and not yet written, no request held by any worker.
_COMPLETE = """
if redis.call('ZCARD', KEYS[1]) > 0 or redis.call('LLEN', KEYS[2]) > 0 then return 0 end
for _, worker in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('HLEN', ARGV[1] .. ':leases:' .. worker) > 0 then return 0 end
end
return 1
"""


def _decoded(raw: bytes) -> Record | UnreadableEntry:
    """A record, or why the bytes are not one this version writes (the ingest drops and counts it)."""
    try:
        return decode_record(raw)
    except UnreadableEntry as error:
        return error


# A command that fails with these is tried again this often, waiting up to a second between tries (the
# reactor waits too): a Redis restart or a network blip costs a pause, not the run.
RETRIES = 4
LOST_CONNECTION = (RedisConnectionError, RedisTimeoutError)
MethodT = TypeVar("MethodT", bound=Callable[..., Any])


def _watched(method: MethodT) -> MethodT:
    """A SharedCrawl operation that, when Redis is lost for good, says so once to whoever listens (the
    runner stops the crawl and exits 1) before raising."""

    @functools.wraps(method)
    def wrapper(self: SharedCrawl, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except LOST_CONNECTION as error:
            self.redis_lost(error)
            raise

    return wrapper  # type: ignore[return-value]


def new_worker_id() -> str:
    """Unique across machines and restarts: the host, the pid, and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SharedCrawl:
    """One distributed crawl's state in Redis (see the module docstring for its keys)."""

    def __init__(self, server: Redis, prefix: str) -> None:
        self.server = server
        self.prefix = prefix
        self.requests_key = f"{prefix}:requests"
        self.dupefilter_key = f"{prefix}:dupefilter"
        self.items_key = f"{prefix}:items"
        self.known_key = f"{prefix}:known"
        self.run_key = f"{prefix}:run"
        self.stats_key = f"{prefix}:stats"
        self.workers_key = f"{prefix}:workers"
        # What lost Redis for good, once it happened; and who is told (crawler/distributed/runner.py).
        self.lost: Exception | None = None
        self.on_lost: list[Callable[[Exception], None]] = []
        self._exchange = server.register_script(_EXCHANGE)
        self._return_leases = server.register_script(_RETURN_LEASES)
        self._complete = server.register_script(_COMPLETE)

    @classmethod
    def connect(cls, url: str, prefix: str) -> SharedCrawl:
        """Raises redis.ConnectionError (or ValueError for a malformed URL) when it cannot be reached."""
        server = Redis.from_url(
            url, socket_timeout=30, socket_connect_timeout=10,
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES), retry_on_error=list(LOST_CONNECTION),
        )
        server.ping()
        return cls(server, prefix)

    def redis_lost(self, error: Exception) -> None:
        if self.lost is None:
            self.lost = error
            for listener in self.on_lost:
                listener(error)

    def _leases_key(self, worker: str) -> str:
        return f"{self.prefix}:leases:{worker}"

    def _scores_key(self, worker: str) -> str:
        return f"{self.prefix}:scores:{worker}"

    def _alive_key(self, worker: str) -> str:
        return f"{self.prefix}:alive:{worker}"

    # The run ----------------------------------------------------------------------------------

    @_watched
    def publish_run(self, run: Mapping[str, str | int], *, resume: bool) -> None:
        """Open ``run`` to workers. Counts start from zero (the archive sums a run's sessions). A new run
        forgets what the last one scheduled; requests it left queued stay (a post queued twice is fetched
        twice, and archived once)."""
        with self.server.pipeline(transaction=True) as pipe:
            if not resume:
                pipe.delete(self.dupefilter_key)
            pipe.delete(self.run_key, self.stats_key)
            # Built anew: redis-py's mapping type, invariant in its key, takes no Mapping[str, …].
            pipe.hset(self.run_key, mapping={name: value for name, value in run.items()})
            pipe.execute()

    @_watched
    def run(self) -> dict[str, str] | None:
        """The published run, or None before ``finews crawl --redis`` has published one."""
        return self._hash(self.run_key) or None

    @_watched
    def close_run(self, status: str) -> None:
        """The run is over (``finished``, ``interrupted``, ``failed``): workers stop."""
        self.server.hset(self.run_key, "status", status)

    # Known posts ------------------------------------------------------------------------------

    @_watched
    def seed_known(self, keys: Iterable[str]) -> int:
        """Replace P:known with ``keys`` (the archive's, read as it is now); returns how many were given."""
        count = 0
        batch: list[str] = []
        self.server.delete(self.known_key)
        for key in keys:
            batch.append(key)
            if len(batch) == KNOWN_BATCH:
                count += self._add_known(batch)
                batch = []
        return count + self._add_known(batch)

    def _add_known(self, keys: Sequence[str]) -> int:
        if keys:
            self.server.sadd(self.known_key, *keys)
        return len(keys)

    @_watched
    def known_links(self, links: Sequence[PostLink]) -> list[bool]:
        """For each link: is its name known (its own page archived, not only its twin's)?"""
        if not links:
            return []
        return [bool(known) for known in self.server.smismember(self.known_key, [link.name for link in links])]

    # The frontier and its leases --------------------------------------------------------------

    @_watched
    def exchange(
        self, worker: str, outbox: Outbox, counts: Mapping[str, int], wanted: int = 0, max_backlog: int = 0,
    ) -> tuple[int, list[tuple[str, bytes]]]:
        """Apply ``outbox`` (then empty it) and ``counts``, and take up to ``wanted`` requests under new leases
        of ``worker``, unless ``max_backlog`` records already wait for the writer (workers then wait for it
        rather than fill Redis's memory faster than the archive is written). Returns the frontier's size
        and the (lease id, encoded request) taken, in one round trip."""
        args: list[Any] = [len(outbox.requests)]
        for fingerprint, score, request, always in outbox.requests:
            args += [fingerprint, score, request, "1" if always else "0"]
        args += [len(outbox.leases), *outbox.leases, len(outbox.records), *outbox.records]
        changed = {name: value for name, value in counts.items() if value}
        args.append(len(changed))
        for name, value in changed.items():
            args += [name, value]
        args += [wanted, max_backlog]
        reply = self._exchange(
            keys=[self.requests_key, self.dupefilter_key, self.items_key, self._leases_key(worker),
                  self._scores_key(worker), f"{self.prefix}:lease-ids", self.stats_key],
            args=args,
        )
        outbox.requests.clear()
        outbox.leases.clear()
        outbox.records.clear()
        queued, taken = int(reply[0]), reply[1:]
        return queued, [(taken[i].decode(), taken[i + 1]) for i in range(0, len(taken), 2)]

    @_watched
    def heartbeat(self, worker: str, ttl_seconds: float) -> None:
        with self.server.pipeline(transaction=True) as pipe:
            pipe.sadd(self.workers_key, worker)
            pipe.set(self._alive_key(worker), b"1", px=max(1, int(ttl_seconds * 1000)))
            pipe.execute()

    @_watched
    def leave(self, worker: str) -> int:
        """``worker`` stops: what it still holds goes back to the frontier. Returns how many requests."""
        returned = int(self._return_leases(keys=[self.requests_key, self.workers_key], args=[self.prefix, worker]))
        self.server.delete(self._alive_key(worker))
        return returned

    @_watched
    def return_dead_leases(self) -> int:
        """The requests of every worker whose heartbeat expired go back to the frontier; how many."""
        return int(self._return_leases(keys=[self.requests_key, self.workers_key], args=[self.prefix, ""]))

    @_watched
    def queued(self) -> int:
        return int(self.server.zcard(self.requests_key))

    @_watched
    def complete(self) -> bool:
        """Nothing queued, nothing held by a worker, nothing handed off and not yet written."""
        return bool(self._complete(keys=[self.requests_key, self.items_key, self.workers_key], args=[self.prefix]))

    # Records for the ingest -------------------------------------------------------------------

    @_watched
    def peek_records(self, limit: int) -> list[Record | UnreadableEntry]:
        """The oldest ``limit`` records, left in place until ``ack_records``: a writer killed before its
        commit leaves them for the next one."""
        raws = cast(list[bytes], self.server.lrange(self.items_key, 0, limit - 1))  # bytes: see _hash
        return [_decoded(raw) for raw in raws]

    @_watched
    def ack_records(self, count: int, known: Iterable[str]) -> None:
        """The oldest ``count`` records are committed to the archive: drop them and make ``known`` known."""
        keys = [key for key in known if key]
        with self.server.pipeline(transaction=True) as pipe:
            pipe.ltrim(self.items_key, count, -1)
            if keys:
                pipe.sadd(self.known_key, *keys)
            pipe.execute()

    # Counts -----------------------------------------------------------------------------------

    @_watched
    def add_counts(self, counts: Mapping[str, int], site_unreachable: str | None = None) -> None:
        with self.server.pipeline(transaction=True) as pipe:
            for name, value in counts.items():
                if value:
                    pipe.hincrby(self.stats_key, name, value)
            if site_unreachable:
                pipe.hset(self.stats_key, SITE_UNREACHABLE, site_unreachable)
            pipe.execute()

    @_watched
    def counts(self) -> dict[str, Any]:
        fields = self._hash(self.stats_key)
        counts: dict[str, Any] = {name: int(fields.get(name, 0)) for name in WORKER_COUNTS}
        if SITE_UNREACHABLE in fields:
            counts[SITE_UNREACHABLE] = fields[SITE_UNREACHABLE]
        return counts

    def _hash(self, key: str) -> dict[str, str]:
        """A hash's fields and values as text. Redis answers bytes, as this client decodes no responses
        (redis-py types an answer as bytes or text, for either kind of client)."""
        fields = cast(dict[bytes, bytes], self.server.hgetall(key))
        return {name.decode(): value.decode() for name, value in fields.items()}
