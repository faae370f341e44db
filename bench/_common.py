"""Shared helpers for the benchmarks in bench/: a throwaway PostGIS cluster, synthetic boundaries,
synthetic 12345 tickets, and running the ``gridmap`` CLI against a database.

Everything talks to 127.0.0.1 only. A cluster lives in a temp dir under /tmp, runs as the
``postgres`` user when we are root (initdb refuses root), and is stopped and deleted when the
``with`` block ends, on error, on Ctrl-C and on SIGTERM (unless ``keep=True``).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import platform
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from geo.domain.coordinates import wgs84_to_gcj02  # noqa: E402

GRIDMAP = ROOT / ".venv" / "bin" / "gridmap"
REFERENCE = ROOT / "data" / "reference"

#: The synthetic district: a box around lon 116.25–116.50, lat 39.85–40.00 (WGS84).
AREA = (116.25, 39.85, 116.50, 40.00)
DISTRICT_CODE = "110102"
LEVELS = ("district", "street", "community", "grid")

#: The 20 seed categories (data/reference/categories.csv): code → name.
CATEGORIES = {
    "0101": "暴露垃圾", "0102": "积存垃圾渣土", "0103": "道路不洁", "0104": "水域不洁", "0105": "绿地脏乱",
    "0106": "乱堆物堆料", "0201": "非法小广告", "0202": "违规户外广告", "0301": "施工扰民", "0302": "道路遗撒",
    "0401": "路面塌陷", "0402": "供水管道破裂", "0403": "燃气泄漏", "0501": "无照经营游商", "0502": "占道经营",
    "0503": "机动车乱停放", "0504": "非机动车乱停放", "0601": "供暖问题", "0602": "噪声扰民", "0699": "其他",
}


def log(message: str) -> None:
    print(message, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin")
    return found[-1].parent


# --- throwaway cluster --------------------------------------------------------------------------


_LIVE: list[Cluster] = []


def _on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the with-blocks, which stop the clusters


def _stop_all() -> None:
    for cluster in list(_LIVE):
        cluster.stop()


atexit.register(_stop_all)
signal.signal(signal.SIGTERM, _on_signal)


class Cluster:
    """initdb + pg_ctl start in a fresh temp dir; ``with Cluster() as pg: pg.url("db")``."""

    #: Throwaway settings from the brief; ``extra`` adds more ``-c name=value``.
    OPTIONS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")

    def __init__(self, name: str = "bench", *, extra: tuple[str, ...] = (), keep: bool = False) -> None:
        self.name, self.extra, self.keep = name, extra, keep
        self.bin = pg_bin()
        self.port = free_port()
        self.tmp: Path | None = None
        self.running = False

    @property
    def data(self) -> Path:
        assert self.tmp is not None
        return self.tmp / "pg"

    def _as_pg(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [*args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)

    def start(self) -> Cluster:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"gridmap-{self.name}-", dir="/tmp"))
        _LIVE.append(self)
        os.chmod(self.tmp, 0o755)
        self.data.mkdir(mode=0o700)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.data, pw.pw_uid, pw.pw_gid)
        self._as_pg(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                    "--locale=C.UTF-8")
        opts = " ".join(f"-c {o}" for o in (*self.OPTIONS, *self.extra))
        try:
            self._as_pg(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "server.log"), "-w",
                        "-t", "60", "-o", f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 {opts}",
                        "start")
        except subprocess.CalledProcessError:
            log((self.data / "server.log").read_text(errors="replace")[-2000:])
            raise
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            with contextlib.suppress(Exception):
                self._as_pg(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop", timeout=60)
            self.running = False
        if self.tmp is not None and not self.keep:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        if self in _LIVE and not self.running:
            _LIVE.remove(self)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.keep:
            log(f"--keep: cluster left running: {self.data} on port {self.port} "
                f"(stop: runuser -u postgres -- {self.bin}/pg_ctl -D {self.data} stop)")
            self.running = False
            return
        self.stop()

    def url(self, db: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def sqlalchemy_url(self, db: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{db}"

    def create_db(self, db: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{db}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(db)

    def query(self, db: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True) as conn:
            cur = conn.execute(sql, params)
            return cur.fetchall() if cur.description else []

    def versions(self) -> tuple[str, str]:
        row = self.query("postgres", "SELECT current_setting('server_version')")[0]
        return str(row[0]), ""


# --- gridmap CLI --------------------------------------------------------------------------------


def gridmap_env(url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_") and k != "DATABASE_URL"}
    env.update(DATABASE_URL=url, PYTHONUNBUFFERED="1", **extra)
    return env


def gridmap(url: str, *args: str, timeout: float = 300, quiet: bool = False) -> tuple[float, str]:
    """Run ``gridmap ARGS`` against ``url``; (wall seconds, stdout). Raises with stderr on failure."""
    started = time.perf_counter()
    proc = subprocess.run([str(GRIDMAP), *args], env=gridmap_env(url), capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"gridmap {' '.join(args)} failed ({proc.returncode}):\n"
                           f"{proc.stdout}\n{proc.stderr[-3000:]}")
    if not quiet:
        for line in proc.stdout.strip().splitlines():
            log(f"    {line}")
    return seconds, proc.stdout


def postgis_version(cluster: Cluster, db: str) -> str:
    return str(cluster.query(db, "SELECT postgis_full_version()")[0][0])


# --- synthetic boundaries -----------------------------------------------------------------------


@dataclass
class Boundaries:
    files: dict[str, Path]
    district: shapely.Geometry
    streets: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame


def _points_in(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """n uniform random points inside polygon (rejection sampling on its bbox)."""
    x0, y0, x1, y1 = polygon.bounds
    shapely.prepare(polygon)
    out: list[np.ndarray] = []
    have = 0
    while have < n:
        xs = rng.uniform(x0, x1, 4 * n + 16)
        ys = rng.uniform(y0, y1, 4 * n + 16)
        inside = shapely.contains_xy(polygon, xs, ys)
        pts = np.column_stack([xs[inside], ys[inside]])
        out.append(pts)
        have += len(pts)
    return np.concatenate(out)[:n]


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry | None:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty]
    if not parts:
        return None
    flat = [q for p in parts for q in shapely.get_parts(p)]
    return flat[0] if len(flat) == 1 else shapely.MultiPolygon(flat)


def voronoi_cells(parent: shapely.Geometry, k: int, rng: np.random.Generator) -> list[shapely.Geometry]:
    """k Voronoi cells of random seeds inside ``parent``, clipped to it (they partition it), west→east."""
    seeds = _points_in(parent, k, rng)
    x0, y0, x1, y1 = parent.bounds
    extent = shapely.box(x0, y0, x1, y1).buffer(max(x1 - x0, y1 - y0))
    cells = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=extent))
    clipped = [_polygonal(c) for c in shapely.intersection(cells, parent)]
    kept = [c for c in clipped if c is not None and c.area > 0]
    kept.sort(key=lambda g: (round(g.centroid.y, 3) * -1, g.centroid.x))
    return kept


def make_boundaries(outdir: Path, n_grids: int, seed: int = 20261128) -> Boundaries:
    """District ⊃ 10 streets ⊃ 100 communities ⊃ >= n_grids grids, as Voronoi cells clipped to the parent.

    Codes: street = district + 3 digits, community = street + 3, grid = community + 3.
    One GeoJSON (WGS84) per level with fields code, name, parent_code.
    """
    rng = np.random.default_rng(seed)
    per_community = max(1, -(-n_grids // 100))
    district = shapely.box(*AREA)
    rows: dict[str, list[dict[str, Any]]] = {level: [] for level in LEVELS}
    rows["district"].append({"code": DISTRICT_CODE, "name": "合成区", "parent_code": None, "geometry": district})
    for i, street in enumerate(voronoi_cells(district, 10, rng), start=1):
        s_code = f"{DISTRICT_CODE}{i:03d}"
        rows["street"].append({"code": s_code, "name": f"第{i}街道", "parent_code": DISTRICT_CODE, "geometry": street})
        for j, community in enumerate(voronoi_cells(street, 10, rng), start=1):
            c_code = f"{s_code}{j:03d}"
            rows["community"].append({"code": c_code, "name": f"第{i}街道第{j}社区", "parent_code": s_code,
                                      "geometry": community})
            for k, grid in enumerate(voronoi_cells(community, per_community, rng), start=1):
                rows["grid"].append({"code": f"{c_code}{k:03d}", "name": f"{c_code}-{k}号网格",
                                     "parent_code": c_code, "geometry": grid})
    files: dict[str, Path] = {}
    frames: dict[str, gpd.GeoDataFrame] = {}
    for level in LEVELS:
        frame = gpd.GeoDataFrame(rows[level], geometry="geometry", crs="EPSG:4326")
        path = outdir / f"{level}.geojson"
        frame.to_file(path, driver="GeoJSON", engine="pyogrio")
        files[level], frames[level] = path, frame
    return Boundaries(files=files, district=district, streets=frames["street"], grids=frames["grid"])


def load_boundaries(url: str, bounds: Boundaries) -> dict[str, float]:
    """``gridmap boundaries load`` per level, top down; seconds per level."""
    seconds = {}
    for level in LEVELS:
        args = ["boundaries", "load", str(bounds.files[level]), "--level", level, "--code-field", "code",
                "--name-field", "name"]
        if level != "district":
            args += ["--parent-field", "parent_code"]
        seconds[level], _ = gridmap(url, *args, timeout=300)
    return seconds


def write_reference(outdir: Path, bounds: Boundaries) -> list[Path]:
    """Departments (data/reference/departments.csv), 5 police units whose jurisdictions are pairs of
    streets (so the 辖区:GA rule of the duty list has polygons to match), and the sample duty list."""
    streets = bounds.streets.sort_values("code").reset_index(drop=True)
    units = []
    for u in range(5):
        pair = streets.geometry.iloc[2 * u:2 * u + 2]
        units.append({"code": f"GA-P{u + 1}", "name": f"第{u + 1}派出所", "parent_code": "GA",
                      "geometry": shapely.union_all(pair.values)})
    police = outdir / "police_units.geojson"
    gpd.GeoDataFrame(units, geometry="geometry", crs="EPSG:4326").to_file(police, driver="GeoJSON", engine="pyogrio")
    return [REFERENCE / "departments.csv", police, REFERENCE / "duties.csv"]


def load_reference(url: str, files: list[Path]) -> None:
    departments, police, duties = files
    gridmap(url, "departments", "load", str(departments))
    gridmap(url, "departments", "load", str(police))
    gridmap(url, "duties", "load", str(duties))


def prepare_database(cluster: Cluster, db: str, bounds: Boundaries, workdir: Path) -> dict[str, float]:
    """Create ``db``, migrate it, load the boundaries and the reference data; seconds per step."""
    url = cluster.create_db(db)
    timings: dict[str, float] = {}
    timings["db upgrade"], _ = gridmap(url, "db", "upgrade")
    for level, seconds in load_boundaries(url, bounds).items():
        timings[f"boundaries load {level}"] = seconds
    started = time.perf_counter()
    load_reference(url, write_reference(workdir, bounds))
    timings["departments + duties load"] = time.perf_counter() - started
    return timings


# --- synthetic tickets --------------------------------------------------------------------------


def random_points(n: int, rng: np.random.Generator, outside_share: float = 0.005) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 points: uniform inside AREA, and ``outside_share`` of them in a 0.05° ring around it."""
    x0, y0, x1, y1 = AREA
    lon = rng.uniform(x0, x1, n)
    lat = rng.uniform(y0, y1, n)
    n_out = round(n * outside_share)
    if n_out:
        idx = rng.choice(n, n_out, replace=False)
        margin = 0.05
        ox = rng.uniform(x0 - margin, x1 + margin, 4 * n_out)
        oy = rng.uniform(y0 - margin, y1 + margin, 4 * n_out)
        outside = ~((ox >= x0) & (ox <= x1) & (oy >= y0) & (oy <= y1))
        lon[idx], lat[idx] = ox[outside][:n_out], oy[outside][:n_out]
    return lon, lat


