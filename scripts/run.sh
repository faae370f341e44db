#!/usr/bin/env bash
# make run: set up what is missing, start the local PostGIS (unless DATABASE_URL is set),
# migrate, load the sample data on first run, and serve http://127.0.0.1:5000.
# The local cluster admits no one without a password (scripts/pg.sh secure); the app connects as
# `gridmap_app`, which owns nothing, and migrations run as the schema's owner `gridmap`: both URLs
# come from var/pg.env (0600), which the gridmap command also reads when DATABASE_URL is unset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DATABASE_URL:-}" ]; then
  bash scripts/pg.sh secure var/pg "${GRIDMAP_PGPORT:-54329}" gridmap
  eval "$(sed -n 's/^\(DATABASE_URL\|GRIDMAP_MIGRATE_URL\)=/export \1=/p' var/pg.env)"
fi
# One process migrates, loads the sample data on first run only, and serves.
exec .venv/bin/gridmap serve --upgrade --demo-if-empty --host "${GRIDMAP_HOST:-127.0.0.1}" --port "${GRIDMAP_PORT:-5000}"
