"""Start-up of the fast commands: how long ``finews status``, ``search``, ``export``, ``check``, ``changes``,
``--help`` and ``--version`` take on a small archive, and whether any of them loaded the crawl machinery.

    python -m benchmarks.startup                                      # this tree, 10 runs of each
    python -m benchmarks.startup --tree before=/tmp/finews-old --tree after=. --runs 10

Each run is a new process, ``python -m crawler.cli …`` with PYTHONPATH set to the tree, timed from its
start to its exit (wall time, ``time.perf_counter``); the runs of every command and tree are interleaved,
round after round, so that a busy moment of a shared machine falls on all of them alike. One more run of
each with ``python -X importtime`` says which of Scrapy, Twisted, itemadapter and web-poet it imported.
Prints a Markdown table of medians in milliseconds, with the interpreter alone and ``import scrapy`` as
yardsticks. A tree to compare is any source tree of finews (``git archive COMMIT | tar -x -C DIR``).
The archive: a replica of 30 generated posts crawled once into WORK/out by this tree (kept for the next call).
Needs nothing beyond the project's own dependencies.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_WORK = Path("/tmp/finews-startup")
POSTS = 30
RUNS = 10
# Modules only a crawl needs: itemadapter imports Scrapy when it is installed, and web-poet imports itemadapter.
CRAWL_MACHINERY = ("scrapy", "twisted", "itemadapter", "web_poet")
# The commands that read or export the archive, and the ones that only print: none crawls. Run with
# ``--output out`` in the folder holding the archive (out/archive.db); the search word opens one in five
# news articles of a generated site (crawler/replica/generate.py).
FAST_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("--help",),
    ("--version",),
    ("status", "--output", "out"),
    ("status", "--json", "--output", "out"),
    ("status", "--metrics", "--output", "out"),
    ("search", "存款准备金", "--output", "out"),
    ("export", "--output", "out"),
    ("export", "--format", "jsonl", "--output", "out"),
    ("check", "--output", "out"),
    ("changes", "--output", "out"),
)
# Yardsticks, run as the commands are: the interpreter alone, and what loading Scrapy costs by itself.
YARDSTICKS: dict[str, tuple[str, ...]] = {
    "python -c pass": ("-c", "pass"),
    "python -c 'import scrapy.crawler'": ("-c", "import scrapy.crawler"),
}


def finews_argv(*args: str, importtime: bool = False) -> list[str]:
    return [sys.executable, *(("-X", "importtime") if importtime else ()), "-m", "crawler.cli", *args]


def tree_env(tree: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key.lower() not in ("http_proxy", "no_proxy")}
    env["PYTHONPATH"] = str(tree)
    return env


def crawl_machinery(importtime: str) -> dict[str, str]:
    """For each module of ``CRAWL_MACHINERY`` that ``python -X importtime`` reports imported (its stderr),
    the chain of imports that first brought it in, outermost first: ``crawler.health → … → scrapy``."""
    entries = []  # (depth, name) in the order Python reports them: a module after every module it imported
    for line in importtime.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            name = line.rsplit("|", 1)[1][1:]
            entries.append(((len(name) - len(name.lstrip())) // 2, name.strip()))
    found: dict[str, str] = {}
    for index, (depth, name) in enumerate(entries):
        if name not in CRAWL_MACHINERY or name in found:  # a package is reported after its submodules
            continue
        chain = [name]
        innermost = depth
        for outer_depth, outer in entries[index + 1:]:
            if outer_depth < innermost:
                chain.append(outer)
                innermost = outer_depth
        found[name] = " → ".join(reversed(chain))
    return found


def ensure_archive(work: Path) -> Path:
    """WORK/out holding a crawled archive of ``POSTS`` generated posts (crawled now if absent)."""
    if (work / "out" / "archive.db").is_file():
        return work
    from crawler.postfile import parse_post_file
    from crawler.replica.generate import generate_site
    from crawler.replica.render import render_site
    from crawler.replica.server import ReplicaServer

    work.mkdir(parents=True, exist_ok=True)
    site = generate_site(POSTS)
    with ReplicaServer(render_site(parse_post_file(name, text) for name, text in site.files)) as server:
        env = tree_env(ROOT)
        env["http_proxy"] = server.proxy_url
        subprocess.run(finews_argv("crawl", "-q", "--output", "out"), cwd=work, env=env, check=True, timeout=300)
    return work


def wall_time(argv: list[str], work: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(argv, cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    # finews check's states: an archive crawled over 30 minutes ago is CRITICAL (2), still a judgement made.
    if result.returncode not in ((0, 1, 2) if "check" in argv else (0,)):
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}: {result.stderr.decode()[-2000:]}")
    return elapsed


def measure(trees: dict[str, Path], work: Path, runs: int) -> list[dict[str, str]]:
    """One row per command (and yardstick): its median wall time in ms per tree, and what it loaded."""
    cases: list[tuple[str, str, list[str], dict[str, str]]] = []  # (row, tree, argv, env)
    for label, tree in trees.items():
        for args in FAST_COMMANDS:
            cases.append(("finews " + " ".join(args), label, finews_argv(*args), tree_env(tree)))
    for row, args in YARDSTICKS.items():
        cases.append((row, "", [sys.executable, *args], tree_env(ROOT)))
    times: dict[tuple[str, str], list[float]] = {(row, label): [] for row, label, _argv, _env in cases}
    for _warm_up_and_rounds in range(runs + 1):
        for row, label, argv, env in cases:
            times[(row, label)].append(wall_time(argv, work, env))
    rows: dict[str, dict[str, str]] = {}
    for row, label, argv, env in cases:
        median = str(round(statistics.median(times[(row, label)][1:]) * 1000))  # round 0 warms the page cache
        entry = rows.setdefault(row, {"command": row})
        if not label:  # a yardstick: the same for every tree
            entry.update({key: median for key in trees} | {f"{key} loads": "" for key in trees})
            continue
        entry[label] = median
        traced = subprocess.run([argv[0], "-X", "importtime", *argv[1:]], cwd=work, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
        entry[f"{label} loads"] = ", ".join(crawl_machinery(traced.stderr)) or "none"
    return list(rows.values())


def markdown(rows: list[dict[str, str]], labels: list[str], runs: int) -> str:
    head = ["command", *(f"{label} (ms)" for label in labels), *(f"{label}: crawl machinery" for label in labels)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [f"`{row['command']}`", *(row[label] for label in labels), *(row[f"{label} loads"] for label in labels)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + f"\n\nMedian of {runs} runs each, wall time from start to exit, interleaved.\n"


def tree_argument(value: str) -> tuple[str, Path]:
    label, _, path = value.rpartition("=")
    tree = Path(path).resolve()
    if not (tree / "crawler" / "cli.py").is_file():
        raise argparse.ArgumentTypeError(f"{path} holds no crawler/cli.py: not a finews source tree")
    return label or tree.name, tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", type=tree_argument, action="append", metavar="[LABEL=]DIR",
                        help="a finews source tree to time (repeatable; default: this one)")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each command and tree")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="where the archive is (or is crawled)")
    args = parser.parse_args(argv)
    trees = dict(args.tree or [("this tree", ROOT)])
    work = ensure_archive(args.work)
    print(f"archive: {work / 'out'}; python {sys.version.split()[0]}; {os.cpu_count()} cores; "
          f"load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    print(markdown(measure(trees, work, args.runs), list(trees), args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
