#!/usr/bin/env bash
# A project-local PostgreSQL + PostGIS cluster.
#   pg.sh start DIR PORT [DBNAME]   initdb on first use, start, create DBNAME (default gridmap)
#   pg.sh stop DIR                  stop it (no-op when not running)
# As root the cluster runs as the `postgres` user (initdb refuses root). Extra server options
# (e.g. fsync=off for throwaway test clusters) come from PG_EXTRA_OPTS.
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop DIR [PORT] [DBNAME]}
dir=${2:?data directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -n "$bin" ] || { echo "PostgreSQL 未安装：先运行 make setup" >&2; exit 1; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
  start)
    port=${3:?port}; dbname=${4:-gridmap}
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir" && chmod 700 "$dir"
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${PG_EXTRA_OPTS:-}" start >/dev/null \
        || { tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
      "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$dbname"
    fi
    ;;
  stop)
    if [ -f "$dir/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    fi
    ;;
  *) echo "usage: pg.sh start|stop DIR [PORT] [DBNAME]" >&2; exit 2 ;;
esac
