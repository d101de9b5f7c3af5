"""``finews``: a thin command line over crawler.runner and crawler.replica.

Each handler imports what it runs when it runs: the commands that only read or export the archive, and
``--help``, load no Scrapy, Twisted, itemadapter or web-poet (tests/test_fast_commands.py), and what the
parser needs at every start stays light (BENCHMARKS.md, Start-up of the fast commands)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

from crawler.arguments import (
    MIN_SYNTHETIC_POSTS,
    existing_folder,
    existing_path,
    fraction,
    hours,
    instant,
    minutes,
    new_folder,
    output_folder,
    port_number,
    positive_number,
    redis_url,
    seconds,
    sequence_number,
    setting,
    since_instant,
    site_url,
    synthetic_count,
)

if TYPE_CHECKING:
    from crawler.runner import CrawlSummary

DEFAULT_SITE = "http://finews.withounder.com/"
DEFAULT_OUTPUT = Path("output")
DEMO_POSTS = 60
EXIT_USAGE = 2
NAGIOS_UNKNOWN = 3
STATUS_RUNS = 10
SEARCH_LIMIT = 20
SERVE_PORT = 8001  # Datasette's own default
T = TypeVar("T")


def _holding_the_lock(command: str, run: Callable[[], T]) -> T | int:
    """``run()``, or the exit code of why it could not: locked by another crawl (75), or a one-line
    reason it failed (1), printed as ``finews COMMAND: reason``."""
    from crawler.lock import CrawlLocked
    from crawler.output import EXIT_FAILED, EXIT_LOCKED, CrawlError

    try:
        return run()
    except CrawlLocked as error:
        print(f"finews {command}: {error}", file=sys.stderr)
        return EXIT_LOCKED
    except CrawlError as error:
        print(f"finews {command}: {error}", file=sys.stderr)
        return EXIT_FAILED


def _crawl(args: argparse.Namespace) -> int:
    from crawler.runner import run_crawl

    overrides = {**_log_overrides(args), **dict(args.set)}
    redis_url = args.redis or overrides.get("FINEWS_REDIS_URL")
    if args.workers > 1:
        if redis_url:
            print("finews crawl: --workers starts its own Redis server; with --redis, start workers by hand",
                  file=sys.stderr)
            return EXIT_USAGE
        from crawler.distributed.local import run_crawl_on_local_workers

        def crawl() -> CrawlSummary:
            return run_crawl_on_local_workers(args.site, args.output, args.workers, overrides, dict(args.set),
                                              full=args.full, resume=args.resume)
    elif redis_url:
        from crawler.distributed.runner import run_distributed_crawl

        def crawl() -> CrawlSummary:
            return run_distributed_crawl(args.site, args.output, redis_url, overrides, full=args.full,
                                         resume=args.resume)
    else:
        def crawl() -> CrawlSummary:
            return run_crawl(args.site, args.output, overrides, full=args.full, resume=args.resume)

    summary = _holding_the_lock("crawl", crawl)
    if isinstance(summary, int):
        return summary
    if not args.quiet:
        print(summary.line())
    if summary.stop_signal is not None:
        print(f"finews crawl: run {summary.run_id} interrupted; `finews crawl --resume` continues it", file=sys.stderr)
    return summary.exit_code


def _worker(args: argparse.Namespace) -> int:
    from crawler.distributed.runner import run_worker

    overrides = {**_log_overrides(args), **dict(args.set), "FINEWS_PROGRESS": False,
                 "FINEWS_IDLE_EXIT": args.idle_exit}
    summary = _holding_the_lock("worker", lambda: run_worker(args.redis, overrides))
    if isinstance(summary, int):
        return summary
    if not args.quiet:
        print(summary.line())
    return summary.exit_code


def _share(args: argparse.Namespace) -> int:
    from crawler.runner import run_share

    info_codes, problems = share_arguments(args.codes, args.from_file)
    if not (info_codes or args.backfill or problems):
        problems.append("nothing to fetch: give infoCodes or URLs, --from-file F, or --backfill")
    if problems:
        for problem in problems:
            print(f"finews share: {problem}", file=sys.stderr)
        return EXIT_USAGE
    overrides = {**_log_overrides(args), **dict(args.set)}
    summary = _holding_the_lock(
        "share", lambda: run_share(args.output, info_codes, backfill=args.backfill, overrides=overrides)
    )
    if isinstance(summary, int):
        return summary
    for line in summary.problem_lines():
        print(f"finews share: {line}", file=sys.stderr)
    if not args.quiet:
        print(summary.line())
    return summary.exit_code


def share_arguments(values: list[str], from_file: str | None) -> tuple[list[str], list[str]]:
    """The infoCodes named on the command line and in ``from_file`` (one a line, ``#`` comments, ``-`` for
    stdin), canonical and in order; and one problem line for each value that names none."""
    from crawler.infocode import InfoCodeError, canonical_infocode

    named = [(repr(value), value) for value in values]
    problems: list[str] = []
    if from_file is not None:
        try:
            text = sys.stdin.read() if from_file == "-" else Path(from_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            return [], [f"cannot read {from_file}: {getattr(error, 'strerror', None) or error}"]
        for number, line in enumerate(text.splitlines(), start=1):
            value = line.split("#", 1)[0].strip()
            if value:
                named.append((f"{from_file}:{number}", value))
    codes: dict[str, None] = {}
    for where, value in named:
        try:
            codes[canonical_infocode(value)] = None
        except InfoCodeError as error:
            problems.append(f"{where}: {error}")
    return list(codes), problems


def _status(args: argparse.Namespace) -> int:
    import json
    from datetime import datetime

    from crawler.health import HealthUnknown, read_facts
    from crawler.status import status_document, status_report

    try:
        if args.json:
            print(json.dumps(status_document(read_facts(args.output, args.runs)), ensure_ascii=False, indent=2))
        elif args.metrics:
            from crawler.check import Thresholds
            from crawler.metrics import metrics_text

            limits = Thresholds()
            facts = read_facts(args.output, limits.runs_read())
            sys.stdout.write(metrics_text(facts, limits, datetime.now(UTC)))
        else:
            print(status_report(args.output, args.runs))
    except HealthUnknown as error:
        print(f"{args.parser.prog}: {error}", file=sys.stderr)
        return 1
    return 0


def _check(args: argparse.Namespace) -> int:
    from datetime import datetime

    from crawler.check import UNKNOWN, Thresholds, evaluate, report
    from crawler.health import HealthUnknown, read_facts

    if args.warn > args.crit:
        args.parser.error(f"--warn {args.warn} is above --crit {args.crit}")
    limits = Thresholds(
        max_age_minutes=args.max_age_minutes, new_post_hours=args.new_post_hours, failed_runs=args.failed_runs,
        warn=args.warn, crit=args.crit, min_posts=args.min_posts, baseline_runs=args.baseline_runs,
    )
    try:
        facts = read_facts(args.output, limits.runs_read())
    except HealthUnknown as error:
        print(f"UNKNOWN - {error}")
        return UNKNOWN
    state, text = report(facts, evaluate(facts, limits, args.now or datetime.now(UTC)))
    print(text)
    return state


def _backup(args: argparse.Namespace) -> int:
    from crawler.backup import backup
    from crawler.output import CrawlError

    try:
        summary = backup(args.output, args.destination, with_posts=args.posts)
    except CrawlError as error:
        print(f"{args.parser.prog}: {error}", file=sys.stderr)
        return 1
    print(summary.line())
    return 0


def _changes(args: argparse.Namespace) -> int:
    import sqlite3

    from crawler.output import CrawlError, open_archive
    from pipelines.archive import ARCHIVE_FILE
    from pipelines.changes import changed_posts, last_sequence, reading
    from pipelines.public import public_line
    from pipelines.schema import SCHEMA_VERSION

    archive = args.output / ARCHIVE_FILE
    if not archive.is_file():
        print(f"{args.parser.prog}: no archive at {archive}", file=sys.stderr)
        return 1
    try:
        with reading(archive) as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
        if version < SCHEMA_VERSION:  # an archive from before the change feed gets it first
            try:
                open_archive(args.output).close()
            except CrawlError as error:
                raise CrawlError(f"the archive is at schema version {version}, the change feed needs "
                                 f"{SCHEMA_VERSION}, and upgrading it failed: {error}") from None
        last = args.after
        with reading(archive) as db:
            newest = last_sequence(db)
            if args.after > newest:
                # The consumer has read numbers this archive never gave, or gave and lost: it was restored
                # from a backup (or is another archive). Silence would skip the changes numbered again.
                print(f"{args.parser.prog}: --after {args.after} is beyond this archive's last change ({newest}): "
                      "was it restored from a backup? read again from 0, or from the number you had then",
                      file=sys.stderr)
                return 1
            for record in changed_posts(db, args.after, args.limit):
                if args.format == "jsonl":
                    sys.stdout.write(public_line(record))
                else:
                    sys.stdout.write(f"{record['change_seq']}\t{record['published_at']}\t{record['info_code']}\t"
                                     f"{record['title']}\n")
                last = record["change_seq"]
    except CrawlError as error:
        print(f"{args.parser.prog}: {error}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as error:
        print(f"{args.parser.prog}: archive {archive} cannot be read: {error}", file=sys.stderr)
        return 1
    sys.stdout.flush()
    # The consumer's next --after, alone on the last line of stderr (2> a file keeps just it).
    print(last, file=sys.stderr)
    return 0


def _demo(args: argparse.Namespace) -> int:
    from crawler.postfile import parse_post_file
    from crawler.replica.generate import ForeignPostFiles, generate_site, write_site
    from crawler.replica.render import render_site
    from crawler.replica.server import ReplicaServer
    from crawler.runner import run_crawl

    site = generate_site(args.posts)
    if args.write_posts is not None:
        try:
            write_site(args.write_posts, site)
        except ForeignPostFiles as error:
            print(f"{args.parser.prog}: --write-posts {error}", file=sys.stderr)
            return EXIT_USAGE
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    with ReplicaServer(pages) as server:
        print(f"replica of {len(site.files)} posts on {server.proxy_url}; crawling {DEFAULT_SITE} through it")
        # Scrapy's HttpProxyMiddleware reads the standard variables: the crawl sees the real URL layout.
        os.environ["http_proxy"] = server.proxy_url
        os.environ.pop("no_proxy", None)
        os.environ.pop("NO_PROXY", None)
        summary = _holding_the_lock("demo", lambda: run_crawl(DEFAULT_SITE, args.output, _log_overrides(args)))
    if isinstance(summary, int):
        return summary
    print(summary.line())
    print(f"archive: {args.output / 'archive.db'}  posts: {args.output / '_posts'}")
    if args.write_posts is not None:
        print(f"originals: {args.write_posts}  check: finews verify --posts {args.write_posts} --output {args.output}")
    return summary.exit_code


def _export(args: argparse.Namespace) -> int:
    from pipelines.export import run_export

    summary = _holding_the_lock("export", lambda: run_export(args.output, args.format, args.since))
    if isinstance(summary, int):
        return summary
    print(summary.line())
    return 0


def _search(args: argparse.Namespace) -> int:
    import sqlite3

    from crawler.output import CrawlError, open_archive
    from pipelines.archive import ARCHIVE_FILE, connect_read_only
    from pipelines.schema import SCHEMA_VERSION
    from pipelines.search import MIN_INDEXED_LENGTH, QueryError, search

    if not (args.output / ARCHIVE_FILE).is_file():
        print(f"finews search: no archive at {args.output / ARCHIVE_FILE}", file=sys.stderr)
        return 1
    archive_path = args.output / ARCHIVE_FILE
    try:
        db = connect_read_only(archive_path)
        if db.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            # An archive from an older finews gets its search index first, opened as a writer would.
            db.close()
            open_archive(args.output).close()
            db = connect_read_only(archive_path)
    except CrawlError as error:
        print(f"finews search: {error}", file=sys.stderr)
        return 1
    except sqlite3.DatabaseError as error:
        print(f"finews search: archive {archive_path} cannot be read: {error}", file=sys.stderr)
        return 1
    try:
        result = search(db, " ".join(args.query), args.limit)
    except QueryError as error:
        print(f"finews search: {error}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.OperationalError as error:
        print(f"finews search: the archive could not be searched: {error}", file=sys.stderr)
        return 1
    finally:
        db.close()
    for term in result.scanned_terms:
        print(f"finews search: {term!r} is shorter than {MIN_INDEXED_LENGTH} characters, which the trigram index "
              "cannot look up: it was matched with LIKE, reading the posts one by one", file=sys.stderr)
    for hit in result.hits:
        print(f"{hit.published_at[:16].replace('T', ' ')}  {hit.outlet}  {hit.title}")
        print(f"    {hit.post_url}")
        print(f"    {hit.snippet}")
    print(f"{result.total} posts match, {len(result.hits)} shown (newest first)")
    return 0


def _reparse(args: argparse.Namespace) -> int:
    from crawler.runner import run_reparse

    summary = _holding_the_lock("reparse", lambda: run_reparse(args.output, _log_overrides(args)))
    if isinstance(summary, int):
        return summary
    if not args.quiet:
        for line in summary.changes:
            print(line)
        print(summary.line())
    return summary.exit_code


def _serve(args: argparse.Namespace) -> int:
    import sqlite3

    from crawler.serve import ServeError, serve
    from pipelines.schema import SchemaError

    try:
        serve(args.output, args.host, args.port)
    except (ServeError, SchemaError, sqlite3.DatabaseError) as error:
        print(f"finews serve: {error}", file=sys.stderr)
        return 1
    return 0


def _verify(args: argparse.Namespace) -> int:
    import sqlite3

    from crawler.verify import ACCOUNTED, original_files, summary, verify
    from pipelines.archive import ARCHIVE_FILE

    archive = args.output / ARCHIVE_FILE
    if not original_files(args.posts):
        print(f"{args.parser.prog}: {args.posts} holds no post files (*.md) to verify", file=sys.stderr)
        return EXIT_USAGE
    if not archive.is_file():
        print(f"{args.parser.prog}: no archive at {archive}", file=sys.stderr)
        return 1
    try:
        outcomes = verify(args.posts, args.output)
    except sqlite3.DatabaseError as error:
        print(f"{args.parser.prog}: archive {archive} cannot be read: {error}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        if outcome.status != "identical":
            print(outcome.line())
    print(summary(outcomes))
    return 0 if all(outcome.status in ACCOUNTED for outcome in outcomes) else 1


def _replica_serve(args: argparse.Namespace) -> int:
    import errno

    from crawler.replica.generate import ForeignPostFiles
    from crawler.replica.server import serve_forever

    if args.write_posts is not None and (args.posts is not None or args.hostile):
        print(f"{args.parser.prog}: --write-posts writes the synthetic posts; it does not take --posts or --hostile",
              file=sys.stderr)
        return EXIT_USAGE
    try:
        serve_forever(args.posts, args.count, args.port, args.host, hostile=args.hostile,
                      write_posts=args.write_posts)
    except ForeignPostFiles as error:
        print(f"{args.parser.prog}: --write-posts {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(f"{args.parser.prog}: port {args.port} on {args.host} is in use (--port P for another)", file=sys.stderr)
        return 1
    return 0


def _log_overrides(args: argparse.Namespace) -> dict[str, str | bool]:
    """Verbose: Scrapy's log. Quiet: errors only. Otherwise warnings and errors, and on a terminal a live
    progress display (under cron, with no terminal, nothing but the summary line and errors). A setting
    given with ``-s`` (``-s LOG_LEVEL=DEBUG``) wins over these."""
    quiet = getattr(args, "quiet", False)
    if args.verbose:
        level = "INFO"
    else:
        level = "ERROR" if quiet else "WARNING"
    return {"LOG_LEVEL": level, "FINEWS_PROGRESS": not (quiet or args.verbose) and sys.stderr.isatty()}


EXIT_CODES = {
    0: "done (a crawl: every post listed and requested archived with its file, or rejected for its own page)",
    1: "failed: one line on stderr says why (a crawl's also in `finews status`; the next run completes it)",
    2: "usage error: fix the command line; nothing was done",
    75: "locked: another crawl (pid named) holds this output; nothing was done",
    130: "interrupted by SIGINT (143: SIGTERM); `finews crawl --resume` continues the run",
}
# Argparse's messages about the command line's shape, answered with the command's usage as well.
_SHAPE_ERRORS = ("unrecognized arguments", "the following arguments are required", "expected one argument",
                 "invalid choice", "not allowed with argument", "ignored explicit argument")


class CommandParser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit 2: ``finews crawl: what is wrong``,
    with the command's own usage on that line when the mistake is in the shape of the command line.
    A monitoring plugin's (``nagios_plugin``) is UNKNOWN instead: on stdout, exit 3, as plugins report."""

    nagios_plugin = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # `--ful` is not `--full`: a typo in a crontab must not run something else than what was meant.
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str) -> NoReturn:
        line = f"{self.prog}: {message}"
        if message.startswith(_SHAPE_ERRORS):
            line += "; usage: " + " ".join(self.format_usage().split()).removeprefix("usage: ")
        if self.nagios_plugin:
            print(f"UNKNOWN - {line}")
            self.exit(NAGIOS_UNKNOWN)
        self.exit(EXIT_USAGE, line + "\n")


