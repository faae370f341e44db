#!/usr/bin/env bash
# A project-local PostgreSQL + PostGIS cluster.
#   pg.sh start DIR PORT [DBNAME]   initdb on first use, start, create DBNAME (default gridmap)
#   pg.sh stop DIR                  stop it (no-op when not running)
#   pg.sh destroy DIR               stop it and delete its data (and the folder outside the clone)
#   pg.sh where DIR                 print the data directory DIR stands for
#   pg.sh secure DIR PORT [DBNAME]  start as `make run` needs it: no local account gets in
#
# `start` is for throwaway test clusters (trust, the superuser connects without a password).
# `secure` is for a cluster that keeps data (make run): scram-sha-256 for every connection, the
# socket inside the 0700 data directory, generated passwords in DIR.env (0600, next to DIR), and
# three roles: the superuser `postgres` (this script only: roles, database, CREATE EXTENSION),
# `gridmap` (not a superuser; owns the database, its schema and tables; runs migrations) and
# `gridmap_app` (not a superuser, owns nothing: the app's reads and writes, granted by
# `gridmap db upgrade`). DIR.env holds DATABASE_URL (gridmap_app) and GRIDMAP_MIGRATE_URL
# (gridmap). A cluster made by an earlier `start` is converted: password set, trust removed.
# As root the cluster runs as the `postgres` user (initdb refuses root). That user cannot enter a
# clone in a 0700 folder (root's home): then the data lives in $GRIDMAP_PG_HOME (default
# /var/lib/gridmap/<clone>-<hash>/pg) and DIR becomes a symlink to it, which stop, destroy and
# `make clean` follow. Extra server options (e.g. fsync=off for throwaway test clusters) come
# from PG_EXTRA_OPTS.
set -euo pipefail
cmd=${1:?usage: pg.sh start|secure|stop|destroy|where DIR [PORT] [DBNAME]}
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

# DIR.env: the generated passwords (made once, 0600) and the URLs for this port (rewritten each start).
new_secrets() {
  local file=$1
  [ -f "$file" ] && return
  (umask 077; {
    for name in PGSUPERPASSWORD GRIDMAP_OWNER_PASSWORD GRIDMAP_APP_PASSWORD; do
      printf '%s=%s\n' "$name" "$(tr -dc A-Za-z0-9 </dev/urandom | head -c 32)"
    done
  } > "$file")
}
secret() { sed -n "s/^$2=//p" "$1" | head -1; }

# A cluster an earlier version made with trust: give the superuser its password, then scram only.
close_trust() {
  local data=$1 port=$2 pass=$3
  as_pg grep -Eq '^[^#]*[[:space:]]trust([[:space:]]|$)' "$data/pg_hba.conf" || return 0
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtA -v ON_ERROR_STOP=1 -v "pw=$pass" \
    -f - >/dev/null <<<"ALTER ROLE postgres PASSWORD :'pw';"
  as_pg sed -i -E '/^[^#]/s/([[:space:]])trust([[:space:]]|$)/\1scram-sha-256\2/' "$data/pg_hba.conf"
  as_pg "$bin/pg_ctl" -D "$data" reload >/dev/null
  echo "[pg] 集群原来允许免密码连接（trust），已改为密码认证（scram-sha-256）" >&2
}

# The owner and app roles, the database's ownership, the extensions; idempotent. Objects an
# earlier version created as the superuser pass to the owner (extension members stay).
provision() {
  local file=$1 port=$2 db=$3
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qtA -v ON_ERROR_STOP=1 \
    -v "ownerpw=$(secret "$file" GRIDMAP_OWNER_PASSWORD)" -v "apppw=$(secret "$file" GRIDMAP_APP_PASSWORD)" \
    -v "db=$db" -f - >/dev/null <<'SQL'
SELECT 'CREATE ROLE gridmap' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridmap') \gexec
SELECT 'CREATE ROLE gridmap_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'gridmap_app') \gexec
ALTER ROLE gridmap WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'ownerpw';
ALTER ROLE gridmap_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :'apppw';
ALTER DATABASE :"db" OWNER TO gridmap;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE :"db" TO gridmap_app;
SQL
  "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d "$db" -qtA -v ON_ERROR_STOP=1 -f - >/dev/null <<'SQL'
CREATE EXTENSION IF NOT EXISTS postgis;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
ALTER SCHEMA public OWNER TO gridmap;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SELECT format('ALTER %s %s OWNER TO gridmap',
              CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
              c.oid::regclass)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'S') AND pg_get_userbyid(c.relowner) = 'postgres'
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
   AND NOT (c.relkind = 'S' AND EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                                          AND d.objid = c.oid AND d.deptype IN ('a', 'i'))) \gexec
