"""The benchmark's table and its targets, from the measured rows (medians over rounds, with their spread).

Ratios are taken within a round (``crawl`` over the ``bare`` run just before it) and then summarised,
so a machine that is busier in one round than another moves both sides of a ratio together.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.runs import Row, row_json

MIB = 1024 * 1024
ORDER = ("bare", "bare+share", "crawl", "crawl-workers-2", "crawl-unthrottled", "incremental", "export", "killed", "resume")
FINEWS_RUNS = ("crawl", "crawl-workers-2", "crawl-unthrottled", "incremental", "export", "killed", "resume")


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        return cls(statistics.median(values), min(values), max(values)) if values else None

    def show(self, digits: int = 2) -> str:
        if self.low == self.high:
            return f"{self.median:.{digits}f}"
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"


@dataclass(frozen=True)
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None  # None: not measured in these rows


def _rows(rows: Sequence[Row], posts: int, scenario: str) -> list[Row]:
    return [row for row in rows if row.posts == posts and row.scenario == scenario]


def per_round(
    rows: Sequence[Row], posts: int, scenario: str, other: str, value: Callable[[Row, Row], float]
) -> Spread | None:
    """``value(row, other row)`` in each round both ran in."""
    others = {row.round: row for row in _rows(rows, posts, other)}
    return Spread.of([value(row, others[row.round]) for row in _rows(rows, posts, scenario) if row.round in others])


def _speedup(row: Row, base: Row) -> float:
    return row.per_second / base.per_second


def markdown_table(rows: Sequence[Row]) -> str:
    lines = [
        ("| posts | run | rounds | wall s | posts/s (files/s for export) | × bare | × bare+share | requests | "
         "post pages | share texts | peak RSS MB | server CPU % of wall | ok |"),
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for posts in sorted({row.posts for row in rows}):
        for scenario in ORDER:
            group = _rows(rows, posts, scenario)
            if not group:
                continue

            def spread(value: Callable[[Row], float], group: list[Row] = group) -> Spread:
                result = Spread.of([value(row) for row in group])
                assert result is not None
                return result

            ratios: list[Spread | None] = [None, None]
            if scenario in ("crawl", "crawl-workers-2", "crawl-unthrottled", "bare+share", "bare"):
                ratios = [per_round(rows, posts, scenario, base, _speedup) for base in ("bare", "bare+share")]
            server = Spread.of([row.server_cpu_seconds / row.wall_seconds * 100 for row in group
                                if row.server_cpu_seconds is not None and row.wall_seconds > 0])
            lines.append(
                f"| {posts:,} | {scenario} | {len(group)} | {spread(lambda r: r.wall_seconds).show()} | "
                f"{spread(lambda r: r.per_second).show(0)} | "
                + " | ".join(r.show() if r else "" for r in ratios)
                + f" | {spread(lambda r: r.requests).show(0)} | {spread(lambda r: r.post_pages).show(0)} | "
                f"{spread(lambda r: r.share_texts).show(0)} | {spread(lambda r: r.peak_rss_bytes / MIB).show(0)} | "
                f"{server.show(1) if server else 'n/a'} | "
                f"{'yes' if all(row.ok for row in group) else 'NO: ' + '; '.join(r.note for r in group if not r.ok)} |"
            )
    return "\n".join(lines)


def targets(rows: Sequence[Row], base: int = 10_000, large: int = 100_000) -> list[Target]:
    found: list[Target] = []

    def add(name: str, goal: str, spread: Spread | None, met: Callable[[Spread], bool], digits: int = 2) -> None:
        found.append(Target(name, goal, spread.show(digits) if spread else "not measured",
                            met(spread) if spread else None))

    add(f"crawl vs bare, {base:,} posts", "≥ 0.85× posts/s",
        per_round(rows, base, "crawl", "bare", _speedup),
        lambda s: s.median >= 0.85)
    add(f"crawl vs bare+share (same requests), {base:,} posts", "≥ 0.85× posts/s (reported)",
        per_round(rows, base, "crawl", "bare+share", _speedup),
        lambda s: s.median >= 0.85)
    add(f"crawl --workers 2 (both cores) vs bare, {base:,} posts", "≥ 0.85× posts/s",
        per_round(rows, base, "crawl-workers-2", "bare", _speedup),
        lambda s: s.median >= 0.85)
    add(f"crawl-unthrottled vs bare, {base:,} posts", "≥ 0.85× posts/s (reported)",
        per_round(rows, base, "crawl-unthrottled", "bare", _speedup),
        lambda s: s.median >= 0.85)
    add(f"crawl-unthrottled vs bare+share, {base:,} posts", "≥ 0.85× posts/s (reported)",
        per_round(rows, base, "crawl-unthrottled", "bare+share", _speedup),
        lambda s: s.median >= 0.85)
    add(f"incremental requests / crawl requests, {base:,} posts", "≤ 0.02",
        per_round(rows, base, "incremental", "crawl", lambda row, crawl: row.requests / crawl.requests),
        lambda s: s.median <= 0.02, 4)
    add(f"incremental time / crawl time, {base:,} posts", "≤ 0.05",
        per_round(rows, base, "incremental", "crawl", lambda row, crawl: row.wall_seconds / crawl.wall_seconds),
        lambda s: s.median <= 0.05, 3)
    add(f"posts refetched by the resume after a kill at 50%, {base:,} posts", "≤ 0.60",
        Spread.of([float(row.extra["refetched"]) for row in _rows(rows, base, "resume")]),
        lambda s: s.median <= 0.60)
    finews_rss = [row.peak_rss_bytes / MIB for row in rows if row.posts == large and row.scenario in FINEWS_RUNS]
    add(f"peak RSS of any finews run, {large:,} posts", "< 400 MB", Spread.of(finews_rss),
        lambda s: s.high < 400, 0)
    small, big = _rows(rows, base, "crawl"), _rows(rows, large, "crawl")
    scale = (Spread.of([statistics.median(r.wall_seconds for r in big) / statistics.median(r.wall_seconds for r in small)])
             if small and big else None)
    add(f"time({large:,}) / time({base:,}), crawl", "≤ 11", scale, lambda s: s.median <= 11)
    for posts in (base, large):
        exports = [row.per_second for row in _rows(rows, posts, "export")]
        add(f"finews export, {posts:,} posts", "≥ 5,000 files/s", Spread.of(exports), lambda s: s.median >= 5000, 0)
    return found


def targets_markdown(found: Sequence[Target]) -> str:
    lines = ["| target | goal | measured: median (min–max) | met |", "|---|---|---:|---|"]
    for target in found:
        met = "n/a" if target.met is None else ("yes" if target.met else "**no**")
        lines.append(f"| {target.name} | {target.goal} | {target.measured} | {met} |")
    return "\n".join(lines)


def save_and_describe(work: Path, about: dict[str, str], server: str, rounds: int, rows: Sequence[Row]) -> list[str]:
    """Write every run to ``work/results.json``; the lines that say on what they were measured."""
    results = {"machine": about, "server": server, "rounds": rounds, "rows": [row_json(row) for row in rows]}
    (work / "results.json").write_text(json.dumps(results, indent=1))
    redis = f"; {about['redis']}" if "redis" in about else ""
    lines = [(f"machine: {about['cpu']}, {about['cores']} cores, {about['memory']}; Python {about['python']}, "
              f"Scrapy {about['scrapy']}, SQLite {about['sqlite']}; server: {server} ({about['nginx']}){redis}")]
    if server != "nginx":
        lines.append("server: the replica's Python server, on the same cores as the crawl: these numbers are not benchmarks")
    return lines

