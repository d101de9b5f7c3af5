"""infoCodes: the East Money article id every archived post is keyed on (``NW`` + 18 digits)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

_NAME = re.compile(r"^(?P<prefix>[A-Z]{2})?(?P<digits>\d{18})$")
_ARTICLE_PATH = re.compile(r"^/(?:news/\d+,|a/)(?P<digits>\d{18})\.html$")
_QUERY_KEYS = ("infoCode", "infocode", "id")
_SITE_NOTICE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
SITE_NOTICE_PREFIX = "site:"


class InfoCodeError(ValueError):
    """A name or URL that does not carry a usable infoCode."""


def infocode_from_name(name: str) -> str:
    """``NW202112272226582498`` or ``202112272226582498`` (a post's file name) → ``NW…``."""
    match = _NAME.match(name)
    if not match:
        raise InfoCodeError(f"name {name[:80]!r} is not NW or another two-letter prefix followed by 18 digits")
    return (match["prefix"] or "NW") + match["digits"]


def infocode_from_url(url: str) -> str:
    """The infoCode a share link, a GetNewsText URL or an East Money article URL names."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    for key in _QUERY_KEYS:
        if key in query:
            return infocode_from_name(query[key][0])
    match = _ARTICLE_PATH.match(parts.path)
    if match and parts.hostname and parts.hostname.endswith("eastmoney.com"):
        return "NW" + match["digits"]
    raise InfoCodeError(f"URL {url[:120]!r} carries no infoCode")


def site_notice_key(name: str) -> str:
    """The archive key of a site notice (站长消息), which has no East Money id: ``site:<name>``."""
    if not _SITE_NOTICE_NAME.match(name):
        raise InfoCodeError(f"site notice name {name[:80]!r} is not letters, digits, '-' or '_'")
    return SITE_NOTICE_PREFIX + name
