#!/usr/bin/env bash
# The lowest versions pyproject.toml allows: the project installed in a virtualenv of its own with every
# declared dependency at its floor (scripts/lowest_constraints.py; pip resolves the rest), then
# `finews demo` and a fast part of the tests run in it. scripts/test.sh calls this before the full suite
# on the latest versions; it also runs alone. Arguments go to pytest.
#
# The virtualenv is kept under ~/.cache/finews-lowest/, one per set of floors and Python: a second run
# reuses it (FINEWS_LOWEST_CACHE sets another folder).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Tests that exercise each dependency at its floor, about a minute on two processes. psutil's floor
# (Process.net_connections) is left out: one test of test_distributed.py uses it, 45 s of a workers crawl.
FAST_TESTS=(
  tests/test_hostile.py tests/test_cli_arguments.py                 # scrapy: exceptions, settings, middlewares
  tests/test_request_codec.py tests/test_distributed_trust.py       # scrapy-redis, orjson
  tests/test_schema.py tests/test_archive_runs.py tests/test_search.py  # sqlite-utils
  tests/test_datasette.py                                           # datasette
  tests/test_postfile.py tests/test_properties.py tests/test_infocode.py  # PyYAML, hypothesis
  tests/test_post_page.py tests/test_malformed.py                   # parsel
  tests/test_check.py                                               # prometheus-client
  tests/test_warc.py                                                # warcio
  tests/test_scheduled.py::test_on_a_terminal_a_live_progress_display_then_the_summary  # rich
  tests/test_scheduled.py::test_at_80_columns_the_progress_line_keeps_the_posts_done_of_queued
)
# web-poet: the page objects' stored fixtures, run by its pytest plugin.
[ -d tests/fixtures ] && FAST_TESTS+=(tests/fixtures)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 scripts/lowest_constraints.py >"$work/constraints.txt"

cache=${FINEWS_LOWEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/finews-lowest}
key=$({ python3 -c 'import sys; print(sys.base_prefix, sys.version)'; cat "$work/constraints.txt"; } | sha256sum | cut -c1-16)
venv=$cache/$key
mkdir -p "$cache"

started=$SECONDS
{
  flock 9  # another checkout may be building the same virtualenv
  if [ ! -f "$venv/complete" ] || ! "$venv/bin/python" -c '' 2>/dev/null; then
    echo "lowest versions: making $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    cp "$work/constraints.txt" "$venv/constraints.txt"
    if ! "$venv/bin/python" -m pip install -c "$venv/constraints.txt" -e '.[test]' >"$work/pip.log" 2>&1; then
      echo "lowest versions: pip could not install the floors:" >&2
      grep -v 'is ignored: it is neither a file nor a directory' "$work/pip.log" | tail -n 30 >&2
      exit 1
    fi
    touch "$venv/complete"
  elif ! (cd / && env -u PYTHONPATH "$venv/bin/python" -c \
      'import crawler, sys; sys.exit(crawler.__file__ != sys.argv[1])' "$root/crawler/__init__.py") 2>/dev/null; then
    # Kept from another checkout (CI clones anew): the editable install points there.
    "$venv/bin/python" -m pip install -q --no-deps -e . >"$work/pip.log" 2>&1 || { tail -n 30 "$work/pip.log" >&2; exit 1; }
  fi
} 9>"$cache/$key.lock"
echo "lowest versions: $(grep -v '^#' "$venv/constraints.txt" | tr '\n' ' ')($((SECONDS - started)) s to set up)"

# This checkout's code, whichever checkout the editable install last pointed at.
export PYTHONPATH=$root
status=0
"$venv/bin/finews" demo --output "$work/demo" >"$work/demo.log" 2>&1 || status=$?
if [ "$status" != 0 ]; then
  echo "lowest versions: finews demo exited $status; the end of its output:" >&2
  tail -n 30 "$work/demo.log" >&2
  exit 1
fi
echo "lowest versions: finews demo exited 0"
"$venv/bin/python" -m pytest -q -n "${FINEWS_TEST_PROCESSES:-2}" "${FAST_TESTS[@]}" "$@"
