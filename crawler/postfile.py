"""The finews post file: Jekyll front matter plus a body, read and written in the site's own format.

Reading is used by the replica (which serves a folder of post files) and by verification; writing
is used by the front-matter exporter. Keeping both here means the format is described once.

The format, per kind (see ``../shared/site-shape.md``)::

    ---
    layout: post
    title: "TITLE"
    date: 2021-12-27 10:36:14 +0800
    categories: jinwanbao
    tags: 今晚报新闻
    ---
    BODY

    <LINK>

    [返回今晚报新闻](//finews.withounder.com/category/jinwanbao.html)｜[返回首页](//finews.withounder.com/)

with no newline at the end of the file. emnews posts open with their digest line and an empty line
(``> DIGEST\\n\\nBODY``), or an empty line alone when they have no digest (``\\nBODY``), link to the
East Money article and back to ``/emnews/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path

import yaml

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")
SITE_ORIGIN = "//finews.withounder.com"
EMNEWS_CATEGORY = "emnews"
EMNEWS_TAG = "东财滚动新闻"
SITENEWS_CATEGORY = "sitenews"
# Posts whose body opens with an empty line (emnews: the digest's place; the site's own notices).
_OPENING_LINE_CATEGORIES = (EMNEWS_CATEGORY, SITENEWS_CATEGORY)

_FILE_NAME = re.compile(r"^(?P<date>\d{4}-\d{2}-\d{2})-(?P<name>.+)\.(?:md|markdown)$")
# YAML 1.1 timestamps as Jekyll writes them; a missing zone means UTC, as YAML (and so Jekyll) reads it.
_POST_DATE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[Tt ]+(?P<h>\d{1,2}):(?P<mi>\d{2}):(?P<s>\d{2})(?:\.\d+)?)?"
    r"[ \t]*(?:(?P<z>Z)|(?P<sign>[-+])(?P<zh>\d{1,2}):?(?P<zm>\d{2})?)?$"
)
_YAML_DQ_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\0": "\\0"}
# What a YAML double-quoted scalar must escape (control characters, YAML's own line breaks, what YAML
# readers refuse to read unescaped); everything else is written as itself.
_NEEDS_DQ_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]')
# A plain (unquoted) scalar is safe only when it cannot be read as anything but this same string.
_PLAIN_SAFE = re.compile(r"^[^\s\-?:,\[\]{}#&*!|>'\"%@`][^\n:#]*(?<!\s)$")


class PostFileError(ValueError):
    """A post file that cannot be read: no front matter, broken YAML, or an unusable field."""


@dataclass(frozen=True)
class PostFile:
    """One post file as written: its name, front matter and body (everything after the closing ``---``)."""

    file_name: str
    name: str
    title: str
    date: datetime | None
    categories: str
    tags: list[str] = field(default_factory=list)
    body: str = ""


def split_front_matter(text: str) -> tuple[str, str]:
    """Split a post file into the raw front matter and the body, exactly as Jekyll does."""
    if not text.startswith("---\n"):
        raise PostFileError("no front matter: the file does not start with '---'")
    end = text.find("\n---\n", 3)
    if end == -1:
        if text.endswith("\n---"):
            return text[4 : len(text) - 4], ""
        raise PostFileError("front matter is not closed by '---'")
    return text[4 : end + 1], text[end + 5 :]


def parse_post_date(value: str) -> datetime:
    """The instant a front-matter date names; a date without a zone is UTC, as YAML reads it."""
    match = _POST_DATE.match(value.strip())
    if not match:
        raise PostFileError(f"unusable date {value!r}")
    parts = match.groupdict()
    if parts["z"] or not parts["sign"]:
        zone = UTC
    else:
        offset = timedelta(hours=int(parts["zh"]), minutes=int(parts["zm"] or 0))
        zone = timezone(offset if parts["sign"] == "+" else -offset)
    try:
        return datetime(
            int(parts["y"]), int(parts["mo"]), int(parts["d"]),
            int(parts["h"] or 0), int(parts["mi"] or 0), int(parts["s"] or 0), tzinfo=zone,
        )
    except ValueError as error:
        raise PostFileError(f"unusable date {value!r}: {error}") from None


def parse_post_file(file_name: str, text: str) -> PostFile:
    """Read one post file; raise PostFileError with the reason when it cannot be read."""
    match = _FILE_NAME.match(file_name)
    name = match["name"] if match else Path(file_name).stem
    raw, body = split_front_matter(text)
    try:
        # BaseLoader keeps every value a string: dates and numbers are interpreted here, not by YAML.
        meta = yaml.load(raw, Loader=yaml.BaseLoader) or {}
    except yaml.YAMLError as error:
        reason = str(error).splitlines()[0]
        raise PostFileError(f"front matter is not valid YAML: {reason}") from None
    if not isinstance(meta, dict):
        raise PostFileError("front matter is not a mapping")
    date_value = meta.get("date") or ""
    date = parse_post_date(date_value) if _POST_DATE.match(date_value.strip()) else None
    tags = meta.get("tags") or ""
    return PostFile(
        file_name=file_name,
        name=name,
        title=str(meta.get("title") or ""),
        date=date,
        categories=str(meta.get("categories") or ""),
        tags=tags.split() if isinstance(tags, str) else [str(tag) for tag in tags],
        body=body,
    )


def read_post_file(path: Path) -> PostFile:
    return parse_post_file(path.name, path.read_text(encoding="utf-8"))


def yaml_double_quoted(value: str) -> str:
    """A YAML double-quoted scalar holding exactly ``value``."""
    if not _NEEDS_DQ_ESCAPE.search(value):
        return f'"{value}"'
    out = []
    for char in value:
        if char in _YAML_DQ_ESCAPES:
            out.append(_YAML_DQ_ESCAPES[char])
        elif _NEEDS_DQ_ESCAPE.match(char):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


# Asked for every file with the post's category and tags, a handful of values; PyYAML's load is slow.
@lru_cache(maxsize=4096)
def yaml_scalar(value: str) -> str:
    """``value`` as a plain scalar where YAML reads it back unchanged as a string, else double-quoted."""
    if _PLAIN_SAFE.match(value) and not _NEEDS_DQ_ESCAPE.search(value):
        try:
            if yaml.load(value, Loader=yaml.SafeLoader) == value:
                return value
        except yaml.YAMLError:
            pass  # not readable as a plain scalar: quote it
    return yaml_double_quoted(value)


def format_post_date(instant: datetime) -> str:
    """``YYYY-MM-DD HH:MM:SS +0800``: the site's own zone, whatever zone the instant came in."""
    return instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S +0800")


