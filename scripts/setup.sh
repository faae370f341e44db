#!/usr/bin/env bash
# Install what gridmap needs, and only what is missing:
#   system packages (PostgreSQL + PostGIS, Python venv support, Node/npm; with --test also
#   Chromium and CJK fonts), the Python venv at .venv with the project in editable mode,
#   and the front-end assets from package-lock.json into webmap/static/vendor.
# A second run finds everything in place and takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
  echo "需要 root 或 sudo 来安装系统软件包：$*" >&2; exit 1; fi; }

apt_updated=0
apt_install() {
  [ $# -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    echo "缺少系统软件包 $*，且本机没有 apt-get：请手动安装。" >&2; exit 1
  fi
  if [ $apt_updated = 0 ]; then say "apt-get update"; as_root apt-get update -qq; apt_updated=1; fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_major() { ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sed -E 's#.*/postgresql/([0-9]+)/.*#\1#' | sort -n | tail -1; }

# --- system packages --------------------------------------------------------------------------
if [ "${GRIDMAP_SKIP_SYSTEM:-0}" != 1 ]; then
  [ -n "$(pg_major)" ] || apt_install postgresql
  major=$(pg_major)
  need=()
  [ -f "/usr/share/postgresql/$major/extension/postgis.control" ] || need+=("postgresql-$major-postgis-3")
  python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
  command -v npm >/dev/null || need+=(npm)
  if [ $want_test = 1 ]; then
    [ -x /usr/bin/chromium ] || need+=(chromium)
    command -v pgbouncer >/dev/null || need+=(pgbouncer)  # tests/test_pgbouncer.py, bench/load.py --pgbouncer
    { command -v fc-list >/dev/null && fc-list 2>/dev/null | grep -qi "wenquanyi"; } || need+=(fonts-wqy-microhei)
    # Debian's GDAL reads the XLSX exports back as QGIS does (tests/spreadsheets.py).
    command -v ogrinfo >/dev/null || need+=(gdal-bin)
  fi
  apt_install "${need[@]+"${need[@]}"}"
fi

# --- Python venv ------------------------------------------------------------------------------
extras=""; [ $want_test = 1 ] && extras="[dev]"
stamp=".venv/.gridmap-installed"
hash=$(sha256sum pyproject.toml | cut -c1-16)
have=$(cat "$stamp" 2>/dev/null || true)
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
# An install with the dev extras also serves a plain `make run`.
if [ "$have" != "$hash[dev]" ] && [ "$have" != "$hash$extras" ]; then
  say "pip install -e .$extras"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".$extras"
  echo "$hash$extras" > "$stamp"
fi

# --- Gi* kernels ------------------------------------------------------------------------------
# numba compiles esda's Gi* kernels into its disk cache once per install (≈ 25 s), here rather than
# in the first server, worker or test process that asks for a hotspot layer.
warm=".venv/.gridmap-gistar"
if [ "$(cat "$warm" 2>/dev/null)" != "$(cat "$stamp")" ]; then
  say "compiling the Gi* kernels (numba, once per install)"
  .venv/bin/python -c 'from geo.domain.getis_ord import warm_gistar; warm_gistar()'
  cat "$stamp" > "$warm"
fi

# --- front-end assets -------------------------------------------------------------------------
vendor=webmap/static/vendor
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat "$vendor/.lock" 2>/dev/null)" != "$lock_hash" ]; then
  say "npm ci (front-end assets from package-lock.json)"
  npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
  rm -rf "$vendor"
  mkdir -p "$vendor/leaflet" "$vendor/leaflet.markercluster" "$vendor/leaflet.heat" "$vendor/jquery" \
           "$vendor/swagger-ui" "$vendor/axe-core"
  cp -r node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css \
        node_modules/leaflet/dist/images "$vendor/leaflet/"
  cp node_modules/leaflet.markercluster/dist/leaflet.markercluster.js \
     node_modules/leaflet.markercluster/dist/MarkerCluster.css \
     node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css "$vendor/leaflet.markercluster/"
  cp node_modules/leaflet.heat/dist/leaflet-heat.js "$vendor/leaflet.heat/"
  cp node_modules/jquery/dist/jquery.min.js "$vendor/jquery/"
  cp node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/swagger-ui-bundle.js \
     node_modules/swagger-ui-dist/swagger-ui-standalone-preset.js "$vendor/swagger-ui/"
  # axe-core: the accessibility checks the browser tests run on every page (never loaded by a page).
  cp node_modules/axe-core/axe.min.js "$vendor/axe-core/"
  echo "$lock_hash" > "$vendor/.lock"
fi
say "ready"