def make_tickets(path: Path, n: int, seed: int = 12345, outside_share: float = 0.005, *, days: int = 60,
                 piled_share: float = 0.0, addresses: int = 500, id_offset: int = 0) -> pd.DataFrame:
    """A UTF-8 12345 export: 工单编号,受理时间,问题分类,诉求内容,经度,纬度 (GCJ-02, 6 decimals).

    Times are within the last ``days`` days (Asia/Shanghai, "2026/10/01 09:30:00"); categories are
    the 20 seed codes, half written as codes and half as names. ``piled_share`` of the tickets
    sit within ≈ 10 m of one of ``addresses`` places (real exports pile up at addresses: a
    building site, a market), the rest are uniform. Ticket numbers are ``id_offset`` … ``id_offset
    + n - 1`` (after 26,000,000,000) in random order: a second file with the first one's ``n`` as
    offset adds new tickets. Returns the frame written.
    """
    rng = np.random.default_rng(seed)
    lon, lat = random_points(n, rng, outside_share)
    if piled_share > 0:
        x0, y0, x1, y1 = AREA
        spots = np.column_stack([rng.uniform(x0, x1, addresses), rng.uniform(y0, y1, addresses)])
        piled = rng.random(n) < piled_share
        pick = rng.integers(0, addresses, int(piled.sum()))
        lon[piled] = spots[pick, 0] + rng.normal(0, 1e-4, len(pick))
        lat[piled] = spots[pick, 1] + rng.normal(0, 1e-4, len(pick))
    glon, glat = wgs84_to_gcj02(lon, lat)
    now = datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)
    start = np.datetime64(now - timedelta(days=days)).astype("datetime64[s]")
    seconds = rng.integers(0, days * 86400 - 600, n)  # at least 10 minutes before now
    times = pd.Series(np.datetime_as_string(start + seconds.astype("timedelta64[s]"), unit="s"))
    times = times.str.replace("-", "/", regex=False).str.replace("T", " ", regex=False)
    codes = np.array(list(CATEGORIES))
    names = np.array([CATEGORIES[c] for c in codes])
    pick = rng.integers(0, len(codes), n)
    as_name = rng.random(n) < 0.5
    category = np.where(as_name, names[pick], codes[pick])
    places = np.array(["小区门口", "路口东侧", "公交站旁", "菜市场后身", "胡同里", "学校附近", "地铁站出口",
                       "商场北门", "公园南门", "楼下"])
    description = pd.Series(places[rng.integers(0, len(places), n)]) + pd.Series(names[pick]) + "，请尽快处理"
    ids = "GD" + pd.Series(rng.permutation(n) + 26_000_000_000 + id_offset, dtype="int64").astype(str)
    frame = pd.DataFrame({
        "工单编号": ids, "受理时间": times, "问题分类": category, "诉求内容": description,
        "经度": np.round(glon, 6), "纬度": np.round(glat, 6),
    })
    frame.to_csv(path, index=False, encoding="utf-8", float_format="%.6f")
    return frame


