#!/usr/bin/env bash
# Install what the tests need (Debian's jekyll for the round trip through the real consumer, the
# project with its test extras) and run them, after a fast run on the lowest versions pyproject.toml
# allows (scripts/test_lowest.sh). .ci/run calls this; so does a developer.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v jekyll >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jekyll ruby-jekyll-feed ruby-jekyll-seo-tag >/dev/null
  else
    echo "note: jekyll is not installed and this is not root; the Jekyll round-trip tests will skip" >&2
  fi
fi

# nginx serves the benchmark's static replica (tests/test_benchmarks.py); without it the smoke run uses the
# replica's own server and says so. Debian's package may try to start a system service: the benchmark
# never uses one, it runs its own nginx on a free loopback port.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] && [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi

# redis-server: the distributed crawl's tests start their own on a free loopback port, without persistence
# (tests/redis_server.py); Debian's package also starts a system service on 6379, which they never use.
if ! command -v redis-server >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi

# First the lowest versions pyproject.toml allows, in a virtualenv of their own: the demo and a fast part of
# the tests (about a minute, two when it makes the virtualenv; FINEWS_TEST_LOWEST=0 skips it). Then every
# test on the latest versions.
if [ "${FINEWS_TEST_LOWEST:-1}" != 0 ]; then
  bash scripts/test_lowest.sh
fi

python3 -m pip install -q -e '.[test]'

# pywb replays the archive's WARC files in tests/test_warc.py, from a virtualenv of its own (it pins versions
# this project cannot share); the tests find it through FINEWS_PYWB_BIN.
FINEWS_PYWB_BIN=$(bash scripts/pywb_env.sh)
export FINEWS_PYWB_BIN

# Lint and type check before the tests, with pyproject.toml's [tool.ruff] and [tool.mypy]: seconds, where the
# tests take minutes. A finding fails the run (set -e) before any test runs.
python3 -m ruff check .
python3 -m mypy

# Two processes (pytest-xdist): most tests wait on crawls of a loopback replica, and two halve the run
# (573 s → 311 s on a 2-core machine). FINEWS_TEST_PROCESSES=0 runs them in this one process.
exec python3 -m pytest -n "${FINEWS_TEST_PROCESSES:-2}" "$@"
