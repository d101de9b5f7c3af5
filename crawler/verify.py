"""``finews verify``: hold the exported post files against the originals they were crawled from.

Every original gets one outcome:
  identical    the exported file is the original, byte for byte;
  field-equal  title, date (as an instant), categories, tags and body agree as a reader sees them (the body
               as kramdown renders it: a plain paragraph equals ``<p>`` around it, entities decoded);
  differs      a valid original whose export disagrees (the first differing field is named);
  merged       the article was also published under another name and is archived once, in that file;
  rejected     the crawl recorded it in ``rejects`` (the reason is shown);
  malformed    the original itself is unusable (unreadable front matter, empty title or date, no date
               in its file name) and nothing was archived for it — accounted for, not lost;
  missing      a valid original the archive has neither archived nor rejected.

A second measure, beside the outcome: whether the exported body is the original's **source text** (only
whitespace runs collapsed), which an identical file always is and a body archived as the page rendered it
(kramdown's ``<p>``, autolinks, entities) is not, though a reader sees the same page: the summary gives
both counts, so the gap is visible.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from crawler.infocode import InfoCodeError, infocode_from_name
from crawler.postfile import PostFile, PostFileError, parse_post_file, split_front_matter
from pipelines.archive import connect_read_only

OUTCOMES = ("identical", "field-equal", "differs", "merged", "rejected", "malformed", "missing")
ACCOUNTED = ("identical", "field-equal", "merged", "rejected", "malformed")

_DATED_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})-(?P<name>.+)\.(?:md|markdown)$")
_PLAIN_PARAGRAPH = re.compile(r"<p>([^<>]*)</p>")
_SPACE_AT_TAG = re.compile(r"\s*(<[^<>]*>)\s*")
_WELL_FORMED_HEAD = re.compile(r'^title: ".*"$\n^date: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} \+0800$', re.M)


@dataclass(frozen=True)
class Outcome:
    file_name: str
    status: str
    detail: str = ""
    well_formed: bool = False
    source_equal: bool = False  # every compared field equal, the body as source text

    def line(self) -> str:
        return f"{self.status:<11} {self.file_name}" + (f": {self.detail}" if self.detail else "")


def normalised_body(body: str) -> str:
    """The body as a reader gets it from kramdown: a plain paragraph equals the same text in ``<p>``, the
    line breaks kramdown puts next to block tags do not count, nor does escaping (``<1%`` is rendered
    ``&lt;1%``); other whitespace collapsed. Byte identity is the strict check, this one is for meaning."""
    spaced = _SPACE_AT_TAG.sub(r"\1", _PLAIN_PARAGRAPH.sub(r"\1", body))
    return " ".join(html.unescape(spaced).split())


def source_body(body: str) -> str:
    """The body as its source text: only runs of whitespace collapsed (a post file's body ends with the
    newlines its writer put there), nothing rendered or decoded."""
    return " ".join(body.split())


def compared_fields(post: PostFile, *, as_source: bool = False) -> dict[str, object]:
    return {
        "title": post.title,
        "date": post.date,
        "categories": post.categories,
        "tags": post.tags,
        "body": source_body(post.body) if as_source else normalised_body(post.body),
    }


def first_difference(original: PostFile, exported: PostFile, *, as_source: bool = False) -> str | None:
    ours, theirs = compared_fields(original, as_source=as_source), compared_fields(exported, as_source=as_source)
    for field, value in ours.items():
        if theirs[field] != value:
            return field
    return None


def exported_by_name(posts_dir: Path) -> dict[str, Path]:
    files = {}
    for path in posts_dir.glob("*.md") if posts_dir.is_dir() else ():
        match = _DATED_NAME.match(path.name)
        if match:
            files[match["name"]] = path
    return files


class ArchiveIndex:
    """What the archive says about names that have no exported file of their own."""

    def __init__(self, archive_path: Path) -> None:
        self.rejects: dict[str, str] = {}
        self.files_by_code: dict[str, str] = {}
        if not archive_path.exists():
            return
        db = connect_read_only(archive_path)
        try:
            for url, reason in db.execute("SELECT url, reason FROM rejects"):
                self.rejects[url.rsplit("/", 1)[-1].removesuffix(".html")] = reason
            for code, file_name in db.execute("SELECT info_code, file_name FROM posts"):
                self.files_by_code[code] = file_name
        finally:
            db.close()

    def rejection(self, *names: str) -> str | None:
        """The reason a page of one of these names was rejected (a post Jekyll published without layout
        is at ``/<date>/<file stem>.html``, so its file stem is tried too)."""
        return next((self.rejects[name] for name in names if name in self.rejects), None)

    def merged_into(self, name: str) -> str | None:
        try:
            return self.files_by_code.get(infocode_from_name(name))
        except InfoCodeError:
            return None


def verify_post(path: Path, exported: dict[str, Path], index: ArchiveIndex) -> Outcome:
    text = path.read_text(encoding="utf-8")
    dated = _DATED_NAME.match(path.name)
    name = dated["name"] if dated else path.stem
    try:
        original = parse_post_file(path.name, text)
        front, _body = split_front_matter(text)
    except PostFileError as error:
        return _unusable(path, name, str(error), index)
    if not dated:
        return _unusable(path, name, "no date in its file name (Jekyll does not publish it)", index)
    if not original.title:
        return _unusable(path, name, "empty title", index)
    if original.date is None:
        return _unusable(path, name, "empty or unusable date", index)
    well_formed = bool(_WELL_FORMED_HEAD.search(front))
    target = exported.get(name)
    if target is None:
        rejection = index.rejection(name, path.stem)
        if rejection:
            return Outcome(path.name, "rejected", rejection, well_formed)
        merged = index.merged_into(name)
        if merged == path.name:
            return Outcome(path.name, "missing", "archived, but its exported file is missing", well_formed)
        if merged:
            merged_name = _DATED_NAME.match(merged)
            if merged_name is None or merged_name["name"] not in exported:
                return Outcome(path.name, "missing", f"archived as {merged}, whose exported file is missing",
                               well_formed)
            return Outcome(path.name, "merged", f"one record per infoCode: archived as {merged}", well_formed)
        return Outcome(path.name, "missing", "neither archived nor rejected", well_formed)
    exported_text = target.read_text(encoding="utf-8")
    if exported_text == text:
        return Outcome(path.name, "identical", "", well_formed, source_equal=True)
    try:
        exported_post = parse_post_file(target.name, exported_text)
    except PostFileError as error:
        return Outcome(path.name, "differs", f"exported file unreadable: {error}", well_formed)
    field = first_difference(original, exported_post)
    if field:
        return Outcome(path.name, "differs", f"first differing field: {field}", well_formed)
    source_equal = first_difference(original, exported_post, as_source=True) is None
    return Outcome(path.name, "field-equal", "" if source_equal else "body differs as source text", well_formed,
                   source_equal=source_equal)


def _unusable(path: Path, name: str, reason: str, index: ArchiveIndex) -> Outcome:
    rejection = index.rejection(name, path.stem)
    if rejection:
        return Outcome(path.name, "rejected", f"{reason}; crawl: {rejection}")
    return Outcome(path.name, "malformed", reason)


def original_files(posts_dir: Path) -> list[Path]:
    return sorted(path for path in posts_dir.iterdir() if path.suffix in (".md", ".markdown"))


def verify(posts_dir: Path, output_dir: Path) -> list[Outcome]:
    exported = exported_by_name(output_dir / "_posts")
    index = ArchiveIndex(output_dir / "archive.db")
    return [verify_post(path, exported, index) for path in original_files(posts_dir)]


def summary(outcomes: Iterable[Outcome]) -> str:
    outcomes = list(outcomes)
    counts = Counter(outcome.status for outcome in outcomes)
    well_formed = [outcome for outcome in outcomes if outcome.well_formed]
    identical_well_formed = sum(outcome.status == "identical" for outcome in well_formed)
    parts = [f"{counts[status]} {status}" for status in OUTCOMES]
    compared = counts["identical"] + counts["field-equal"] + counts["differs"]
    as_source = sum(outcome.source_equal for outcome in outcomes)
    return (
        f"{len(outcomes)} originals: " + ", ".join(parts)
        + f"; well-formed byte-identical: {identical_well_formed}/{len(well_formed)}"
        + f"; field-equal as a reader sees it: {counts['identical'] + counts['field-equal']}/{compared}"
        + f", as source text: {as_source}/{compared}"
    )
