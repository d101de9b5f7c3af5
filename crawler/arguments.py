"""The command line's values, checked before anything is touched: each parser returns the value the
commands use or raises ``argparse.ArgumentTypeError`` with one line saying what is wrong.

Free of Scrapy until a ``-s`` setting is checked against Scrapy's defaults, so a bad argument to a quick
command (``status``, ``export``) is refused in milliseconds.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime, time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.postfile import SHANGHAI
from crawler.replica.generate import MIN_COUNT as MIN_SYNTHETIC_POSTS

SITE_SCHEMES = ("http", "https")
REDIS_SCHEMES = ("redis", "rediss", "unix")
# ISO 8601's extended forms only: a day, or an instant with its zone. A basic-form ``20211228`` or a
# zone-less time would be guessed at, and a guess here silently selects the wrong posts.
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# The zone as RFC 3339 writes it, or as the site's post files do (``2021-12-28 06:00:00 +0800``).
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)? ?([Zz]|[+-]\d{2}:?\d{2})")
# Settings Scrapy reads with getfloat although their defaults are whole numbers.
_READ_AS_FLOAT = frozenset({"DOWNLOAD_DELAY", "DOWNLOAD_DELAY_JITTER", "DOWNLOAD_TIMEOUT", "DNS_TIMEOUT",
                            "CLOSESPIDER_TIMEOUT", "CLOSESPIDER_TIMEOUT_NO_ITEM"})
# What Scrapy's Settings.getbool accepts; anything else makes it raise inside the running crawl.
_BOOLEAN_TEXTS = ("0", "1", "True", "False", "true", "false")
_LOG_LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


def site_url(text: str) -> str:
    """An http(s) URL with a host: the start page of a crawl."""
    parts = urlsplit(text.strip())
    if parts.scheme not in SITE_SCHEMES or not parts.hostname or any(character.isspace() for character in text.strip()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL with a host "
                                         "(e.g. http://finews.withounder.com/)")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} has a port that is not a number from 0 to 65535") from None
    return text.strip()


def redis_url(text: str) -> str:
    """A Redis server's URL as redis-py takes it: redis://[:PASSWORD@]HOST[:PORT][/DB], rediss://…, unix://PATH."""
    parts = urlsplit(text)
    well_formed = parts.scheme in REDIS_SCHEMES and bool(parts.path if parts.scheme == "unix" else parts.hostname)
    if well_formed and parts.scheme != "unix":
        try:
            parts.port  # noqa: B018 - raises on a port that is not a number
        except ValueError:
            well_formed = False
        database = parts.path.strip("/")
        well_formed = well_formed and (not database or database.isdigit())
    if not well_formed:
        raise argparse.ArgumentTypeError(f"{text!r} is not a Redis URL (redis://HOST:PORT/DB, "
                                         "redis://:PASSWORD@HOST:PORT/DB, rediss://… or unix://PATH)")
    return text


def _named_path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty folder name (an unset variable in a script?)")
    return Path(text)


def output_folder(text: str) -> Path:
    """The output folder: an existing folder, or one to create in an existing folder. Missing parents are
    refused rather than created, so that a typo in a crontab does not quietly start a second archive."""
    path = _named_path(text)
    if path.exists():
        if not path.is_dir():
            raise argparse.ArgumentTypeError(f"{text} is not a folder")
        return path
    missing = [parent for parent in path.absolute().parents if not parent.exists()]
    if missing:
        raise argparse.ArgumentTypeError(f"{text}: its parent folder {missing[-1]} does not exist "
                                         "(finews creates the folder, never the folders above it)")
    return path


def new_folder(text: str) -> Path:
    """A folder to fill from scratch: missing (its parent existing) or empty; never one with files in it."""
    path = output_folder(text)
    if path.is_dir() and any(path.iterdir()):
        raise argparse.ArgumentTypeError(f"{text} is not empty: give a new or empty folder")
    return path


def existing_path(text: str) -> Path:
    """A folder a command reads (whether it holds an archive is the command's to say)."""
    path = _named_path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder")
    return path


def existing_folder(text: str) -> Path:
    path = _named_path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is not a folder" if path.exists() else f"{text} does not exist")
    return path


def since_instant(text: str) -> str:
    """``--since``: a day (``2021-12-28``, from its midnight in Asia/Shanghai) or an ISO 8601 instant with its
    zone (``2021-12-27T22:00Z``, ``2021-12-28T06:00+08:00``), as the archive writes ``published_at``: ISO 8601
    in +08:00, to the second. Text compared with text in that one form orders as the instants do."""
    value = text.strip()
    try:
        if _DAY.fullmatch(value):
            instant = datetime.combine(date.fromisoformat(value), time(), SHANGHAI)
        elif _INSTANT.fullmatch(value):
            instant = _parse_instant(value)
        else:
            raise ValueError("not a day or an instant with a zone")
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a day (2021-12-28, in Asia/Shanghai) or an ISO 8601 instant with its zone "
            "(2021-12-27T22:00Z, 2021-12-28T06:00+08:00)") from None
    return instant.astimezone(SHANGHAI).isoformat()