# --- machine ------------------------------------------------------------------------------------


def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """One statement on its own autocommit connection; the rows, if any."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def load_district_with_tickets(url: str, work: Path, *, grids: int, cases: int, seed: int,
                               results: dict[str, Any], timeout: float = 1800) -> bool:
    """Migrate, load the synthetic district and reference data and import ``cases`` GCJ-02 tickets
    by the real bulk path; False (nothing done) when the database already has cases."""
    if query(url, "SELECT to_regclass('cases') IS NOT NULL")[0][0] and query(
            url, "SELECT EXISTS (SELECT FROM cases)")[0][0]:
        log("[setup] the database already has cases: reusing it as it is (no migration)")
        return False
    gridmap(url, "db", "upgrade", quiet=True)
    t = time.perf_counter()
    bounds = make_boundaries(work, grids, seed=seed)
    load_boundaries(url, bounds)
    load_reference(url, write_reference(work, bounds))
    log(f"[setup] {len(bounds.grids)} grids, {len(bounds.streets)} streets loaded in {time.perf_counter() - t:.1f} s")
    csv_path = work / "tickets.csv"
    make_tickets(csv_path, cases, seed=seed, outside_share=0.0)
    seconds, out = gridmap(url, "cases", "import", str(csv_path), "--crs", "gcj02", "--source", "12345",
                           timeout=timeout, quiet=True)
    summary = next((line for line in out.splitlines() if line.startswith("读取")), out.strip())
    log(f"[setup] {cases:,} tickets imported in {seconds:.1f} s: {summary}")
    results["import_seconds"] = seconds
    query(url, "VACUUM ANALYZE")
    return True


class PgBouncer:
    """Debian's pgbouncer in transaction mode in front of ``url``'s cluster (``pool`` server
    connections per database), run as the ``postgres`` user when root; ``with PgBouncer(url) as
    pooled:`` gives the same database's URL through it."""

    def __init__(self, url: str, *, pool: int = 8) -> None:
        from sqlalchemy import make_url

        self.url, self.pool = make_url(url), pool
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="gridmap-pgbouncer-"))
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        exe = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
        (self.home / "userlist.txt").write_text(f'"{self.url.username}" ""\n')
        (self.home / "pgbouncer.ini").write_text(
            f"[databases]\n* = host={self.url.host} port={self.url.port}\n[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\nauth_type = trust\n"
            f"auth_file = {self.home}/userlist.txt\npool_mode = transaction\ndefault_pool_size = {self.pool}\n"
            f"max_client_conn = 500\nignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.home}/pgbouncer.log\npidfile = {self.home}/pgbouncer.pid\n")
        cmd = [exe, str(self.home / "pgbouncer.ini")]
        if os.geteuid() == 0:  # pgbouncer refuses root
            for f in (self.home, *self.home.iterdir()):
                shutil.chown(f, "postgres")
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        self.proc = subprocess.Popen(cmd, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", self.port)) != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"pgbouncer did not start: {self.home}/pgbouncer.log")
            time.sleep(0.05)
        log(f"[pgbouncer] {exe} transaction mode, {self.pool} server connections, on 127.0.0.1:{self.port}")
        return self.url.set(port=self.port).render_as_string(hide_password=False)

    def __exit__(self, *exc: object) -> None:
        pidfile = self.home / "pgbouncer.pid"
        if pidfile.exists():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pidfile.read_text()), signal.SIGINT)
        if self.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=10)
        shutil.rmtree(self.home, ignore_errors=True)


