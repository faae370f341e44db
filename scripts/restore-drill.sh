#!/usr/bin/env bash
# Restore drill: the newest backup in GRIDMAP_BACKUP_DIR is restored into the scratch database
# GRIDMAP_DRILL_DATABASE_URL (made once by the operator; everything in it is replaced), which must
# then be at the schema head and fold its statistics from every event. Exit status 0 only when all
# of that worked: run it monthly (deploy/systemd/gridmap-restore-drill.timer) and after upgrades.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
gridmap=${GRIDMAP_BIN:-$here/.venv/bin/gridmap}
dir=${GRIDMAP_BACKUP_DIR:?set GRIDMAP_BACKUP_DIR (where the backup job writes)}
drill=${GRIDMAP_DRILL_DATABASE_URL:?set GRIDMAP_DRILL_DATABASE_URL (a scratch database, never the real one)}
if [ "$drill" = "${DATABASE_URL:-}" ]; then
  echo "GRIDMAP_DRILL_DATABASE_URL is DATABASE_URL: the drill would overwrite the real database" >&2; exit 2
fi
newest=$(find "$dir" -maxdepth 1 -name 'gridmap-*.dump' | sort | tail -1)
[ -n "$newest" ] || { echo "no gridmap-*.dump in $dir: is the backup job running (gridmap jobs list)?" >&2; exit 1; }
age_h=$(( ( $(date +%s) - $(stat -c %Y "$newest") ) / 3600 ))
echo "drill: $newest ($age_h h old)"
DATABASE_URL=$drill GRIDMAP_JOBS=0 "$gridmap" restore "$newest" --force
DATABASE_URL=$drill "$gridmap" db status
DATABASE_URL=$drill "$gridmap" stats refresh --rebuild
echo "drill: ok"
