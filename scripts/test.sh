#!/usr/bin/env bash
# make test: set up, start a throwaway PostGIS, run ruff + mypy + import-linter + the whole
# pytest suite (browser tests included; a skipped test fails the run), tear down whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test

tmp=$(mktemp -d /tmp/gridmap-test.XXXXXX)
chmod 755 "$tmp"
port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() { bash scripts/pg.sh stop "$tmp/pg" || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

PG_EXTRA_OPTS="-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
  bash scripts/pg.sh start "$tmp/pg" "$port" postgres
export GRIDMAP_TEST_ADMIN_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
export GRIDMAP_FAIL_ON_SKIP=1
unset DATABASE_URL

echo "== ruff";         .venv/bin/ruff check .
echo "== mypy";         .venv/bin/mypy
echo "== lint-imports"; .venv/bin/lint-imports
# Two workers (xdist, --dist loadfile: a file's module fixtures are made once): the suite waits on
# PostgreSQL, Chromium and servers starting as much as on Python, so two share the 2 cores well.
echo "== pytest";       .venv/bin/pytest -n "${GRIDMAP_TEST_WORKERS:-2}" --dist loadfile "$@"
