#!/usr/bin/env bash
# A project-local PostgreSQL + PostGIS cluster.
#   pg.sh start DIR PORT [DBNAME]   initdb on first use, start, create DBNAME (default gridmap)
#   pg.sh stop DIR                  stop it (no-op when not running)
#   pg.sh destroy DIR               stop it and delete its data (and the folder outside the clone)
#   pg.sh where DIR                 print the data directory DIR stands for
# As root the cluster runs as the `postgres` user (initdb refuses root). That user cannot enter a
# clone in a 0700 folder (root's home): then the data lives in $GRIDMAP_PG_HOME (default
# /var/lib/gridmap/<clone>-<hash>/pg) and DIR becomes a symlink to it, which stop, destroy and
# `make clean` follow. Extra server options (e.g. fsync=off for throwaway test clusters) come
# from PG_EXTRA_OPTS.
set -euo pipefail
cmd=${1:?usage: pg.sh start|stop|destroy|where DIR [PORT] [DBNAME]}
dir=${2:?data directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)

is_root() { [ "$(id -u)" = 0 ]; }
# The cluster's own commands run from / : postgres may not enter the caller's folder either.
as_pg() { if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }
pg_can_enter() { ! is_root || (cd / && runuser -u postgres -- test -x "$1") 2>/dev/null; }

# The absolute data directory DIR stands for; with --create, make it (outside the clone if the
# postgres user cannot reach DIR's folder) and hand it to that user.
resolve() {
  local want=$1 create=${2:-}
  if [ -L "$want" ]; then readlink -f "$want"; return; fi
  local parent=$(dirname "$want")
  [ -n "$create" ] && mkdir -p "$parent"
  [ -d "$parent" ] && parent=$(cd "$parent" && pwd -P)
  local target="$parent/$(basename "$want")"
  if [ -n "$create" ] && [ ! -e "$target" ] && ! pg_can_enter "$parent"; then
    local home=${GRIDMAP_PG_HOME:-/var/lib/gridmap}
    local tag; tag="$(basename "$(dirname "$parent")")-$(printf '%s' "$target" | sha256sum | cut -c1-8)"
    local outside="$home/$tag/pg"
    mkdir -p "$outside" && chmod 755 "$home" "$home/$tag"
    ln -sfn "$outside" "$want"
    echo "[pg] postgres 用户无法进入 $parent，集群数据放在 $outside（$want 指向它）" >&2
    target=$outside
  fi
  printf '%s\n' "$target"
}

case "$cmd" in
  start)
    [ -n "$bin" ] || { echo "PostgreSQL 未安装：先运行 make setup" >&2; exit 1; }
    port=${3:?port}; dbname=${4:-gridmap}
    dir=$(resolve "$dir" --create)
    mkdir -p "$dir"
    is_root && chown postgres:postgres "$dir" && chmod 700 "$dir"
    if ! pg_can_enter "$dir"; then
      echo "postgres 用户无法进入 $dir：把它放在该用户可以进入的目录下，或设置 GRIDMAP_PG_HOME" >&2; exit 1
    fi
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
  stop|destroy)
    data=$(resolve "$dir")
    if [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
    if [ "$cmd" = destroy ]; then
      rm -rf "$data"
      if [ -L "$dir" ]; then rm -f "$dir"; rmdir "$(dirname "$data")" 2>/dev/null || true; fi
    fi
    ;;
  where) resolve "$dir" ;;
  *) echo "usage: pg.sh start|stop|destroy|where DIR [PORT] [DBNAME]" >&2; exit 2 ;;
esac
