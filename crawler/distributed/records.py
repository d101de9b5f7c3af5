"""The records a worker hands to the writer through Redis, as data: JSON, versioned, checked on the way in.

Redis is shared with whoever can reach it; what it holds must never be able to run code in the process that
reads it (a pickle can: issue 20). A record is one JSON object::

    {"v": 1, "kind": "post_page", "url": "http://…", "title": "…", "raw": {"b64": "…"}, …}

``v`` is ENCODING_VERSION; ``kind`` names one of RECORD_KINDS; every other key is a field of that
dataclass, in JSON's own types, with ``bytes`` as ``{"b64": base64}``, tuples as arrays and a nested
dataclass (a ``PostLink``) as an object of its fields. ``decode_record`` builds the dataclass only when
every key is one of its fields and every value has its field's type (a missing field takes its default):
anything else is an ``UnreadableEntry``, which the reader drops and counts, and nothing else happens.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import logging
import types
import typing
from functools import cache
from typing import TYPE_CHECKING, Any, Union

from crawler.items import FetchFailure
from crawler.pages.post import PostPage
from pipelines.archive import FetchedPage, PostLink

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

ENCODING_VERSION = 1
# Entries read from Redis and dropped because finews did not write them.
UNREADABLE_STAT = "finews/unreadable_entries"


@dataclasses.dataclass(frozen=True)
class SeenLinks:
    """Listed posts a worker skipped because the archive holds them: the ingest marks them seen."""

    links: tuple[PostLink, ...]
    run_id: int | None


# What a worker hands to the ingest: a post page read (with its share text, when fetched), a post page that
# could not be fetched or read, a page as received (the archive's ``pages``), or posts skipped as known.
Record = PostPage | FetchFailure | FetchedPage | SeenLinks
RECORD_KINDS: dict[str, type] = {
    "post_page": PostPage, "fetch_failure": FetchFailure, "fetched_page": FetchedPage, "seen_links": SeenLinks,
}
_KIND_OF = {kind: name for name, kind in RECORD_KINDS.items()}
# The largest JSON nesting a record has (SeenLinks: record → links → link); deeper is refused unread.
_MAX_DEPTH = 8


class UnreadableEntry(ValueError):
    """An entry in Redis that is not one this version writes: not JSON, another version, an unknown kind,
    a field it does not have or a value of the wrong type."""


class UnreadableEntries:
    """Entries dropped from Redis by one reader: the first named in the log, every one counted in the run's
    errors (``log_count/ERROR``, which a worker adds to ``crawl_runs.errors``). A queue filled with junk
    costs one line, not one per entry."""

    def __init__(self, crawler: Crawler, logger: logging.Logger | logging.LoggerAdapter[logging.Logger]) -> None:
        self.crawler = crawler
        self.logger = logger
        self.dropped = 0

    def drop(self, where: str, error: Exception) -> None:
        self.dropped += 1
        stats = self.crawler.stats
        stats.inc_value(UNREADABLE_STAT)
        if self.dropped == 1:
            self.logger.error(
                "Dropped an entry of %s that finews did not write (%s): every such entry is dropped unread and "
                "counted in the run's errors", where, str(error)[:200],
            )
        else:
            # Counted as the first was, without a line of its own.
            stats.inc_value("log_count/ERROR")


def encode_record(record: Record) -> bytes:
    kind = _KIND_OF[type(record)]
    fields = {field.name: _to_json(getattr(record, field.name)) for field in dataclasses.fields(record)}
    return json.dumps({"v": ENCODING_VERSION, "kind": kind, **fields}, ensure_ascii=False,
                      separators=(",", ":")).encode("utf-8")


def decode_record(raw: bytes) -> Record:
    """The record ``raw`` encodes; raises UnreadableEntry for anything else."""
    try:
        entry = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise UnreadableEntry(f"not JSON ({type(error).__name__})") from None
    if not isinstance(entry, dict):
        raise UnreadableEntry("not a JSON object")
    if entry.pop("v", None) != ENCODING_VERSION:
        raise UnreadableEntry(f"not encoding version {ENCODING_VERSION}")
    kind = RECORD_KINDS.get(entry.pop("kind", None))  # type: ignore[arg-type]
    if kind is None:
        raise UnreadableEntry("no record kind this version knows")
    return _from_json(kind, entry, 0)


def _to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: _to_json(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: _to_json(item) for key, item in value.items()}
    return value


@cache
def _field_types(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _from_json(expected: Any, value: Any, depth: int) -> Any:
    """``value`` (decoded JSON) as ``expected`` (a type annotation of a record field), or UnreadableEntry."""
    if depth > _MAX_DEPTH:
        raise UnreadableEntry("nested too deep")
    origin = typing.get_origin(expected)
    if origin in (Union, types.UnionType):
        for option in typing.get_args(expected):
            if option is type(None):
                if value is None:
                    return None
                continue
            try:
                return _from_json(option, value, depth)
            except UnreadableEntry:
                continue
        raise UnreadableEntry(f"a value of none of the types {expected}")
    if origin is list:
        (item,) = typing.get_args(expected)
        return [_from_json(item, element, depth + 1) for element in _array(value)]
    if origin is tuple:
        args = typing.get_args(expected)
        elements = _array(value)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_json(args[0], element, depth + 1) for element in elements)
        if len(elements) != len(args):
            raise UnreadableEntry(f"an array of {len(elements)} where {len(args)} belong")
        return tuple(_from_json(arg, element, depth + 1) for arg, element in zip(args, elements, strict=True))
    if origin is dict:
        key_type, item_type = typing.get_args(expected)
        if not isinstance(value, dict) or key_type is not str:
            raise UnreadableEntry("not an object")
        return {key: _from_json(item_type, item, depth + 1) for key, item in value.items()}
    if dataclasses.is_dataclass(expected):
        if not isinstance(value, dict):
            raise UnreadableEntry(f"not a {expected.__name__}")
        return _dataclass(expected, value, depth + 1)
    if expected is bytes:
        if not (isinstance(value, dict) and set(value) == {"b64"} and isinstance(value["b64"], str)):
            raise UnreadableEntry("bytes not as {'b64': …}")
        try:
            return base64.b64decode(value["b64"], validate=True)
        except (binascii.Error, ValueError):
            raise UnreadableEntry("bytes not valid base64") from None
    # bool is an int in Python: neither may pass for the other.
    if expected in (str, int, bool, float) and type(value) is expected:
        return value
    raise UnreadableEntry(f"a {type(value).__name__} where a {getattr(expected, '__name__', expected)} belongs")


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise UnreadableEntry("not an array")
    return value


def _dataclass(kind: type, values: dict[str, Any], depth: int) -> Any:
    hints = _field_types(kind)
    unknown = set(values) - set(hints)
    if unknown:
        raise UnreadableEntry(f"fields a {kind.__name__} does not have: {sorted(unknown)[:5]}")
    fields = {name: _from_json(hints[name], value, depth) for name, value in values.items()}
    try:
        return kind(**fields)
    except TypeError as error:  # a field with no default is missing
        raise UnreadableEntry(f"not a whole {kind.__name__}: {error}") from None
