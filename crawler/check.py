"""``finews check``: the archive's health for a monitoring system, with Nagios plugin semantics.

Exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN; the first line starts with the state, then what is wrong
(or what was checked), then performance data after ``|``; a line per check follows. Read-only and free
of Scrapy (crawler/health.py). What each check means and what to do: README, Running it for months.

The rate checks compare the newest runs with earlier ones rather than with fixed numbers: the right
share of posts with an editor depends on the outlets, and a drop is what says the parser no longer fits.
Runs are pooled, newest first, until they hold ``min_posts`` posts, so that an incremental run every few
minutes (a handful of new posts each) is judged on enough of them; the baseline is the runs before those,
pooled the same way until five times as many, up to ``baseline_runs``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crawler.health import ABANDONED, ArchiveFacts

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN")
FAILED = ("failed", ABANDONED)
# The baseline pools this many times min_posts (when the runs before hold them): steadier than the newest.
BASELINE_POSTS = 5
# Runs that ended, whatever their end: what the rates are read from.
ENDED = ("finished", "failed", "interrupted", ABANDONED)


@dataclass(frozen=True)
class Thresholds:
    """Every check's bound; each is a ``finews check`` option of the same name (README lists them)."""

    max_age_minutes: float = 30.0  # CRITICAL: no run finished for this long
    new_post_hours: float = 6.0  # CRITICAL: no post archived for the first time for this long
    failed_runs: int = 3  # the last run failed or abandoned: WARNING; this many in a row: CRITICAL
    warn: float = 0.2  # WARNING: a rate worse than the earlier runs' by this much (0.2 = 20 points)
    crit: float = 0.5  # CRITICAL: worse by this much (the share-failure rate only ever warns)
    min_posts: int = 10  # a rate is judged on at least this many posts, now and before
    baseline_runs: int = 20  # runs pooled at most, for the recent rate and for the baseline each

    def runs_read(self) -> int:
        """The newest runs the checks need: a recent pool and a baseline, and the run in progress."""
        return 2 * self.baseline_runs + 1


@dataclass(frozen=True)
class Finding:
    state: int
    check: str
    text: str


@dataclass(frozen=True)
class Rate:
    """A share of something in a run's posts: ``part`` of ``whole`` (crawl_runs columns)."""

    check: str
    name: str
    part: Callable[[dict[str, Any]], int]
    whole: Callable[[dict[str, Any]], int]
    worse_when_higher: bool
    can_be_critical: bool


def _column(name: str) -> Callable[[dict[str, Any]], int]:
    return lambda run: run.get(name) or 0


def _pages(run: dict[str, Any]) -> int:
    return sum(run.get(name) or 0 for name in ("new", "updated", "merged", "unchanged", "rejected"))


RATES = (
    Rate("rejects", "reject rate", _column("rejected"), _pages, worse_when_higher=True, can_be_critical=True),
    Rate("share", "share-failure rate", _column("new_body_from_page"), _column("new_shareable"),
         worse_when_higher=True, can_be_critical=False),
    Rate("coverage", "source coverage", _column("new_with_source"), _column("new_outlet"),
         worse_when_higher=False, can_be_critical=True),
    Rate("coverage", "editor coverage", _column("new_with_editor"), _column("new_outlet"),
         worse_when_higher=False, can_be_critical=True),
    Rate("coverage", "body coverage", _column("new_with_body"), _column("new"),
         worse_when_higher=False, can_be_critical=True),
)


def _pooled(runs: Sequence[dict[str, Any]], rate: Rate, minimum: int, most: int) -> tuple[list[int], int, int]:
    """Runs taken in order until their ``whole`` reaches ``minimum`` (at most ``most``): ids, part, whole."""
    ids: list[int] = []
    part = whole = 0
    for run in runs[:most]:
        ids.append(run["id"])
        part += rate.part(run)
        whole += rate.whole(run)
        if whole >= minimum:
            break
    return ids, part, whole


def _runs_text(ids: list[int]) -> str:
    return f"run {ids[0]}" if len(ids) == 1 else f"runs {ids[-1]}–{ids[0]}"


