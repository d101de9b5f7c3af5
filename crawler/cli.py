"""``finews``: a thin command line over crawler.runner and crawler.replica."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from crawler.postfile import parse_post_file

if TYPE_CHECKING:
    from crawler.runner import CrawlSummary

DEFAULT_SITE = "http://finews.withounder.com/"
DEFAULT_OUTPUT = Path("output")
DEMO_POSTS = 60
EXIT_USAGE = 2
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
    from crawler.output import CrawlError
    from crawler.status import status_report

    try:
        print(status_report(args.output, args.runs))
    except (FileNotFoundError, CrawlError) as error:
        print(f"finews status: {error}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from crawler.replica.generate import generate_site
    from crawler.replica.render import render_site
    from crawler.replica.server import ReplicaServer
    from crawler.runner import run_crawl

    site = generate_site(args.posts)
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
    from pipelines.archive import ARCHIVE_FILE
    from pipelines.search import MIN_INDEXED_LENGTH, QueryError, search

    if not (args.output / ARCHIVE_FILE).is_file():
        print(f"finews search: no archive at {args.output / ARCHIVE_FILE}", file=sys.stderr)
        return 1
    try:
        # Opened as a writer would: an archive from an older finews gets its search index first.
        archive = open_archive(args.output)
    except CrawlError as error:
        print(f"finews search: {error}", file=sys.stderr)
        return 1
    try:
        result = search(archive.db.conn, " ".join(args.query), args.limit)
    except QueryError as error:
        print(f"finews search: {error}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.OperationalError as error:
        print(f"finews search: the archive could not be searched: {error}", file=sys.stderr)
        return 1
    finally:
        archive.close()
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
    from crawler.verify import ACCOUNTED, summary, verify

    outcomes = verify(args.posts, args.output)
    for outcome in outcomes:
        if outcome.status != "identical":
            print(outcome.line())
    print(summary(outcomes))
    return 0 if all(outcome.status in ACCOUNTED for outcome in outcomes) else 1


def _replica_serve(args: argparse.Namespace) -> int:
    from crawler.replica.server import serve_forever

    if args.hostile and args.posts is not None:
        print("finews replica serve: --hostile serves generated posts; it does not take --posts", file=sys.stderr)
        return EXIT_USAGE
    serve_forever(args.posts, args.count, args.port, args.host, hostile=args.hostile)
    return 0


def positive_number(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return number


def setting(text: str) -> tuple[str, str]:
    """``NAME=VALUE``: one Scrapy setting for this run, as ``scrapy crawl -s`` takes it."""
    name, equals, value = text.partition("=")
    if not equals or not name.isidentifier() or not name.isupper():
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE with an upper-case setting name")
    return name, value


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


def add_settings_option(parser: argparse.ArgumentParser, scope: str, example: str) -> None:
    parser.add_argument("-s", "--set", type=setting, action="append", default=[], metavar="NAME=VALUE",
                        help=f"a Scrapy setting for {scope} (e.g. -s {example}); repeatable")


def positive_count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {count}")
    return count


def add_loudness_options(parser: argparse.ArgumentParser, quiet: str) -> None:
    """``-v`` (Scrapy's log) or ``-q`` (``quiet`` says what is left), not both."""
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="log Scrapy's progress")
    loudness.add_argument("-q", "--quiet", action="store_true", help=quiet)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finews", description="Archive the finews site into SQLite and Jekyll posts.")
    commands = parser.add_subparsers(dest="command", required=True)

    crawl = commands.add_parser("crawl", help="crawl the site into the archive")
    crawl.add_argument("--site", default=DEFAULT_SITE, help=f"start URL (default {DEFAULT_SITE})")
    crawl.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    add_settings_option(crawl, "this run", "DOWNLOAD_DELAY=1")
    what = crawl.add_mutually_exclusive_group()
    what.add_argument("--full", action="store_true",
                      help="fetch every listed post again (changed ones are updated, their old version kept)")
    what.add_argument("--resume", action="store_true",
                      help="continue the last run if it was interrupted, killed or failed (else start a new one)")
    add_loudness_options(crawl, "no progress display and no summary line: errors only")
    crawl.add_argument("--redis", metavar="URL",
                       help="crawl with the workers that join through this Redis server (redis://HOST:PORT/DB): "
                            "this process writes the archive and works as one more worker")
    crawl.add_argument("--workers", type=positive_count, default=1, metavar="N",
                       help="crawl with N processes on this machine (2 for two cores): a private Redis server and "
                            "N - 1 workers, started and stopped with the crawl (needs redis-server; default 1)")
    crawl.set_defaults(run=_crawl)

    worker = commands.add_parser(
        "worker", help="work for the distributed crawl that `finews crawl --redis` runs",
        description="Take requests from the shared frontier in Redis, fetch and read them, and hand the posts "
                    "to the process writing the archive. Any number, on any machine that reaches the site and Redis.",
    )
    worker.add_argument("--redis", metavar="URL", required=True, help="the crawl's Redis server (redis://HOST:PORT/DB)")
    worker.add_argument("--idle-exit", type=float, default=30.0, metavar="SECONDS",
                        help="exit after this long with nothing to take, or no crawl to join (default 30)")
    add_settings_option(worker, "this worker", "CONCURRENT_REQUESTS=32")
    add_loudness_options(worker, "no summary line: errors only")
    worker.set_defaults(run=_worker)

    share = commands.add_parser(
        "share", help="fetch archived articles' exact texts from the share host (GetNewsText.do)",
        description="Fetch each article's text from the share host; a text that differs from the archived body "
                    "replaces it (the old one is kept in post_revisions) and its file is rewritten.",
    )
    share.add_argument("codes", nargs="*", metavar="CODE|URL",
                       help="an infoCode (NW…, or the emnews digits) or any URL naming one (share link, article, post)")
    share.add_argument("--from-file", metavar="F", help="more infoCodes or URLs, one a line ('-': stdin)")
    share.add_argument("--backfill", action="store_true",
                       help="also every archived post whose share text was never fetched successfully")
    share.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    add_settings_option(share, "this run", "FINEWS_SHARE_TIMEOUT=5")
    add_loudness_options(share, "no summary line: errors only")
    share.set_defaults(run=_share)

    status = commands.add_parser("status", help="the last runs and the archive's size")
    status.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    status.add_argument("--runs", type=positive_number, default=STATUS_RUNS, help=f"runs to list (default {STATUS_RUNS})")
    status.set_defaults(run=_status)

    demo = commands.add_parser("demo", help="serve a replica site on loopback and crawl it")
    demo.add_argument("--posts", type=int, default=DEMO_POSTS, help=f"synthetic posts (default {DEMO_POSTS})")
    demo.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    demo.add_argument("-v", "--verbose", action="store_true", help="log Scrapy's progress")
    demo.set_defaults(run=_demo)

    export = commands.add_parser("export", help="regenerate files from the archive (idempotent)")
    export.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    export.add_argument("--format", choices=("frontmatter", "jsonl"), default="frontmatter",
                        help="front-matter files in OUTPUT/_posts (default), or OUTPUT/posts.jsonl")
    export.add_argument("--since", default=None, help="only posts published on or after this ISO date")
    export.set_defaults(run=_export)

    find = commands.add_parser("search", help="full-text search of the archived posts (Chinese included)")
    find.add_argument("query", nargs="+", help="words a post must all contain (title or text)")
    find.add_argument("--limit", type=positive_number, default=SEARCH_LIMIT, help=f"posts to show (default {SEARCH_LIMIT})")
    find.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    find.set_defaults(run=_search)

    reparse = commands.add_parser("reparse", help="rebuild every post from the stored pages, with no network")
    reparse.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    add_loudness_options(reparse, "errors only: no report")
    reparse.set_defaults(run=_reparse)

    datasette = commands.add_parser("serve", help="browse and search the archive in Datasette")
    datasette.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    datasette.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    datasette.add_argument("--port", type=int, default=SERVE_PORT, help=f"port (default {SERVE_PORT})")
    datasette.set_defaults(run=_serve)

    check = commands.add_parser("verify", help="hold exported post files against the originals")
    check.add_argument("--posts", type=Path, required=True, help="the folder of original post files")
    check.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    check.set_defaults(run=_verify)

    replica = commands.add_parser("replica", help="the replica site").add_subparsers(dest="replica", required=True)
    serve = replica.add_parser("serve", help="serve the replica until Ctrl-C; use it as http_proxy")
    serve.add_argument("--posts", type=Path, default=None, help="a folder of post files (default: synthetic)")
    serve.add_argument("--count", type=int, default=DEMO_POSTS, help="synthetic posts when no --posts")
    serve.add_argument("--port", type=int, default=8118)
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--hostile", action="store_true",
                       help="serve hostile pages beside the posts (encodings, redirects, huge, hanging, odd names)")
    serve.set_defaults(run=_replica_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    import sqlite3

    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
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
        print(f"finews {args.command}: {line}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C outside a run's own signal handling (while Python loads Scrapy, say): one line, not a
        # traceback. A run the archive recorded as started is continued by --resume, as after a kill.
        print(f"finews {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