class Server:
    """``gridmap serve ARGS`` on 127.0.0.1 (a free port unless given) as a subprocess, ready when
    ``/readyz`` answers 200 (Gi* is compiled before it listens); SIGTERM, then SIGKILL, at the end."""

    def __init__(self, url: str, logfile: Path, *, serve_args: tuple[str, ...] = (), port: int | None = None,
                 env: dict[str, str] | None = None, ready_timeout: float = 180) -> None:
        self.url, self.logfile, self.serve_args = url, logfile, serve_args
        self.port = port or free_port()
        self.env = env or {}
        self.ready_timeout = ready_timeout
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        import http.client

        env = gridmap_env(self.url, GRIDMAP_SECRET_KEY="bench-not-secret", **self.env)
        with self.logfile.open("wb") as out:
            self.proc = subprocess.Popen(
                [str(GRIDMAP), "serve", "--host", "127.0.0.1", "--port", str(self.port), *self.serve_args],
                env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gridmap serve exited ({self.proc.returncode}):\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/readyz")
                resp = conn.getresponse()
                body = resp.read()
                conn.close()
                if resp.status == 200:
                    log(f"    /readyz: {body.decode()[:200]}")
                    return self
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"gridmap serve did not answer /readyz in {self.ready_timeout:.0f} s:\n{self.log_tail()}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_tail(self, n: int = 3000) -> str:
        return self.logfile.read_text(errors="replace")[-n:] if self.logfile.exists() else ""


def machine_line() -> str:
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (f"{os.cpu_count()} cores ({cpu or platform.processor()}), {mem_gb:.0f} GB RAM, "
            f"Python {platform.python_version()}, {platform.platform()}")


def git_state() -> str:
    """HEAD and whether the working tree has uncommitted changes (the code that was measured)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True,
                               timeout=10).stdout.strip().splitlines()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    dirty = [line for line in dirty if not line[3:].startswith("bench/")]
    return head + (f" + {len(dirty)} uncommitted paths outside bench/" if dirty else " (clean outside bench/)")


def load_average() -> str:
    """The 1/5/15-minute load average: the machine may be shared with other work."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def dump_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(payload, ensure_ascii=False, indent=2, default=str), encoding="utf-8")


def run_in_cluster(label: str, args: Any, results: dict[str, Any], run: Any, *, extra: tuple[str, ...] = ()) -> None:
    """Start a throwaway cluster and a scratch folder, call ``run(pg, work, args, results)``, clean up
    both (unless ``--keep``)."""
    import tempfile

    with Cluster(label, extra=extra, keep=args.keep) as pg:
        work = Path(tempfile.mkdtemp(prefix=f"gridmap-{label}-files-", dir="/tmp"))
        try:
            run(pg, work, args, results)
        finally:
            if args.keep:
                log(f"--keep: files left in {work}")
            else:
                shutil.rmtree(work, ignore_errors=True)