@dataclass(frozen=True)
class Judged:
    """A rate of the newest runs against the earlier runs'."""

    rate: Rate
    now: float
    then: float
    recent: list[int]
    before: list[int]
    part: int
    whole: int

    def finding(self, limits: Thresholds) -> Finding:
        worse = (self.now - self.then) if self.rate.worse_when_higher else (self.then - self.now)
        state = OK
        if worse >= limits.crit and self.rate.can_be_critical:
            state = CRITICAL
        elif worse >= limits.warn:
            state = WARNING
        return Finding(state, self.rate.check, f"{self.rate.name} {self.now:.0%} in {_runs_text(self.recent)} "
                                               f"({self.part}/{self.whole}), {self.then:.0%} before "
                                               f"({_runs_text(self.before)})")


def judge_rate(rate: Rate, runs: Sequence[dict[str, Any]], limits: Thresholds) -> Judged | None:
    """The newest runs' ``rate`` and the earlier runs'; None when there are too few posts to tell."""
    ended = [run for run in runs if run["shown_status"] in ENDED]
    recent, part, whole = _pooled(ended, rate, limits.min_posts, limits.baseline_runs)
    if whole < limits.min_posts:
        return None
    before, base_part, base_whole = _pooled(ended[len(recent):], rate, BASELINE_POSTS * limits.min_posts,
                                            limits.baseline_runs)
    if base_whole < limits.min_posts:
        return None
    return Judged(rate, part / whole, base_part / base_whole, recent, before, part, whole)


def evaluate(facts: ArchiveFacts, limits: Thresholds, now: datetime) -> list[Finding]:
    """Every check's finding, worst first."""
    findings: list[Finding] = []
    ended = [run for run in facts.runs if run["shown_status"] != "running"]
    if not facts.runs:
        findings.append(Finding(CRITICAL, "last-run", "no run recorded yet"))
    elif ended and ended[0]["shown_status"] in FAILED:
        streak = next((index for index, run in enumerate(ended) if run["shown_status"] not in FAILED), len(ended))
        last = ended[0]
        why = f": {last['failure']}" if last.get("failure") else ""
        state = CRITICAL if streak >= limits.failed_runs else WARNING
        findings.append(Finding(state, "last-run", f"run {last['id']} {last['shown_status']}{why}"
                                + (f" ({streak} runs in a row)" if streak > 1 else "")))
    finished = [run for run in facts.runs if run["status"] == "finished" and run.get("finished_at")]
    if finished:
        age = now - datetime.fromisoformat(finished[0]["finished_at"])
        if age > timedelta(minutes=limits.max_age_minutes):
            findings.append(Finding(CRITICAL, "freshness", f"no run finished for {_duration(age)} "
                                                            f"(last: run {finished[0]['id']})"))
    elif facts.runs:
        unfinished = ("no run has finished yet" if len(facts.runs) < limits.runs_read()
                      else f"none of the last {len(facts.runs)} runs finished")
        findings.append(Finding(CRITICAL, "freshness", unfinished))
    if facts.last_first_seen_at is None:
        findings.append(Finding(CRITICAL, "new-posts", "no post archived yet"))
    else:
        age = now - datetime.fromisoformat(facts.last_first_seen_at)
        if age > timedelta(hours=limits.new_post_hours):
            findings.append(Finding(CRITICAL, "new-posts", f"no new post for {_duration(age)}"))
    for rate in RATES:
        judged = judge_rate(rate, facts.runs, limits)
        if judged is not None:
            findings.append(judged.finding(limits))
    return sorted(findings, key=lambda finding: -finding.state)


def _duration(age: timedelta) -> str:
    minutes = age.total_seconds() / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:.1f} h" if minutes < 48 * 60 else f"{minutes / 1440:.1f} days"


def report(facts: ArchiveFacts, findings: Sequence[Finding]) -> tuple[int, str]:
    """The exit code and the plugin's output: the state and the worst findings on the first line."""
    state = max((finding.state for finding in findings), default=OK)
    problems = [finding.text for finding in findings if finding.state == state and state != OK]
    runs = facts.runs
    summary = "; ".join(problems) if problems else (
        f"{facts.posts} posts; last run {runs[0]['id']} {runs[0]['shown_status']}" if runs else f"{facts.posts} posts")
    last = runs[0] if runs else {}
    perfdata = (f"posts={facts.posts} rejects={facts.rejects} frontier={facts.frontier} "
                f"last_run_new={last.get('new') or 0} last_run_rejected={last.get('rejected') or 0}")
    lines = [f"{STATES[state]} - {summary} | {perfdata}"]
    lines += [f"{STATES[finding.state]}: {finding.check}: {finding.text}" for finding in findings]
    return state, "\n".join(lines)
