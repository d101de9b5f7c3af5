"""``finews status``: the archive's size, whether a crawl is running now, and the last runs; as text, as JSON
(a documented shape: docs/status-json.md) or as metrics (crawler/metrics.py). Read-only (crawler/health.py)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from crawler.health import ArchiveFacts, read_facts
from pipelines.frontmatter import POSTS_DIR
from pipelines.schema import CRAWL_RUNS
from pipelines.warc import WARC_DIR

# (heading, crawl_runs column, width)
_COUNT_COLUMNS = (
    ("requests", "requests", 8), ("new", "new", 5), ("updated", "updated", 7), ("merged", "merged", 6),
    ("unchanged", "unchanged", 9), ("rejected", "rejected", 8), ("skip:archived", "skipped_known", 13),
    ("skip:rejected", "skipped_rejected", 13), ("errors", "errors", 6),
)
# Under the table: what the headings that are not plain words mean.
LEGEND = (
    "ran: how long the run ran, over all its sessions; sessions: 1, plus one per `finews crawl --resume`",
    "merged: an article's second post page (its emnews twin, or its outlet post) merged into its record",
    "skip:archived, skip:rejected: listed post pages not fetched, as already archived or already rejected",
)


def _size(size: float) -> str:
    if size < 1024:
        return f"{size:.0f} B"
    for unit in ("KB", "MB"):
        size /= 1024
        if size < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} GB"


def _ran(run: dict[str, Any]) -> str:
    """How long the run ran: the sum of its sessions, not the hours between its start and a resume's end."""
    seconds = run.get("running_seconds")
    if seconds is None:  # recorded before migration 006: only the ends are known, and only of one session
        if not run["finished_at"] or run.get("resumes"):
            return "-"
        seconds = (datetime.fromisoformat(run["finished_at"]) - datetime.fromisoformat(run["started_at"])).total_seconds()
    return f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 60:.0f} min"


def run_line(run: dict[str, Any]) -> str:
    status = run["shown_status"]
    sessions = 1 + (run.get("resumes") or 0)
    exit_code = "-" if run["exit_code"] is None else str(run["exit_code"])
    # .get: status reads an archive as it is, and one from an older finews lacks the newer counts.
    counts = "  ".join(f"{run.get(column) or 0:>{width}}" for _heading, column, width in _COUNT_COLUMNS)
    return (
        f"{run['id']:>5}  {status:<11}  {run.get('mode') or '-':<11}  {run['started_at']:<25}  "
        f"{_ran(run):>6}  {sessions:>8}  {exit_code:>4}  {counts}"
    )


def warc_line(facts: ArchiveFacts, directory: Path) -> str:
    if not facts.warc_files and not facts.warc_files_open:
        return f"captures: no WARC files in {directory}"
    being_written = (f", {facts.warc_files_open} being written (or left by a killed run: the next crawl seals it)"
                     if facts.warc_files_open else "")
    files = "file" if facts.warc_files == 1 else "files"
    return f"captures: {facts.warc_files} closed WARC {files}{being_written} in {directory} ({_size(facts.warc_bytes)})"


def status_report(output: Path, runs: int) -> str:
    """Raises HealthUnknown when there is no archive or it cannot be read."""
    facts = read_facts(output, runs)
    lines = [
        (f"archive {facts.path} ({_size(facts.size_bytes)}): {facts.posts} posts, {facts.rejects} rejects, "
        f"{facts.frontier} pending in the frontier, {facts.revisions} earlier versions; "
        f"{facts.post_files} files in {output / POSTS_DIR}"),
        warc_line(facts, output / WARC_DIR),
        "no crawl running" if facts.crawl_pid is None else f"a crawl is running (pid {facts.crawl_pid or 'unknown'})",
    ]
    if not facts.runs:
        return "\n".join([*lines, "no runs yet"])
    headings = "  ".join(f"{heading:>{width}}" for heading, _column, width in _COUNT_COLUMNS)
    lines.append(
        f"{'run':>5}  {'status':<11}  {'mode':<11}  {'started (UTC)':<25}  {'ran':>6}  {'sessions':>8}  {'exit':>4}  "
        f"{headings}"
    )
    for run in facts.runs:
        lines.append(run_line(run))
        if run.get("failure"):
            lines.append(f"{'':>5}  why: {run['failure']}")
    lines.extend(LEGEND)
    return "\n".join(lines)


# The shape of `finews status --json`; a new key is added at the end, an old one never changes meaning.
STATUS_JSON_FORMAT = 1
ARCHIVE_KEYS: tuple[tuple[str, str, str], ...] = (
    ("path", "string", "The archive file."),
    ("size_bytes", "integer", "Its bytes on disk, its WAL included."),
    ("schema_version", "integer", "`PRAGMA user_version` (docs/schema.md)."),
    ("posts", "integer", "Posts archived (one per infoCode)."),
    ("rejects", "integer", "Pages that could not be archived."),
    ("frontier", "integer", "Posts requested and not yet archived: the next run fetches them first."),
    ("revisions", "integer", "Earlier versions of changed posts."),
    ("post_files", "integer", "Files in `_posts/`."),
    ("last_change_seq", "integer or null", "The change feed's last sequence number (`finews changes`)."),
    ("last_first_seen_at", "string or null", "UTC ISO 8601: when a post was last archived for the first time."),
    ("warc_files", "integer", "Closed (final) WARC files in `warc/`."),
    ("warc_files_open", "integer", "WARC files being written (`….warc.gz.open`), or left by a killed run."),
    ("warc_bytes", "integer", "The bytes of all those WARC files."),
)
def status_document(facts: ArchiveFacts) -> dict[str, Any]:
    """`finews status --json`: every run's crawl_runs columns (null where an older archive lacks one)."""
    return {
        "format": STATUS_JSON_FORMAT,
        "archive": {key: str(getattr(facts, key)) if key == "path" else getattr(facts, key) for key, _, _ in ARCHIVE_KEYS},
        "crawl": {"running": facts.crawl_pid is not None, "pid": facts.crawl_pid or None},
        "runs": [{**{column.name: run.get(column.name) for column in CRAWL_RUNS.columns},
                  "shown_status": run["shown_status"]} for run in facts.runs],
    }


def status_json_markdown() -> str:
    lines = [
        "# `finews status --json`",
        "",
        "Generated from `crawler/status.py` and `pipelines/schema.py`; do not edit by hand:",
        "`python -m crawler.status > docs/status-json.md`.",
        "",
        (f"One JSON object. `format` is {STATUS_JSON_FORMAT}: keys are only ever added, never renamed or given "
        "another meaning. `finews status --json --runs N` lists the newest N runs, newest first."),
        "",
        "| key | JSON type | meaning |",
        "|---|---|---|",
        "| `format` | integer | This shape's version. |",
    ]
    lines += [f"| `archive.{key}` | {kind} | {doc} |" for key, kind, doc in ARCHIVE_KEYS]
    lines += [
        "| `crawl.running` | boolean | A crawl holds the output's lock now. |",
        "| `crawl.pid` | integer or null | Its process id, when known. |",
        ("| `runs` | array of objects | The newest runs, newest first: every `crawl_runs` column below (null "
        "where the archive is older than the column), and `shown_status`. |"),
    ]
    kinds = {str: "string", int: "integer", float: "number"}
    lines += [f"| `runs[].{column.name}` | {kinds[column.type]} or null | {column.doc} |" for column in CRAWL_RUNS.columns]
    lines.append("| `runs[].shown_status` | string | `status`, but `abandoned` for a run marked `running` that no "
                 "live process holds (its process died; the next crawl records it `interrupted`). |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(status_json_markdown())
