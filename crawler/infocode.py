"""infoCodes: the East Money article id every archived post is keyed on (``NW`` + 18 digits).

``canonical_infocode`` is the one way in: it takes anything an article is known by — a share link
(``…/html_News/NewsShare.html?infoCode=NW…`` on any host), a ``GetNewsText.do?id=`` URL, an East Money
article URL (``/news/<column>,<digits>.html`` or ``/a/<digits>.html`` on any eastmoney.com host), a
finews post page URL, a post name (``NW<digits>`` or the emnews name, the bare digits) — and gives the
archive's key, or refuses it with an InfoCodeError that says why.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, unquote, urlsplit

# ASCII digits only (``\d`` would take any script's digits), and the whole string (``$`` allows a final newline).
_NAME = re.compile(r"(?P<prefix>[A-Z]{2})?(?P<digits>[0-9]{18})", re.ASCII)
_ARTICLE_PATH = re.compile(r"/(?:news/[0-9]{1,10},|a/)(?P<digits>[0-9]{18})\.html", re.ASCII)
# A finews post page: /<category>[/…]/<yyyy>/<mm>/<dd>/<name>.html (Jekyll's permalink).
_POST_PATH = re.compile(r"/(?:[^/]+/)*[0-9]{4}/[0-9]{2}/[0-9]{2}/(?P<name>[^/]+)\.html", re.ASCII)
_SHARE_KEYS = ("infoCode", "infocode")
_TEXT_PATH_END = "/GetNewsText.do"
_ARTICLE_DOMAIN = "eastmoney.com"
_DOT_SEGMENT = re.compile(r"(?:^|/)\.{1,2}(?:/|$)")
_SITE_NOTICE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}", re.ASCII)
SITE_NOTICE_PREFIX = "site:"
MAX_INPUT = 2048


class InfoCodeError(ValueError):
    """A name or URL that does not carry a usable infoCode."""


def infocode_from_name(name: str) -> str:
    """``NW202112272226582498`` or ``202112272226582498`` (a post's file name) → ``NW…``."""
    match = _NAME.fullmatch(name)
    if not match:
        raise InfoCodeError(f"name {name[:80]!r} is not NW or another two-letter prefix followed by 18 digits")
    return (match["prefix"] or "NW") + match["digits"]


def _query_code(query: str, keys: tuple[str, ...], url: str) -> str | None:
    """The code a query names under one of ``keys``; refused when it names two different ones."""
    params = parse_qs(query, keep_blank_values=True)
    values = {value for key in keys for value in params.get(key, ())}
    if not values:
        return None
    if len(values) > 1:
        raise InfoCodeError(f"URL {url[:120]!r} names several infoCodes: {sorted(values)[:3]}")
    return infocode_from_name(values.pop())


def _is_eastmoney(host: str) -> bool:
    return host == _ARTICLE_DOMAIN or host.endswith("." + _ARTICLE_DOMAIN)


def infocode_from_url(url: str) -> str:
    """The infoCode a share link, a GetNewsText URL, an East Money article URL or a post page URL names."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if _DOT_SEGMENT.search(path):
        raise InfoCodeError(f"URL {url[:120]!r} has a '.' or '..' segment in its path: an injected path")
    code = _query_code(parts.query, _SHARE_KEYS, url)
    if code is None and path.endswith(_TEXT_PATH_END):
        code = _query_code(parts.query, ("id",), url)
    path_code = _path_code(path, (parts.hostname or "").rstrip("."))
    if code is not None and path_code is not None and code != path_code:
        raise InfoCodeError(f"URL {url[:120]!r} names two infoCodes: {path_code} in its path, {code} in its query")
    found = code or path_code
    if found is None:
        raise InfoCodeError(f"URL {url[:120]!r} carries no infoCode")
    return found


def _path_code(path: str, host: str) -> str | None:
    article = _ARTICLE_PATH.fullmatch(path)
    if article and _is_eastmoney(host):
        return "NW" + article["digits"]
    post = _POST_PATH.fullmatch(path)
    if post and not _is_eastmoney(host):
        return infocode_from_name(post["name"])
    return None


def canonical_infocode(value: str) -> str:
    """The archive's key (``NW`` + 18 digits, or the two-letter prefix a share link gives) for any URL or
    name an article is known by; InfoCodeError, saying why, for anything else."""
    if not isinstance(value, str):
        raise InfoCodeError(f"{type(value).__name__} is not a URL or a name")
    text = value.strip()
    if not text:
        raise InfoCodeError("empty: neither a URL nor a name")
    if len(text) > MAX_INPUT:
        raise InfoCodeError(f"{text[:80]!r}… is {len(text)} characters long: no URL or name is")
    if any(character.isspace() or not character.isprintable() for character in text):
        raise InfoCodeError(f"{text[:80]!r} holds spaces or control characters")
    if "://" in text or text.startswith("/"):  # absolute, protocol-relative or root-relative
        return infocode_from_url(text)
    return infocode_from_name(text)


def site_notice_key(name: str) -> str:
    """The archive key of a site notice (站长消息), which has no East Money id: ``site:<name>``."""
    if not _SITE_NOTICE_NAME.fullmatch(name):
        raise InfoCodeError(f"site notice name {name[:80]!r} is not letters, digits, '-' or '_'")
    return SITE_NOTICE_PREFIX + name


def infocode_of_post(name: str, share_url: str | None, *, site_notice: bool) -> str:
    """A post page's infoCode: its share link's when it has one (an outlet post's name may differ from the
    article's id), a site notice's key, else its name's (the emnews ``<digits>``)."""
    if share_url:
        return infocode_from_url(share_url)
    if site_notice:
        return site_notice_key(name)
    return infocode_from_name(name)


def infocode_of_listed_post(name: str) -> str | None:
    """The infoCode a listed post's name carries, known before its page is read (to skip an archived
    article listed under another post's URL); None when the name carries none (a site notice)."""
    try:
        return infocode_from_name(name)
    except InfoCodeError:
        return None