def exit_codes(*codes: int) -> str:
    return "exit codes:\n" + "\n".join(f"  {code:<4} {EXIT_CODES[code]}" for code in codes)


def add_command(commands: argparse._SubParsersAction, name: str, summary: str, description: str = "",
                codes: tuple[int, ...] = (0, 1, 2), epilog: str | None = None) -> CommandParser:
    """A subcommand with its one-line summary (in ``finews --help``), that line and ``description`` at the
    top of its own ``--help``, its exit codes (or ``epilog``) below, and every option's default shown."""
    command = commands.add_parser(
        name, help=summary, description=f"{summary[0].upper()}{summary[1:]}." + (f" {description}" if description else ""),
        epilog=exit_codes(*codes) if epilog is None else epilog, formatter_class=HelpFormatter,
    )
    command.set_defaults(parser=command)
    return command


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown after each option's help; the exit codes kept as written."""


def add_output_option(parser: argparse.ArgumentParser, creates: bool = True) -> None:
    parser.add_argument("--output", type=output_folder if creates else existing_path, default=DEFAULT_OUTPUT,
                        metavar="DIR", help="output folder: archive.db and _posts/" + (
                            " (created if missing; its parent must exist)" if creates else ""))


def add_settings_option(parser: argparse.ArgumentParser, scope: str, example: str) -> None:
    parser.add_argument("-s", "--set", type=setting, action="append", default=[], metavar="NAME=VALUE",
                        help=f"a Scrapy or FINEWS_ setting for {scope} (e.g. -s {example}), checked against its "
                             "default's type; repeatable")