def _parse_instant(value: str) -> datetime:
    """An _INSTANT match as a datetime (ValueError for a day or time that does not exist)."""
    date_part, time_part = value[:10], value[11:].replace(" ", "")
    time_part = re.sub(r"[Zz]$", "+00:00", time_part)
    time_part = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", time_part)
    return datetime.fromisoformat(f"{date_part}T{time_part}")


def instant(text: str) -> datetime:
    """An ISO 8601 instant with its zone."""
    try:
        if not _INSTANT.fullmatch(text.strip()):
            raise ValueError(text)
        return _parse_instant(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 instant with its zone (2021-12-27T22:00Z)") from None


def number_in(kind: type[int] | type[float], low: float, high: float, what: str) -> Callable[[str], Any]:
    """A parser of one ``kind`` of number from ``low`` to ``high``, refusing anything else as ``what``."""

    def parse(text: str) -> int | float:
        try:
            number = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not low <= number <= high:  # NaN fails too
            raise argparse.ArgumentTypeError(f"not {what}: {number}")
        return number

    parse.__name__ = what  # argparse names the type in its messages
    return parse


fraction = number_in(float, 0, 1, "a number from 0 to 1")
positive_number = number_in(int, 1, math.inf, "a whole number of at least 1")
sequence_number = number_in(int, 0, math.inf, "a sequence number (0 or more)")
synthetic_count = number_in(int, MIN_SYNTHETIC_POSTS, math.inf,
                            f"a number of synthetic posts (at least {MIN_SYNTHETIC_POSTS}: one of each kind)")
port_number = number_in(int, 0, 65535, "a port number (0 to 65535)")
seconds = number_in(float, 0, math.inf, "a number of seconds (0 or more)")
# Bounded so that a deadline stays a date (ten years).
minutes = number_in(float, 0, 10 * 366 * 24 * 60, "a number of minutes (0 to ten years)")
hours = number_in(float, 0, 10 * 366 * 24, "a number of hours (0 to ten years)")


@cache
def known_settings() -> dict[str, Any]:
    """Every setting a run knows, with its default: Scrapy's, overridden and extended by the project's."""
    from scrapy.settings import default_settings

    from crawler import settings as project_settings

    return {name: getattr(module, name) for module in (default_settings, project_settings)
            for name in dir(module) if name.isupper() and not name.startswith("_")}


def setting(text: str) -> tuple[str, str]:
    """``NAME=VALUE``: one Scrapy setting for this run, as ``scrapy crawl -s`` takes it, checked against the
    type of its default, so that a value Scrapy cannot read is refused here rather than deep in the crawl.
    A ``FINEWS_`` name this project does not have, or any name one letter off a known one, is a typo."""
    name, equals, value = text.partition("=")
    if not equals or not name.isidentifier() or not name.isupper():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE with an upper-case setting name")
    if name in _SET_BY_OPTIONS:
        raise argparse.ArgumentTypeError(f"{name} is what {_SET_BY_OPTIONS[name]} says: give that instead")
    known = known_settings()
    if name not in known:
        closest = difflib.get_close_matches(name, known, n=1, cutoff=0.8 if name.startswith("FINEWS_") else 0.9)
        if closest or name.startswith("FINEWS_"):
            hint = f" (did you mean {closest[0]}?)" if closest else ""
            raise argparse.ArgumentTypeError(f"{name} is not a setting finews or Scrapy knows{hint}")
        return name, value  # a setting of some other extension's: nothing to check it against
    problem = _setting_value_problem(name, known[name], value)
    if name in _CHECKED_LIKE_OPTIONS and problem is None:
        try:
            _CHECKED_LIKE_OPTIONS[name](value)
        except argparse.ArgumentTypeError as error:
            problem = str(error)
    if problem:
        raise argparse.ArgumentTypeError(f"{name}={value!r}: {problem}")
    return name, value


# Settings a finews command takes from its options (one folder, one site, one run: two sources could disagree).
_SET_BY_OPTIONS = {"FINEWS_OUTPUT": "--output", "FINEWS_SITE_URL": "--site", "FINEWS_FULL": "--full",
                   "FINEWS_RUN_ID": "the run finews starts or --resume", "FINEWS_REPLAY": "finews reparse"}
# Settings that say what an option says: checked as the option is.
_CHECKED_LIKE_OPTIONS = {"FINEWS_REDIS_URL": redis_url}


def _setting_value_problem(name: str, default: Any, value: str) -> str | None:
    if name == "LOG_LEVEL":
        return None if value.upper() in _LOG_LEVELS else f"not one of {', '.join(_LOG_LEVELS)}"
    if isinstance(default, bool) or name.endswith("_ENABLED"):
        return None if value in _BOOLEAN_TEXTS else "not a boolean (True, False, 1 or 0)"
    if isinstance(default, float) or (isinstance(default, int) and name in _READ_AS_FLOAT):
        try:
            float(value)
        except ValueError:
            return "not a number"
        return None
    if isinstance(default, int):
        try:
            int(value)
        except ValueError:
            return "not a whole number"
        return None
    if isinstance(default, dict):
        try:
            parsed = json.loads(value)
        except ValueError:
            return "not a JSON object"
        return None if isinstance(parsed, dict) else "not a JSON object"
    return None
