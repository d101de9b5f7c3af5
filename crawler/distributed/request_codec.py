"""How the shared frontier stores a request: JSON, versioned, checked when read (``SCHEDULER_SERIALIZER``).

A request crosses Redis as data, never as code: a pickle read from a Redis server that someone else can
write runs whatever they put in it (issue 20). An entry is one JSON object::

    {"v":1,"url":"http://finews.withounder.com/…/NW….html","callback":"parse_post","errback":"post_failed","priority":-1}

``v`` is ENCODING_VERSION; the other keys are ``Request.to_dict()``'s, those that hold their default value
left out (Redis holds the whole frontier at once: 97,000 requests at 100,000 posts), with ``headers`` as
latin-1 text (every byte one character) and ``body`` as records' bytes are (``{"utf8": …}`` or
``{"b64": …}``). ``loads`` gives back those fields
only when each has the type it must; the callback and errback must be among CALLBACKS, the site spider's
own methods, so nothing else is ever resolved; a request of another class (``_class``) is refused.
Anything else raises UnreadableEntry, and the frontier drops it (crawler/distributed/frontier.py).
"""

from __future__ import annotations

from typing import Any

import orjson
from scrapy import Request

from crawler.distributed.records import (
    ENCODING_VERSION,
    UnreadableEntry,
    bytes_from_json,
    bytes_to_json,
    versioned_object,
)

# Every field of a request made with nothing but a URL (the URL itself is always kept).
_DEFAULT_FIELDS = Request("data:,").to_dict()
# The spider methods a request in the frontier may name (crawler/spiders/site.py; a test checks them).
CALLBACKS = frozenset(
    ("parse_listing", "parse_feed", "parse_post", "post_failed", "listing_failed", "guessed_listing_failed")
)
METHODS = frozenset(("GET", "HEAD"))
_JSON_SCALARS = (str, int, float, bool, type(None))
_MAX_DEPTH = 8


def dumps(request_fields: dict[str, Any]) -> bytes:
    if "_class" in request_fields:
        raise ValueError(f"only plain Requests go to the frontier, not {request_fields['_class']}")
    entry: dict[str, Any] = {"v": ENCODING_VERSION}
    for name, value in request_fields.items():
        if name != "url" and name in _DEFAULT_FIELDS and value == _DEFAULT_FIELDS[name]:
            continue
        if name == "headers":
            entry[name] = {key.decode("latin-1"): [item.decode("latin-1") for item in items]
                           for key, items in value.items()}
        elif name == "body":
            entry[name] = bytes_to_json(value)
        else:
            entry[name] = value
    return orjson.dumps(entry)


def loads(data: bytes) -> dict[str, Any]:
    """The request fields ``data`` encodes, for ``request_from_dict``; raises UnreadableEntry otherwise."""
    entry = versioned_object(data)
    unknown = set(entry) - set(Request.attributes)
    if unknown:
        raise UnreadableEntry(f"not request fields: {sorted(unknown)[:5]}")
    fields = {name: _checked(name, value) for name, value in entry.items()}
    if "url" not in fields:
        raise UnreadableEntry("no URL")
    return fields


def _checked(name: str, value: Any) -> Any:
    if name == "url":
        if not (isinstance(value, str) and value.startswith(("http://", "https://"))):
            raise UnreadableEntry("a URL that is not http(s)")
        return value
    if name in ("callback", "errback"):
        if value is not None and value not in CALLBACKS:
            raise UnreadableEntry(f"a {name} that is not one of the spider's: {str(value)[:60]!r}")
        return value
    if name == "method":
        if value not in METHODS:
            raise UnreadableEntry(f"method {str(value)[:20]!r}")
        return value
    if name == "headers":
        if not (isinstance(value, dict) and all(
            isinstance(items, list) and all(isinstance(item, str) for item in items) for items in value.values()
        )):
            raise UnreadableEntry("headers that are not name → [values]")
        try:
            return {key.encode("latin-1"): [item.encode("latin-1") for item in items] for key, items in value.items()}
        except UnicodeEncodeError:
            raise UnreadableEntry("headers that are not latin-1") from None
    if name == "body":
        return bytes_from_json(value)
    if name == "priority" and type(value) is not int:
        raise UnreadableEntry("a priority that is not a whole number")
    if name == "dont_filter" and type(value) is not bool:
        raise UnreadableEntry("dont_filter that is not true or false")
    if name in ("encoding",) and not isinstance(value, str):
        raise UnreadableEntry("an encoding that is not text")
    if name == "flags" and not (isinstance(value, list) and all(isinstance(flag, str) for flag in value)):
        raise UnreadableEntry("flags that are not text")
    if name in ("meta", "cb_kwargs", "cookies"):
        if not isinstance(value, dict) or not _plain_json(value, 0):
            raise UnreadableEntry(f"{name} that is not a JSON object of plain values")
    return value


def _plain_json(value: Any, depth: int) -> bool:
    """JSON's own values only, nested at most _MAX_DEPTH deep (what json.loads gives, bounded)."""
    if depth > _MAX_DEPTH:
        return False
    if isinstance(value, dict):
        return all(isinstance(key, str) and _plain_json(item, depth + 1) for key, item in value.items())
    if isinstance(value, list):
        return all(_plain_json(item, depth + 1) for item in value)
    return isinstance(value, _JSON_SCALARS)