def add_loudness_options(parser: argparse.ArgumentParser, quiet: str) -> None:
    """``-v`` (Scrapy's log) or ``-q`` (``quiet`` says what is left), not both."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="log Scrapy's progress")
    loudness.add_argument("-q", "--quiet", action="store_true", help=quiet)


def installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("finews-archive")
    except PackageNotFoundError:
        return "(not installed: run from a source tree)"


class VersionAction(argparse._VersionAction):
    """``--version``, the installed version looked up only when asked: importlib.metadata would cost every
    other command 40 ms of its start (BENCHMARKS.md, Start-up of the fast commands)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        self.version = f"finews {installed_version()}"
        super().__call__(parser, namespace, values, option_string)


def build_parser() -> argparse.ArgumentParser:
    from crawler.check import Thresholds

    parser = CommandParser(
        prog="finews", description="Archive the finews site into SQLite and Jekyll posts.",
        epilog=exit_codes(0, 1, 2, 75, 130) + "\n\n`finews COMMAND --help` for a command's options.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--version", action=VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CommandParser)

    crawl = add_command(commands, "crawl", "crawl the site into the archive",
                        "Incremental: posts already archived are not fetched again.", codes=(0, 1, 2, 75, 130))
    crawl.add_argument("--site", type=site_url, default=DEFAULT_SITE, metavar="URL", help="the site's start page")
    add_output_option(crawl)
    add_settings_option(crawl, "this run", "DOWNLOAD_DELAY=1")
    what = crawl.add_mutually_exclusive_group()
    what.add_argument("--full", action="store_true",
                      help="fetch every listed post again (changed ones are updated, their old version kept)")
    what.add_argument("--resume", action="store_true",
                      help="continue the last run if it was interrupted, killed or failed (else start a new one)")
    add_loudness_options(crawl, "no progress display and no summary line: errors only")
    crawl.add_argument("--redis", type=redis_url, metavar="URL",
                       help="crawl with the workers that join through this Redis server (redis://HOST:PORT/DB): "
                            "this process writes the archive and works as one more worker")
    crawl.add_argument("--workers", type=positive_number, default=1, metavar="N",
                       help="crawl with N processes on this machine (2 for two cores): a private Redis server and "
                            "N - 1 workers, started and stopped with the crawl (needs redis-server)")
    crawl.set_defaults(run=_crawl)

    worker = add_command(
        commands, "worker", "work for the distributed crawl that `finews crawl --redis` runs",
        "Take requests from the shared frontier in Redis, fetch and read them, and hand the posts to the process "
        "writing the archive. Any number, on any machine that reaches the site and Redis.", codes=(0, 1, 2, 130),
    )
    worker.add_argument("--redis", type=redis_url, metavar="URL", required=True,
                        help="the crawl's Redis server (redis://[:PASSWORD@]HOST:PORT/DB)")
    worker.add_argument("--idle-exit", type=seconds, default=30.0, metavar="SECONDS",
                        help="exit after this long with nothing to take, or no crawl to join")
    add_settings_option(worker, "this worker", "CONCURRENT_REQUESTS=32")
    add_loudness_options(worker, "no summary line: errors only")
    worker.set_defaults(run=_worker)

    share = add_command(
        commands, "share", "fetch archived articles' exact texts from the share host (GetNewsText.do)",
        "A text that differs from the archived body replaces it (the old one is kept in post_revisions) and its "
        "file is rewritten.", codes=(0, 1, 2, 75, 130),
    )
    share.add_argument("codes", nargs="*", metavar="CODE|URL",
                       help="an infoCode (NW…, or the emnews digits) or any URL naming one (share link, article, post)")
    share.add_argument("--from-file", metavar="F", help="more infoCodes or URLs, one a line ('-': stdin)")
    share.add_argument("--backfill", action="store_true",
                       help="also every archived post whose share text was never fetched successfully")
    add_output_option(share)
    add_settings_option(share, "this run", "FINEWS_SHARE_TIMEOUT=5")
    add_loudness_options(share, "no summary line: errors only")
    share.set_defaults(run=_share)

    status = add_command(commands, "status", "show the archive's size, a running crawl and the last runs",
                         "Reads the archive only (safe while a crawl runs, and on a read-only copy).")
    add_output_option(status, creates=False)
    status.add_argument("--runs", type=positive_number, default=STATUS_RUNS, metavar="N", help="runs to list")
    shape = status.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="as one JSON object (docs/status-json.md)")
    shape.add_argument("--metrics", action="store_true",
                       help="as Prometheus metrics, for node_exporter's textfile collector (with finews check's states)")
    status.set_defaults(run=_status)

    check = add_command(
        commands, "check", "tell a monitoring system whether the archive is healthy (a Nagios plugin)",
        "The first line: OK, WARNING, CRITICAL or UNKNOWN, what is wrong, and performance data; then a line per "
        "check. Read-only. Rates compare the newest runs with earlier ones (README: Running it for months).",
        epilog="exit codes (Nagios plugin):\n  0    OK\n  1    WARNING: a rate got worse by --warn, or the last "
               "run failed\n  2    CRITICAL: no finished run or no new post for too long, a rate worse by --crit, "
               "or --failed-runs failed in a row\n  3    UNKNOWN: no readable archive, or a usage error",
    )
    check.nagios_plugin = True
    add_output_option(check, creates=False)
    defaults = Thresholds()
    check.add_argument("--max-age-minutes", type=minutes, default=defaults.max_age_minutes, metavar="M",
                       help="CRITICAL when no run has finished for M minutes")
    check.add_argument("--new-post-hours", type=hours, default=defaults.new_post_hours, metavar="H",
                       help="CRITICAL when no post was archived for the first time in H hours")
    check.add_argument("--failed-runs", type=positive_number, default=defaults.failed_runs, metavar="N",
                       help="the last run failed or abandoned: WARNING; N in a row: CRITICAL")
    check.add_argument("--warn", type=fraction, default=defaults.warn, metavar="F",
                       help="WARNING when a rate (rejects, share failures, source/editor/body coverage) is worse than "
                            "the earlier runs' by F (0.2: 20 points)")
    check.add_argument("--crit", type=fraction, default=defaults.crit, metavar="F",
                       help="CRITICAL when worse by F (the share-failure rate only warns: bodies still come from pages)")
    check.add_argument("--min-posts", type=positive_number, default=defaults.min_posts, metavar="N",
                       help="judge a rate on at least N posts (the newest runs pooled until they hold N)")
    check.add_argument("--baseline-runs", type=positive_number, default=defaults.baseline_runs, metavar="N",
                       help="pool at most N runs for the newest rate, and N for the baseline")
    check.add_argument("--now", type=instant, default=None, metavar="INSTANT",
                       help="judge as of this ISO 8601 instant with its zone (default: now), to test or replay")
    check.set_defaults(run=_check)

    copy = add_command(
        commands, "backup", "copy the archive safely, even while a crawl writes to it",
        "An online backup (SQLite's backup API): the archive as of one commit, checked with integrity_check, "
        "into DEST/archive.db; with --posts also DEST/_posts/, the files of exactly the posts in that copy. "
        "To restore: README, Backup and restore.",
    )
    copy.add_argument("destination", type=new_folder, metavar="DEST",
                      help="a new or empty folder for the copy (its parent must exist)")
    add_output_option(copy, creates=False)
    copy.add_argument("--posts", action="store_true", help="also write the copy's post files into DEST/_posts")
    copy.set_defaults(run=_backup)

    feed = add_command(
        commands, "changes", "print the posts changed after a sequence number (the change feed)",
        "Each post once, in its latest state, in sequence order, as posts.jsonl has it plus its change_seq; "
        "then the last sequence number alone on stderr: keep it and pass it as --after next time, and no change "
        "is missed or read twice, even while a crawl writes. See docs/schema.md, The change feed.",
    )
    feed.add_argument("--after", type=sequence_number, default=0, metavar="SEQ",
                      help="the last change_seq already read (0: every post)")
    feed.add_argument("--limit", type=positive_number, default=None, metavar="N",
                      help="at most N posts (the rest from the next call, after the number printed)")
    feed.add_argument("--format", choices=("jsonl", "text"), default="jsonl",
                      help="jsonl: the public record with change_seq; text: seq, date, infoCode, title")
    add_output_option(feed, creates=False)
    feed.set_defaults(run=_changes)

    demo = add_command(commands, "demo", "serve a replica site on loopback and crawl it",
                       "Generates N synthetic posts (of every kind the site has, and a few malformed ones), serves "
                       "them under the real host names on a loopback port and crawls them through it as a proxy.",
                       codes=(0, 1, 2, 75, 130))
    demo.add_argument("--posts", type=synthetic_count, default=DEMO_POSTS, metavar="N",
                      help=f"synthetic posts (at least {MIN_SYNTHETIC_POSTS})")
    add_output_option(demo)
    demo.add_argument("--write-posts", type=output_folder, default=None, metavar="DIR",
                      help="also write the original post files the replica serves into DIR, to check the archive "
                           "against them with `finews verify --posts DIR`")
    demo.add_argument("-v", "--verbose", action="store_true", help="log Scrapy's progress")
    demo.set_defaults(run=_demo)

    export = add_command(commands, "export", "regenerate files from the archive (idempotent)",
                         "A second export changes no byte. Takes the crawl lock.", codes=(0, 1, 2, 75))
    add_output_option(export, creates=False)
    export.add_argument("--format", choices=("frontmatter", "jsonl", "wacz"), default="frontmatter",
                        help="front-matter files in OUTPUT/_posts, OUTPUT/posts.jsonl, or OUTPUT/finews.wacz "
                             "(the WARC files packaged for web archive tools)")
    export.add_argument("--since", type=since_instant, default=None, metavar="DATE",
                        help="only posts published on or after DATE: a day (2021-12-28, from midnight in "
                             "Asia/Shanghai) or an instant with its zone (2021-12-27T22:00Z)")
    export.set_defaults(run=_export)

    find = add_command(commands, "search", "full-text search of the archived posts (Chinese included)",
                       "Posts holding every word in their title or text, newest first.")
    find.add_argument("query", nargs="+", help="words a post must all contain (title or text)")
    find.add_argument("--limit", type=positive_number, default=SEARCH_LIMIT, metavar="N", help="posts to show")
    add_output_option(find, creates=False)
    find.set_defaults(run=_search)

    reparse = add_command(commands, "reparse", "rebuild every post from the stored pages, with no network",
                          "After a parser change: prints what changed.", codes=(0, 1, 2, 75))
    add_output_option(reparse)
    add_loudness_options(reparse, "errors only: no report")
    reparse.set_defaults(run=_reparse)

    datasette = add_command(commands, "serve", "browse and search the archive in Datasette",
                            "Read-only; runs until Ctrl-C.")
    add_output_option(datasette, creates=False)
    datasette.add_argument("--host", default="127.0.0.1", help="address to listen on")
    datasette.add_argument("--port", type=port_number, default=SERVE_PORT, help="port to listen on")
    datasette.set_defaults(run=_serve)

    originals = add_command(commands, "verify", "hold exported post files against the original post files",
                            "A line per difference and a summary; exit 1 if an original is unaccounted for.")
    originals.add_argument("--posts", type=existing_folder, required=True, metavar="DIR",
                           help="the folder of original post files (e.g. written by `finews demo --write-posts DIR`)")
    add_output_option(originals, creates=False)
    originals.set_defaults(run=_verify)

    replica = add_command(commands, "replica", "the replica site on loopback, for trying and testing finews")
    replica_commands = replica.add_subparsers(dest="replica", required=True, metavar="COMMAND",
                                              parser_class=CommandParser)
    serve = add_command(
        replica_commands, "serve", "serve the replica until Ctrl-C; use it as http_proxy",
        "Answers for both real host names (the site and the share host) on one loopback port; any other "
        "host gets a 502.",
    )
    source = serve.add_mutually_exclusive_group()
    source.add_argument("--posts", type=existing_folder, default=None, metavar="DIR",
                        help="serve the post files in DIR (default: --count synthetic posts)")
    source.add_argument("--hostile", action="store_true",
                        help="serve hostile pages beside the synthetic posts (encodings, redirects, huge, hanging, "
                             "odd names)")
    serve.add_argument("--count", type=synthetic_count, default=DEMO_POSTS, metavar="N",
                       help=f"synthetic posts to serve (at least {MIN_SYNTHETIC_POSTS})")
    serve.add_argument("--write-posts", type=output_folder, default=None, metavar="DIR",
                       help="write the synthetic post files served into DIR (for `finews verify --posts DIR`)")
    serve.add_argument("--port", type=port_number, default=8118, help="port to listen on")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.set_defaults(run=_replica_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    import sqlite3

    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # Reported by the command they were given to, with its usage, not by the top-level parser.
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader went away (`finews changes | head`): as any Unix filter, stop without a word. Python
        # would report the pipe again when it flushes stdout at exit, so stdout goes nowhere first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except (OSError, sqlite3.Error) as error:
        # The one error path of every command for what the machine refused (a full or read-only disk, a
        # folder that is a file, an archive that is not SQLite): one line, exit 1, never a traceback.
        from crawler.faults import DISK_FULL_ERRNOS, shorten, storage_fault

        if isinstance(error, OSError):
            where = error.filename
            detail = error.strerror or str(error) or type(error).__name__
            line = shorten(f"{where}: {detail}" if where else detail)
            if error.errno in DISK_FULL_ERRNOS:
                line = f"disk full: {line}"
        else:
            line = storage_fault(error) or shorten(f"the archive: {error}")
        print(f"{args.parser.prog}: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C outside a run's own signal handling (while Python loads Scrapy, say): one line, not a
        # traceback. A run the archive recorded as started is continued by --resume, as after a kill.
        print(f"{args.parser.prog}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