def back_links(category: str, tags: list[str]) -> str:
    """The line that closes every current-format post: back to its list, back to the home page."""
    home = f"[返回首页]({SITE_ORIGIN}/)"
    if category == EMNEWS_CATEGORY:
        return f"[返回{EMNEWS_TAG}]({SITE_ORIGIN}/emnews/)｜{home}"
    label = " ".join(tags)
    return f"[返回{label}]({SITE_ORIGIN}/category/{category}.html)｜{home}"


def format_post_file(
    *,
    title: str,
    published_at: datetime,
    category: str,
    tags: list[str],
    body: str,
    link: str | None,
    digest: str | None = None,
    back_link_lines: str | None = None,
) -> str:
    """The post file in its kind's format (see the module doc).

    emnews posts open with their digest line, or with an empty line where a post has none (the
    generator wrote ``> digest`` and the empty line separately); outlet posts have no digest.
    ``back_link_lines`` keeps an older post's own back links ("" for none); None writes the current line.
    ``link`` "" writes an empty ``<>`` as some real posts have; None writes no link line (site notices).
    """
    head = "\n".join(
        [
            "---",
            "layout: post",
            f"title: {yaml_double_quoted(title)}",
            f"date: {format_post_date(published_at)}",
            f"categories: {yaml_scalar(category)}",
            f"tags: {yaml_scalar(' '.join(tags))}",
            "---",
        ]
    )
    opening = ""
    if category in _OPENING_LINE_CATEGORIES:
        opening = (f"> {digest}\n" if digest else "") + "\n"
    back = back_links(category, tags) if back_link_lines is None else back_link_lines
    tail = (f"\n\n<{link}>" if link is not None else "") + (f"\n\n{back}" if back else "")
    return f"{head}\n{opening}{body}{tail}"


def post_file_name(published_at: datetime, name: str) -> str:
    """``<yyyy-mm-dd>-<name>.md``, dated in the site's zone as Jekyll's permalinks are."""
    return f"{published_at.astimezone(SHANGHAI):%Y-%m-%d}-{name}.md"
