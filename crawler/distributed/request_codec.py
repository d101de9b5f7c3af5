"""How the shared frontier stores a request: scrapy-redis's pickled ``Request.to_dict()``, less the fields
that hold their default value (``SCHEDULER_SERIALIZER``).

A post request is its URL, callback, errback and priority; its other nine fields are empty or default,
and pickled they were 116 of its 271 bytes. Redis holds the whole frontier at once (97,000 requests at
100,000 posts, once the listings are read), beside the crawl and its workers, within the same memory
target (BENCHMARKS.md). ``request_from_dict`` gives a field that is not there its default, so nothing is
lost, and a request stored whole still loads.
"""

from __future__ import annotations

import pickle
from typing import Any

from scrapy import Request

# Every field of a request made with nothing but a URL (the URL itself is always kept).
_DEFAULT_FIELDS = Request("data:,").to_dict()


def dumps(request_fields: dict[str, Any]) -> bytes:
    kept = {
        name: value for name, value in request_fields.items()
        if name == "url" or name not in _DEFAULT_FIELDS or value != _DEFAULT_FIELDS[name]
    }
    return pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> dict[str, Any]:
    fields: dict[str, Any] = pickle.loads(data)
    return fields
