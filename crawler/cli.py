"""``finews``: a thin command line over crawler.runner and crawler.replica."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from crawler.postfile import parse_post_file

DEFAULT_SITE = "http://finews.withounder.com/"
DEFAULT_OUTPUT = Path("output")
DEMO_POSTS = 60
EXIT_USAGE = 2
STATUS_RUNS = 10


def _crawl(args: argparse.Namespace) -> int:
    from crawler.lock import CrawlLocked
    from crawler.runner import EXIT_FAILED, EXIT_LOCKED, CrawlError, run_crawl

    try:
        summary = run_crawl(args.site, args.output, _log_overrides(args), full=args.full, resume=args.resume)
    except CrawlLocked as error:
        print(f"finews crawl: {error}", file=sys.stderr)
        return EXIT_LOCKED
    except CrawlError as error:
        print(f"finews crawl: {error}", file=sys.stderr)
        return EXIT_FAILED
    if not args.quiet:
        print(summary.line())
    if summary.stop_signal is not None:
        print(f"finews crawl: run {summary.run_id} interrupted; `finews crawl --resume` continues it", file=sys.stderr)
    return summary.exit_code


def _status(args: argparse.Namespace) -> int:
    from crawler.runner import CrawlError
    from crawler.status import status_report

    try:
        print(status_report(args.output, args.runs))
    except (FileNotFoundError, CrawlError) as error:
        print(f"finews status: {error}", file=sys.stderr)
        return 1
    return 0


def _demo(args: argparse.Namespace) -> int:
    from crawler.lock import CrawlLocked
    from crawler.replica.generate import generate_site
    from crawler.replica.render import render_site
    from crawler.replica.server import ReplicaServer
    from crawler.runner import EXIT_LOCKED, CrawlError, run_crawl

    site = generate_site(args.posts)
    pages = render_site(parse_post_file(name, text) for name, text in site.files)
    with ReplicaServer(pages) as server:
        print(f"replica of {len(site.files)} posts on {server.proxy_url}; crawling {DEFAULT_SITE} through it")
        # Scrapy's HttpProxyMiddleware reads the standard variables: the crawl sees the real URL layout.
        os.environ["http_proxy"] = server.proxy_url
        os.environ.pop("no_proxy", None)
        os.environ.pop("NO_PROXY", None)
        try:
            summary = run_crawl(DEFAULT_SITE, args.output, _log_overrides(args))
        except CrawlLocked as error:
            print(f"finews demo: {error}", file=sys.stderr)
            return EXIT_LOCKED
        except CrawlError as error:
            print(f"finews demo: {error}", file=sys.stderr)
            return 1
    print(summary.line())
    print(f"archive: {args.output / 'archive.db'}  posts: {args.output / '_posts'}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from pipelines.export import export

    try:
        summary = export(args.output, args.format, args.since)
    except FileNotFoundError as error:
        print(f"finews export: {error}", file=sys.stderr)
        return 1
    print(summary.line())
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

    serve_forever(args.posts, args.count, args.port, args.host)
    return 0


def positive_number(text: str) -> int:
    number = int(text)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive number")
    return number


def _log_overrides(args: argparse.Namespace) -> dict[str, str | bool]:
    """Verbose: Scrapy's log. Quiet: errors only. Otherwise warnings and errors, and on a terminal a live
    progress display (under cron, with no terminal, nothing but the summary line and errors)."""
    quiet = getattr(args, "quiet", False)
    if args.verbose:
        level = "INFO"
    else:
        level = "ERROR" if quiet else "WARNING"
    return {"LOG_LEVEL": level, "FINEWS_PROGRESS": not (quiet or args.verbose) and sys.stderr.isatty()}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="finews", description="Archive the finews site into SQLite and Jekyll posts.")
    commands = parser.add_subparsers(dest="command", required=True)

    crawl = commands.add_parser("crawl", help="crawl the site into the archive")
    crawl.add_argument("--site", default=DEFAULT_SITE, help=f"start URL (default {DEFAULT_SITE})")
    crawl.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="output folder (default ./output)")
    what = crawl.add_mutually_exclusive_group()
    what.add_argument("--full", action="store_true",
                      help="fetch every listed post again (changed ones are updated, their old version kept)")
    what.add_argument("--resume", action="store_true",
                      help="continue the last run if it was interrupted or killed (else start a new one)")
    loudness = crawl.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="log Scrapy's progress")
    loudness.add_argument("-q", "--quiet", action="store_true",
                          help="no progress display and no summary line: errors only")
    crawl.set_defaults(run=_crawl)

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
    serve.set_defaults(run=_replica_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
