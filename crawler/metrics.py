"""``finews status --metrics``: the archive's figures and ``finews check``'s verdicts in Prometheus's text
exposition format, for node_exporter's textfile collector (README, Running it for months)."""

from __future__ import annotations

from datetime import datetime

from prometheus_client import CollectorRegistry, Gauge, generate_latest

from crawler.check import FAILED, RATES, Thresholds, evaluate, judge_rate
from crawler.health import ArchiveFacts
from pipelines.archive import COVERAGE_COUNTS, RUN_COUNTS


def _timestamp(value: str | None) -> float:
    return datetime.fromisoformat(value).timestamp() if value else 0.0


def metrics_text(facts: ArchiveFacts, limits: Thresholds, now: datetime) -> str:
    registry = CollectorRegistry()

    def gauge(name: str, doc: str, value: float) -> None:
        Gauge(f"finews_{name}", doc, registry=registry).set(value)

    gauge("archive_posts", "Posts in the archive (one per infoCode).", facts.posts)
    gauge("archive_rejects", "Pages that could not be archived.", facts.rejects)
    gauge("archive_frontier", "Posts requested and not yet archived (fetched first by the next run).", facts.frontier)
    gauge("archive_revisions", "Earlier versions of changed posts.", facts.revisions)
    gauge("archive_post_files", "Files in the output's _posts folder.", facts.post_files)
    gauge("archive_size_bytes", "archive.db on disk, its WAL included.", facts.size_bytes)
    gauge("archive_warc_files", "Closed WARC files in the output's warc folder.", facts.warc_files)
    gauge("archive_warc_files_open", "WARC files being written, or left by a killed run.", facts.warc_files_open)
    gauge("archive_warc_bytes", "The bytes of the output's WARC files.", facts.warc_bytes)
    gauge("archive_schema_version", "The archive's schema version.", facts.schema_version)
    gauge("archive_last_change_seq", "The change feed's last sequence number.", facts.last_change_seq or 0)
    gauge("last_new_post_timestamp_seconds", "When a post was last archived for the first time (Unix time).",
          _timestamp(facts.last_first_seen_at))
    gauge("crawl_running", "1 while a crawl holds the output's lock.", int(facts.crawl_pid is not None))
    finished = [run for run in facts.runs if run["status"] == "finished" and run.get("finished_at")]
    gauge("last_finished_run_timestamp_seconds", "When a run last finished (Unix time).",
          _timestamp(finished[0]["finished_at"]) if finished else 0.0)
    if facts.runs:
        last = facts.runs[0]
        gauge("last_run_id", "The newest run.", last["id"])
        gauge("last_run_failed", "1 when the newest run failed or was abandoned.", int(last["shown_status"] in FAILED))
        gauge("last_run_seconds", "How long the newest run ran, over its sessions.", last.get("running_seconds") or 0)
        counts = Gauge("finews_last_run_count", "The newest run's counts (crawl_runs columns).", ["count"],
                       registry=registry)
        for name in (*RUN_COUNTS, *COVERAGE_COUNTS):
            counts.labels(name).set(last.get(name) or 0)
    rates = Gauge("finews_rate", "A rate finews check judges: the newest runs' share, and the earlier runs'.",
                  ["rate", "window"], registry=registry)
    for rate in RATES:
        judged = judge_rate(rate, facts.runs, limits)
        if judged is not None:
            rates.labels(rate.name, "recent").set(judged.now)
            rates.labels(rate.name, "baseline").set(judged.then)
    findings = evaluate(facts, limits, now)
    state = Gauge("finews_check_state", "finews check's state: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.", ["check"],
                  registry=registry)
    worst: dict[str, int] = {"all": max((finding.state for finding in findings), default=0)}
    for finding in findings:
        worst[finding.check] = max(worst.get(finding.check, 0), finding.state)
    for check, value in worst.items():
        state.labels(check).set(value)
    return generate_latest(registry).decode("utf-8")
