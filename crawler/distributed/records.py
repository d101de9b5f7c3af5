"""The records a worker hands to the writer through Redis, as data: JSON, versioned, checked on the way in.

Redis is shared with whoever can reach it; what it holds must never be able to run code in the process that
reads it (a pickle can: issue 20). A record is one JSON object::

    {"v": 1, "record": "post_item", "post_url": "http://…", "title": "…", "raw_page": {"utf8": "<!DOCTYPE html>…"}, …}

``v`` is ENCODING_VERSION; ``record`` names one of RECORD_KINDS (not ``kind``: a post has a field of that
name); every other key is a field of that dataclass, in JSON's own types, with ``bytes`` as ``{"utf8": text}`` when they are UTF-8 (a page almost
always is: as compact as the bytes, and fast) and ``{"b64": base64}`` otherwise, tuples as arrays and a
nested dataclass (a ``PostLink``) as an object of its fields. orjson writes and reads the JSON: the
writer of a distributed crawl decodes every record the workers hand off, and the standard library's json
took six times as long (``python -m benchmarks.codec``). ``decode_record`` builds the dataclass only when
every key is one of its fields and every value has its field's type (a missing field takes its default):
anything else is an ``UnreadableEntry``, which the reader drops and counts, and nothing else happens.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import logging
import types
import typing
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Union

import orjson

from crawler.items import FetchFailure, PostItem
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


# What a worker hands to the ingest: a post read (its record, with its share text when fetched), a post page that
# could not be fetched or read, a page as received (the archive's ``pages``), or posts skipped as known.
Record = PostItem | FetchFailure | FetchedPage | SeenLinks
RECORD_KINDS: dict[str, type] = {
    "post_item": PostItem, "fetch_failure": FetchFailure, "fetched_page": FetchedPage, "seen_links": SeenLinks,
}
_KIND_OF = {kind: name for name, kind in RECORD_KINDS.items()}


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
    record_type: type = type(record)
    entry: dict[str, Any] = {"v": ENCODING_VERSION, "record": _KIND_OF[record_type]}
    for name, encode in _field_encoders(record_type):
        value = getattr(record, name)
        entry[name] = value if encode is None or value is None else encode(value)
    return orjson.dumps(entry)


def versioned_object(raw: bytes) -> dict[str, Any]:
    """The JSON object ``raw`` holds, less its ``v``: UnreadableEntry unless it is one of this version's
    (a record's, or a request's: crawler/distributed/request_codec.py)."""
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise UnreadableEntry(f"not JSON ({type(error).__name__})") from None
    if not isinstance(entry, dict):
        raise UnreadableEntry("not a JSON object")
    if entry.pop("v", None) != ENCODING_VERSION:
        raise UnreadableEntry(f"not encoding version {ENCODING_VERSION}")
    return entry


def decode_record(raw: bytes) -> Record:
    """The record ``raw`` encodes; raises UnreadableEntry for anything else."""
    entry = versioned_object(raw)
    kind = RECORD_KINDS.get(entry.pop("record", None))
    if kind is None:
        raise UnreadableEntry("no record kind this version knows")
    return _dataclass(kind, entry)


Encoder = Callable[[Any], Any]


@cache
def _field_encoders(kind: type) -> tuple[tuple[str, Encoder | None], ...]:
    """Each field of a record type with what makes its value JSON (None: it is already)."""
    return tuple((name, _encoder(annotation)) for name, annotation in typing.get_type_hints(kind).items())


@cache
def _encoder(annotation: Any) -> Encoder | None:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        encoders = {_encoder(option) for option in typing.get_args(annotation) if option is not type(None)}
        if encoders == {None}:
            return None
        (encode,) = encoders  # the records' unions are of one type and None
        return encode
    if origin in (list, tuple):
        items = [_encoder(arg) for arg in typing.get_args(annotation) if arg is not Ellipsis]
        if all(item is None for item in items):
            return list if origin is tuple else None
        (encode_item,) = set(items)
        assert encode_item is not None  # not all None, and only one
        return lambda value: [encode_item(element) for element in value]
    if origin is dict:
        item = _encoder(typing.get_args(annotation)[1])
        return None if item is None else (lambda value: {key: item(element) for key, element in value.items()})
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        fields = _field_encoders(annotation)
        return lambda value: {
            name: getattr(value, name) if encode is None else encode(getattr(value, name)) for name, encode in fields
        }
    if annotation is bytes:
        return bytes_to_json
    return None


def bytes_to_json(value: bytes) -> dict[str, str]:
    """Bytes in JSON: ``{"utf8": text}`` when they are UTF-8, else ``{"b64": base64}``."""
    try:
        return {"utf8": value.decode("utf-8")}
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(value).decode("ascii")}


Decoder = Callable[[Any], Any]


@cache
def _decoder(expected: Any) -> Decoder:
    """A function that gives ``value`` (decoded JSON) as ``expected`` (a record field's annotation) or raises
    UnreadableEntry; made once per annotation, since the writer decodes every record a worker hands off."""
    origin = typing.get_origin(expected)
    if origin in (Union, types.UnionType):
        options = [option for option in typing.get_args(expected) if option is not type(None)]
        nullable = len(options) < len(typing.get_args(expected))
        decoders = [_decoder(option) for option in options]
        if nullable and len(options) == 1 and options[0] in (str, int, bool, float):
            (scalar_type,) = options

            def optional_scalar(value: Any) -> Any:
                if value is None or type(value) is scalar_type:
                    return value
                raise UnreadableEntry(f"a {type(value).__name__} where a {scalar_type.__name__} or null belongs")

            return optional_scalar

        def one_of(value: Any) -> Any:
            if value is None and nullable:
                return None
            for decode in decoders:
                try:
                    return decode(value)
                except UnreadableEntry:
                    continue
            raise UnreadableEntry(f"a value of none of the types {expected}")

        return one_of
    if origin is list:
        item = _decoder(typing.get_args(expected)[0])
        return lambda value: [item(element) for element in _array(value)]
    if origin is tuple:
        args = typing.get_args(expected)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _decoder(args[0])
            return lambda value: tuple(item(element) for element in _array(value))
        items = [_decoder(arg) for arg in args]

        def fixed(value: Any) -> tuple[Any, ...]:
            elements = _array(value)
            if len(elements) != len(items):
                raise UnreadableEntry(f"an array of {len(elements)} where {len(items)} belong")
            return tuple(decode(element) for decode, element in zip(items, elements, strict=True))

        return fixed
    if origin is dict:
        key_type, item_type = typing.get_args(expected)
        if key_type is not str:
            raise TypeError(f"a record field of type {expected}: JSON keys are text")
        item = _decoder(item_type)

        def mapping(value: Any) -> dict[str, Any]:
            if not isinstance(value, dict):
                raise UnreadableEntry("not an object")
            return {key: item(element) for key, element in value.items()}

        return mapping
    if isinstance(expected, type) and dataclasses.is_dataclass(expected):
        return functools.partial(_dataclass, expected)
    if expected is bytes:
        return bytes_from_json
    if expected in (str, int, bool, float):
        def scalar(value: Any) -> Any:
            # bool is an int in Python: neither may pass for the other.
            if type(value) is not expected:
                raise UnreadableEntry(f"a {type(value).__name__} where a {expected.__name__} belongs")
            return value

        return scalar
    raise TypeError(f"a record field of type {expected}, which records.py cannot decode")


def bytes_from_json(value: Any) -> bytes:
    """What ``bytes_to_json`` wrote, back; UnreadableEntry for anything else."""
    if isinstance(value, dict) and len(value) == 1:
        if isinstance(text := value.get("utf8"), str):
            try:
                return text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate, which no UTF-8 page decodes to
                raise UnreadableEntry("bytes as text that is not UTF-8") from None
        if isinstance(encoded := value.get("b64"), str):
            try:
                return base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise UnreadableEntry("bytes not valid base64") from None
    raise UnreadableEntry("bytes not as {'utf8': …} or {'b64': …}")


def _array(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise UnreadableEntry("not an array")
    return value


@cache
def _field_decoders(kind: type) -> dict[str, Decoder]:
    return {name: _decoder(annotation) for name, annotation in typing.get_type_hints(kind).items()}


def _dataclass(kind: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise UnreadableEntry(f"not a {kind.__name__}")
    decoders = _field_decoders(kind)
    fields = {}
    for name, value in values.items():
        decode = decoders.get(name)
        if decode is None:
            raise UnreadableEntry(f"fields a {kind.__name__} does not have: {name[:40]!r}")
        fields[name] = decode(value)
    try:
        return kind(**fields)
    except TypeError as error:  # a field with no default is missing
        raise UnreadableEntry(f"not a whole {kind.__name__}: {error}") from None