SELECT format('ALTER FUNCTION %s OWNER TO gridmap', p.oid::regprocedure)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE n.nspname = 'public' AND pg_get_userbyid(p.proowner) = 'postgres'
   AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') \gexec
SQL
  local owner app
  owner=$(secret "$file" GRIDMAP_OWNER_PASSWORD); app=$(secret "$file" GRIDMAP_APP_PASSWORD)
  (umask 077; {
    grep -E '^(PGSUPERPASSWORD|GRIDMAP_OWNER_PASSWORD|GRIDMAP_APP_PASSWORD)=' "$file"
    printf 'DATABASE_URL=postgresql+psycopg://gridmap_app:%s@127.0.0.1:%s/%s\n' "$app" "$port" "$db"
    printf 'GRIDMAP_MIGRATE_URL=postgresql+psycopg://gridmap:%s@127.0.0.1:%s/%s\n' "$owner" "$port" "$db"
  } > "$file.new" && mv "$file.new" "$file")
}

case "$cmd" in
  start|secure)
    [ -n "$bin" ] || { echo "PostgreSQL 未安装：先运行 make setup" >&2; exit 1; }
    port=${3:?port}; dbname=${4:-gridmap}
    secrets="$dir.env"
    dir=$(resolve "$dir" --create)
    mkdir -p "$dir"
    is_root && chown postgres:postgres "$dir" && chmod 700 "$dir"
    if ! pg_can_enter "$dir"; then
      echo "postgres 用户无法进入 $dir：把它放在该用户可以进入的目录下，或设置 GRIDMAP_PG_HOME" >&2; exit 1
    fi
    auth=(-A trust)
    if [ "$cmd" = secure ]; then
      new_secrets "$secrets"
      superpass=$(secret "$secrets" PGSUPERPASSWORD)
      if [ ! -f "$dir/PG_VERSION" ]; then
        pwfile=$(mktemp); printf '%s\n' "$superpass" > "$pwfile"
        is_root && chown postgres "$pwfile"
        auth=(--auth-local=scram-sha-256 --auth-host=scram-sha-256 "--pwfile=$pwfile")
      fi
    fi
    if [ ! -f "$dir/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$dir" "${auth[@]}" -U postgres -E UTF8 --locale=C.UTF-8 >/dev/null
      rm -f "${pwfile:-}"
    fi
    if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 ${PG_EXTRA_OPTS:-}" start >/dev/null \
        || { tail -20 "$dir/server.log" >&2; exit 1; }
    fi
    if [ "$cmd" = secure ]; then
      close_trust "$dir" "$port" "$superpass"
      export PGPASSWORD=$superpass
    fi
    if ! "$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = '$dbname'" | grep -q 1; then
      "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres "$dbname"
    fi
    if [ "$cmd" = secure ]; then provision "$secrets" "$port" "$dbname"; fi
    ;;
  stop|destroy)
    data=$(resolve "$dir")
    if [ -n "$bin" ] && [ -f "$data/PG_VERSION" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null
    fi
    if [ "$cmd" = destroy ]; then
      rm -rf "$data" "$dir.env"
      if [ -L "$dir" ]; then rm -f "$dir"; rmdir "$(dirname "$data")" 2>/dev/null || true; fi
    fi
    ;;
  where) resolve "$dir" ;;
  *) echo "usage: pg.sh start|secure|stop|destroy|where DIR [PORT] [DBNAME]" >&2; exit 2 ;;
esac
