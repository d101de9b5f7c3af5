"""``finews status``: the archive's size, whether a crawl is running now, and the last runs."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from crawler.lock import LOCK_FILE, lock_holder
from crawler.output import open_archive
from pipelines.archive import ARCHIVE_FILE
from pipelines.frontmatter import POSTS_DIR

# How status shows a run marked running that no live process holds.
ABANDONED = "abandoned"
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


def _size(path: Path) -> str:
    """The archive's size on disk, its WAL included."""
    size = float(sum(part.stat().st_size for part in path.parent.glob(path.name + "*") if part.is_file()))
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


def shown_status(run: dict[str, Any], crawl_running: bool) -> str:
    """A run still marked ``running`` when no process holds the lock belongs to a process that died
    (kill -9, power loss): ``abandoned``. Only the next crawl, holding the lock, records it ``interrupted``
    (``mark_abandoned_runs``): status is a reader and writes nothing."""
    if run["status"] == "running" and not crawl_running:
        return ABANDONED
    return run["status"]


def run_line(run: dict[str, Any], crawl_running: bool) -> str:
    status = shown_status(run, crawl_running)
    sessions = 1 + (run.get("resumes") or 0)
    exit_code = "-" if run["exit_code"] is None else str(run["exit_code"])
    counts = "  ".join(f"{run[column] or 0:>{width}}" for _heading, column, width in _COUNT_COLUMNS)
    return (
        f"{run['id']:>5}  {status:<11}  {run.get('mode') or '-':<11}  {run['started_at']:<25}  "
        f"{_ran(run):>6}  {sessions:>8}  {exit_code:>4}  {counts}"
    )


def status_report(output: Path, runs: int) -> str:
    archive_path = output / ARCHIVE_FILE
    if not archive_path.exists():
        raise FileNotFoundError(f"no archive at {archive_path}")
    holder = lock_holder(output / LOCK_FILE)
    archive = open_archive(output)
    try:
        sizes = archive.sizes()
        recent = archive.recent_runs(runs)
    finally:
        archive.close()
    posts_dir = output / POSTS_DIR
    files = sum(1 for path in posts_dir.iterdir() if path.is_file()) if posts_dir.is_dir() else 0
    lines = [
        f"archive {archive_path} ({_size(archive_path)}): {sizes['posts']} posts, {sizes['rejects']} rejects, "
        f"{sizes['frontier']} pending in the frontier, {sizes['revisions']} earlier versions; "
        f"{files} files in {posts_dir}",
        "no crawl running" if holder is None else f"a crawl is running (pid {holder or 'unknown'})",
    ]
    if not recent:
        return "\n".join([*lines, "no runs yet"])
    headings = "  ".join(f"{heading:>{width}}" for heading, _column, width in _COUNT_COLUMNS)
    lines.append(
        f"{'run':>5}  {'status':<11}  {'mode':<11}  {'started (UTC)':<25}  {'ran':>6}  {'sessions':>8}  {'exit':>4}  "
        f"{headings}"
    )
    for run in recent:
        lines.append(run_line(run, crawl_running=holder is not None))
        if run.get("failure"):
            lines.append(f"{'':>5}  why: {run['failure']}")
    lines.extend(LEGEND)
    return "\n".join(lines)
