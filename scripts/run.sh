#!/usr/bin/env bash
# make run: set up what is missing, start the local PostGIS (unless DATABASE_URL is set),
# migrate, load the sample data on first run, and serve http://127.0.0.1:5000.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DATABASE_URL:-}" ]; then
  bash scripts/pg.sh start var/pg "${GRIDMAP_PGPORT:-54329}" gridmap
fi
# One process migrates, loads the sample data on first run only, and serves.
exec .venv/bin/gridmap serve --upgrade --demo-if-empty --host "${GRIDMAP_HOST:-127.0.0.1}" --port "${GRIDMAP_PORT:-5000}"
