#!/usr/bin/env bash
# pywb, the web archive replay tool, in a virtualenv of its own: it pins redis 2.10.6 and Werkzeug exactly,
# which this project's own dependencies (scrapy-redis, datasette) cannot share. tests/test_warc.py replays
# the archive's WARC files with it; scripts/test.sh calls this first. Prints the virtualenv's bin folder.
# Kept under ~/.cache/finews-pywb/ (FINEWS_PYWB_CACHE sets another folder): a second run reuses it.
set -euo pipefail
version=2.10.0
cache=${FINEWS_PYWB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/finews-pywb}
venv=$cache/venv-$version
mkdir -p "$cache"
{
  flock 9  # another checkout may be building the same virtualenv
  if [ ! -x "$venv/bin/wayback" ]; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "pywb==$version" >&2
  fi
} 9>"$cache/.lock"
echo "$venv/bin"
