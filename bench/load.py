"""Mixed closed-loop load on `gridmap serve --workers 2` (issue 7, proof "load"), 127.0.0.1 only.

    .venv/bin/python bench/load.py                        # ≈ 3 min: 10 k grids, 100 k cases, 8 clients, 60 s
    .venv/bin/python bench/load.py --clients 16 --duration 30 --requests 5000
    .venv/bin/python bench/load.py --mix 70/20/10 --workers 2 --json /tmp/load.json
    .venv/bin/python bench/load.py --grids 1000 --cases 10000 --duration 10     # quick check
    .venv/bin/python bench/load.py --pgbouncer             # the server through PgBouncer, transaction mode
    .venv/bin/python bench/load.py --cases 100000,1000000  # both sizes in one cluster; prints the ratio (goal 4)
    .venv/bin/python bench/load.py --baseline /work/wt-old # each size against an older tree, then this one

Set-up: a throwaway PostGIS cluster, the synthetic district of bench/_common.py (10 streets,
100 communities, 10 k Voronoi grids), departments, police units and the sample duty list, and
100 k synthetic 12345 tickets through `gridmap cases import` (all `received`). Users, made in
one transaction through geo.services.accounts, each with a bearer token: a planner (whole
city) who reads the map, 20 grid workers (one grid each) who report, a street leader per street
who dispatches, and one department staff per lead department who signs and responds.
Then `gridmap serve --workers N` (threads and pool from the settings), base tiles `none`.

Load: C clients (Python threads, one keep-alive connection each, `Accept-Encoding: gzip` like a
browser); each sends its next request when the previous one has answered (closed loop), until
``--requests`` requests in all or ``--duration`` seconds, whichever comes first. Each request
is drawn from the mix read/create/action (default 70/20/10):

- read: GET /api/cases/map at zoom 12, 14 or 16 over a random bbox of a 1280×800 screen at that
  zoom inside the district (2 of 3 reads), or the boundary layer of that zoom
  (/api/boundaries/{street|community|grid}.geojson with bbox and zoom; 1 of 3);
- create: POST /api/cases by a grid worker, a random point inside the worker's grid;
- action: the next step of a case pipeline, most advanced first: respond (staff of the lead
  department) on a signed case, else sign on a dispatched case, else dispatch (the street's
  leader) of a received imported case, so each of the three is about a third of the actions.

Printed: throughput, p50/p95/p99 and errors by route and overall, the achieved mix, the duration,
and the CPU seconds of the server processes, PostgreSQL and this client.

Several sizes (``--cases 100000,1000000``): after the run at the first size, tickets are imported
into the same database up to the next size (VACUUM ANALYZE after), a fresh server is started and
the load runs again; at the end, each size's throughput as a share of the first's (issue 14 goal
4: ≥ 90 % at 10^6 of 10^5, 0 errors). ``--baseline DIR``: at each size the load runs first on a
server started from the source tree DIR (a `git worktree` of the older commit, with the same
schema: PYTHONPATH=DIR), then on this tree's, so before and after are measured in one run on the
same data and the same machine state.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import itertools
import json
import os
import random
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from _common import Cluster, log

HZ = os.sysconf("SC_CLK_TCK")
SCREEN = (1280, 800)  # pixels of the map view whose bbox a read asks for
BOUNDARY_LEVEL = {12: "street", 14: "community", 16: "grid"}
N_WORKERS = 20
PASSWORD = "load-bench-not-secret"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=_sizes, default=[100_000],
                        help="12345 tickets imported before the run; several (100000,1000000): one run at each")
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8, help="concurrent closed-loop clients")
    parser.add_argument("--requests", type=int, default=20_000, help="stop after this many requests …")
    parser.add_argument("--duration", type=float, default=60.0, help="… or after this many seconds")
    parser.add_argument("--mix", default="70/20/10", help="read/create/action shares")
    parser.add_argument("--workers", type=int, default=2, help="gridmap serve --workers")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--database-url", help="use this database (loaded here unless it already has cases)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster and files for debugging")
    parser.add_argument("--pgbouncer", action="store_true",
                        help="serve through Debian's pgbouncer in transaction mode (GRIDMAP_DB_TRANSACTION_POOLER=1)")
    parser.add_argument("--no-jobs", dest="jobs", action="store_false",
                        help="gridmap serve --no-jobs: no background job worker beside the server")
    parser.add_argument("--baseline", type=Path,
                        help="a source tree (git worktree) whose server runs first at each size, for before/after")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    shares = [float(x) for x in args.mix.split("/")]
    if len(shares) != 3 or min(shares) < 0 or sum(shares) <= 0:
        parser.error("--mix takes three non-negative shares: read/create/action, e.g. 70/20/10")
    args.shares = [s / sum(shares) for s in shares]

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": common.machine_line(), "code": common.git_state(), "args": {
        k: v for k, v in vars(args).items() if k not in ("json", "database_url")}}
    log(f"machine: {results['machine']}; load average {common.load_average()}")
    log(f"code: {results['code']}")
    log("server, PostgreSQL and the load client share these cores; only 127.0.0.1 is used.")
    if args.database_url:
        import tempfile

        work = Path(tempfile.mkdtemp(prefix="gridmap-load-files-", dir="/tmp"))
        run_against(args.database_url, None, work, args, results)
    else:
        common.run_in_cluster("load", args, results, run)
    results["total_seconds"] = time.perf_counter() - started
    log(f"\nwhole benchmark: {results['total_seconds']:.0f} s; load average now {common.load_average()}")
    common.dump_json(args.json, results)
    return 0


def _sizes(text: str) -> list[int]:
    sizes = [int(x.replace("_", "")) for x in text.split(",") if x.strip()]
    if not sizes or sizes != sorted(sizes) or sizes[0] < 1:
        raise argparse.ArgumentTypeError("one size or increasing sizes: 100000,1000000")
    return sizes


def run(pg: Cluster, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    log(f"PostgreSQL {pg.versions()[0]} on 127.0.0.1:{pg.port} ({pg.data})")
    pg.create_db("load")
    run_against(pg.url("load"), pg, work, args, results)


# --- set-up -----------------------------------------------------------------------------------------


@dataclass
class Cast:
    """Who sends what: tokens per role and the cases each leader may dispatch."""

    planner: str
    workers: list[tuple[str, list[tuple[float, float]]]]  # token, points inside the worker's grid (WGS84)
    leaders: dict[str, str]  # street code → token
    staff: dict[str, str]  # department code → token
    received: deque[tuple[str, str, str]]  # (case_no, street, lead department), shuffled


def make_cast(url: str, seed: int) -> Cast:
    """Users and bearer tokens in one committed transaction, through the real account service."""
    from shapely import wkb
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.services import accounts
    from geo.store.db import normalize_url

    rng = np.random.default_rng(seed)
    run = f"{int(time.time()) % 100000}"
    grids = common.query(url, "SELECT code, ST_AsBinary(geom) FROM boundary b JOIN boundary_version v "
                         "ON v.id = b.version_id WHERE b.level = 'grid' AND v.valid_to IS NULL "
                         "ORDER BY random() LIMIT %s", (N_WORKERS,))
    streets = [r[0] for r in common.query(url, "SELECT DISTINCT street_code FROM cases WHERE street_code IS NOT NULL")]
    departments = [r[0] for r in common.query(
        url, "SELECT DISTINCT lead_department FROM cases WHERE lead_department IS NOT NULL")]
    rows = common.query(url, "SELECT case_no, street_code, lead_department FROM cases WHERE status = 'received' "
                       "AND lead_department IS NOT NULL AND street_code IS NOT NULL ORDER BY random() LIMIT 50000")
    engine = create_engine(normalize_url(url))
    with Session(engine) as session:
        def token(name: str, role: str, scope: str = "", department: str | None = None) -> str:
            username = f"load{run}_{name}"
            accounts.create_user(session, username, role=role, password=PASSWORD, scope=scope, department=department)
            return accounts.create_token(session, username, name="load")[1]

        planner = token("planner", "planner")
        workers = []
        for i, (code, geom) in enumerate(grids):
            polygon = wkb.loads(bytes(geom))
            points = common._points_in(polygon, 500, rng)
            workers.append((token(f"worker{i}", "grid_worker", code), [(float(x), float(y)) for x, y in points]))
        leaders = {code: token(f"leader{code}", "street_leader", code) for code in streets}
        staff = {code: token(f"staff{i}", "department_staff", department=code) for i, code in enumerate(departments)}
        session.commit()
    engine.dispose()
    log(f"[setup] users with tokens: 1 planner, {len(workers)} grid workers, {len(leaders)} street leaders, "
        f"{len(staff)} department staff; {len(rows):,} received cases to dispatch")
    return Cast(planner, workers, leaders, staff, deque((str(a), str(b), str(c)) for a, b, c in rows))


# --- server and CPU ---------------------------------------------------------------------------------


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / HZ  # utime + stime


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (gunicorn master and workers; postmaster and backends)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(parents.get(p, []))
    return out


def _is_job_worker(pid: int) -> bool:
    try:
        return b"main(['worker'])" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def cpu_seconds(server_pid: int, pg: Cluster | None) -> dict[str, float]:
    """CPU seconds so far: the web server (master and workers), the job worker `gridmap serve`
    started beside it, PostgreSQL (postmaster and backends) and this client."""
    t = os.times()
    tree = _tree(server_pid)
    jobs = [p for p in tree if _is_job_worker(p)]
    sample = {"server": sum(_cpu_of(p) for p in tree if p not in jobs), "jobs": sum(_cpu_of(p) for p in jobs),
              "client": t.user + t.system, "wall": time.perf_counter()}
    if pg is not None:
        pid_file = pg.data / "postmaster.pid"
        if pid_file.exists():
            sample["postgres"] = sum(_cpu_of(p) for p in _tree(int(pid_file.read_text().split()[0])))
    return sample


# --- the mix ----------------------------------------------------------------------------------------


@dataclass
class Request:
    route: str  # the label results are grouped by
    method: str
    path: str
    token: str
    body: bytes | None = None
    ok: tuple[int, ...] = (200,)
    on_success: Any = None  # called with nothing when the request got an ok status


class Mix:
    """Draws the next request of the configured mix; keeps the case pipeline for the actions."""

    def __init__(self, cast: Cast, shares: list[float], seed: int) -> None:
        self.cast, self.shares = cast, shares
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.to_sign: deque[tuple[str, str]] = deque()  # (case_no, lead department)
        self.to_respond: deque[tuple[str, str]] = deque()
        self.counter = itertools.count()
        self.run = f"{int(time.time())}"

    def next(self) -> Request:
        with self.lock:
            kind = self.rng.choices(("read", "create", "action"), self.shares)[0]
            return getattr(self, f"_{kind}")()

    def _bbox(self, zoom: int) -> str:
        x0, y0, x1, y1 = common.AREA
        width = SCREEN[0] * 360 / (256 * 2**zoom)
        height = SCREEN[1] * 360 / (256 * 2**zoom) * 0.77  # cos(40°): degrees of latitude are longer on screen
        width, height = min(width, x1 - x0), min(height, y1 - y0)
        lon = self.rng.uniform(x0, x1 - width)
        lat = self.rng.uniform(y0, y1 - height)
        return f"{lon:.5f},{lat:.5f},{lon + width:.5f},{lat + height:.5f}"

    def _read(self) -> Request:
        zoom = self.rng.choice((12, 14, 16))
        bbox = self._bbox(zoom)
        if self.rng.random() < 2 / 3:
            return Request(f"GET /api/cases/map z{zoom}", "GET", f"/api/cases/map?zoom={zoom}&bbox={bbox}",
                           self.cast.planner)
        level = BOUNDARY_LEVEL[zoom]
        return Request(f"GET /api/boundaries/{level}.geojson", "GET",
                       f"/api/boundaries/{level}.geojson?zoom={zoom}&bbox={bbox}", self.cast.planner)

    def _create(self) -> Request:
        token, points = self.rng.choice(self.cast.workers)
        lon, lat = self.rng.choice(points)
        category = self.rng.choice(list(common.CATEGORIES))
        i = next(self.counter)
        body = json.dumps({"lon": lon, "lat": lat, "crs": "wgs84", "category": category,
                           "description": f"压测：{common.CATEGORIES[category]} #{i}", "source": "grid_worker",
                           "external_id": f"load-{self.run}-{i}"}, ensure_ascii=False).encode()
        return Request("POST /api/cases", "POST", "/api/cases", token, body, ok=(201,))

    def _action(self) -> Request:
        if self.to_respond:
            case_no, department = self.to_respond.popleft()
            return self._step("respond", case_no, self.cast.staff[department], None)
        if self.to_sign:
            case_no, department = self.to_sign.popleft()
            return self._step("sign", case_no, self.cast.staff[department],
                              lambda: self._push(self.to_respond, (case_no, department)))
        case_no, street, department = self.cast.received.popleft()
        return self._step("dispatch", case_no, self.cast.leaders[street],
                          lambda: self._push(self.to_sign, (case_no, department)))

    def _push(self, queue: deque[tuple[str, str]], item: tuple[str, str]) -> None:
        with self.lock:
            queue.append(item)

    @staticmethod
    def _step(action: str, case_no: str, token: str, then: Any) -> Request:
        return Request(f"POST /api/cases/{{id}}/actions {action}", "POST", f"/api/cases/{case_no}/actions", token,
                       json.dumps({"action": action}).encode(), on_success=then)


@dataclass
class Record:
    route: str
    start: float
    seconds: float
    status: int
    ok: bool
    wire_bytes: int


class Client:
    """One keep-alive connection; reconnects after an error."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def send(self, req: Request) -> tuple[int, int]:
        headers = {"Authorization": f"Bearer {req.token}", "Accept-Encoding": "gzip"}
        if req.body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(req.method, req.path, req.body, headers)
            resp = self.conn.getresponse()
            data = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                self.conn.close()
            if resp.status >= 500:
                text = gzip.decompress(data) if resp.getheader("Content-Encoding") == "gzip" else data
                log(f"    {resp.status} on {req.method} {req.path}: {text[:200]!r}")
            return resp.status, len(data)
        except (OSError, http.client.HTTPException) as exc:
            log(f"    connection error on {req.method} {req.path}: {exc!r}")
            self.conn.close()
            return -1, 0

    def close(self) -> None:
        self.conn.close()


def closed_loop(port: int, mix: Mix, *, clients: int, requests: int, duration: float) -> tuple[list[Record], float]:
    records: list[Record] = []
    lock = threading.Lock()
    budget = itertools.count()
    start = time.perf_counter()
    stop_at = start + duration

    def worker() -> None:
        client = Client(port)
        while time.perf_counter() < stop_at and next(budget) < requests:
            req = mix.next()
            sent = time.perf_counter()
            status, size = client.send(req)
            done = time.perf_counter()
            ok = status in req.ok
            if ok and req.on_success is not None:
                req.on_success()
            with lock:
                records.append(Record(req.route, sent - start, done - sent, status, ok, size))
        client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=duration + 60)
    return records, time.perf_counter() - start


def warm_up(port: int, mix: Mix) -> None:
    """Each kind of request a few times (connections, plans, caches); not measured."""
    client = Client(port)
    for kind in ("read", "read", "read", "read", "read", "read", "create", "create", "action", "action", "action"):
        with mix.lock:
            req = getattr(mix, f"_{kind}")()
        status, _ = client.send(req)
        if status in req.ok and req.on_success is not None:
            req.on_success()
    client.close()


# --- report -----------------------------------------------------------------------------------------


def _pct(values: list[float]) -> tuple[float, float, float]:
    if not values:
        return (float("nan"),) * 3  # type: ignore[return-value]
    p50, p95, p99 = np.percentile(np.array(values) * 1000, [50, 95, 99])
    return float(p50), float(p95), float(p99)


def summarize(records: list[Record], seconds: float) -> list[dict[str, Any]]:
    routes = sorted({r.route for r in records}, key=lambda r: (not r.startswith("GET"), r))
    rows = []
    for route in [*routes, "all"]:
        mine = [r for r in records if route in ("all", r.route)]
        errors: dict[int, int] = {}
        for r in mine:
            if not r.ok:
                errors[r.status] = errors.get(r.status, 0) + 1
        p50, p95, p99 = _pct([r.seconds for r in mine])
        rows.append({"route": route, "requests": len(mine), "share": len(mine) / max(len(records), 1),
                     "per_s": len(mine) / seconds, "p50_ms": p50, "p95_ms": p95, "p99_ms": p99,
                     "errors": sum(errors.values()), "error_statuses": errors,
                     "kb_per_request": sum(r.wire_bytes for r in mine) / max(len(mine), 1) / 1024})
    return rows


def report(rows: list[dict[str, Any]], seconds: float, cpu: dict[str, float], args: argparse.Namespace) -> None:
    log(f"\n[load] {args.clients} clients, closed loop, {seconds:.1f} s, mix read/create/action "
        f"{args.mix}, gridmap serve --workers {args.workers}")
    log(f"    {'route':<42} {'n':>6} {'share':>6} {'req/s':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'KB':>6}  errors")
    for r in rows:
        errors = f"{r['errors']} {r['error_statuses']}" if r["errors"] else "0"
        log(f"    {r['route']:<42} {r['requests']:>6} {100 * r['share']:>5.1f}% {r['per_s']:>7.1f} "
            f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['kb_per_request']:>6.1f}  {errors}")
    wall = cpu["wall"]
    cores = os.cpu_count() or 1
    used = cpu["server"] + cpu.get("jobs", 0.0) + cpu.get("postgres", 0.0) + cpu["client"]
    log(f"    CPU seconds over {wall:.1f} s ({cores} cores = {cores * wall:.0f} CPU-s): server {cpu['server']:.1f}, "
        f"job worker {cpu.get('jobs', 0.0):.1f}, postgres {cpu.get('postgres', float('nan')):.1f}, "
        f"load client {cpu['client']:.1f} "
        f"→ {100 * used / (cores * wall):.0f} % of the machine")


def run_against(url: str, pg: Cluster | None, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    common.load_district_with_tickets(url, work, grids=args.grids, cases=args.cases[0], seed=args.seed,
                                      results=results)
    cast = make_cast(url, args.seed)
    trees = [("baseline", args.baseline.resolve()), ("this tree", None)] if args.baseline else [("this tree", None)]
    results["sizes"] = []
    for size in args.cases:
        top_up(url, work, size, args.seed)
        catch_up_jobs(url)
        cases = common.query(url, "SELECT count(*) FROM cases")[0][0]
        for label, tree in trees:
            log(f"\n=== {cases:,} cases, {label}{f' ({tree})' if tree else ''} ===")
            run_once(url, pg, work, args, cast, tree, results["sizes"], label=label, size=size)
    summary(results["sizes"], args)


def top_up(url: str, work: Path, size: int, seed: int) -> None:
    """Import tickets until the table holds ``size`` imported ones (new ticket numbers), then analyze."""
    have = common.query(url, "SELECT count(*) FROM cases WHERE source = '12345'")[0][0]
    if have >= size:
        return
    csv_path = work / f"tickets-{size}.csv"
    common.make_tickets(csv_path, size - have, seed=seed + have, outside_share=0.0, id_offset=have)
    seconds, _out = common.gridmap(url, "cases", "import", str(csv_path), "--crs", "gcj02", "--source", "12345",
                                  timeout=7200, quiet=True)
    csv_path.unlink()
    common.query(url, "VACUUM ANALYZE")
    log(f"[setup] {size - have:,} more tickets imported in {seconds:.1f} s (then VACUUM ANALYZE)")


def catch_up_jobs(url: str) -> None:
    """Run the background jobs once before measuring: the first overdue scan after an import
    writes a notice for every overdue imported case (and the outbox routes them), work the first
    server's job worker would otherwise do inside the measured minute and the next one not."""
    for job in ("stats_fold", "overdue_scan", "outbox_deliver"):
        seconds, out = common.gridmap(url, "jobs", "run", job, timeout=3600, quiet=True)
        log(f"[setup] gridmap jobs run {job}: {seconds:.1f} s, {out.strip()[-120:]}")


def run_once(url: str, pg: Cluster | None, work: Path, args: argparse.Namespace, cast: Cast, tree: Path | None,
             out: list[dict[str, Any]], *, label: str, size: int) -> None:
    results: dict[str, Any] = {"label": label, "size": size, "tree": str(tree) if tree else None,
                               "load_average_start": common.load_average()}
    results["cases_before"] = common.query(url, "SELECT count(*) FROM cases")[0][0]
    mix = Mix(cast, args.shares, args.seed + len(out))
    with contextlib.ExitStack() as stack:
        serve_url, env = url, {"GRIDMAP_BASEMAP": "none"}
        if tree is not None:
            env["PYTHONPATH"] = str(tree)  # gridmap serve (and its job worker) import webmap and geo from there
        if args.pgbouncer:
            serve_url = stack.enter_context(common.PgBouncer(url))
            env.update(GRIDMAP_DB_TRANSACTION_POOLER="1", GRIDMAP_DIRECT_DATABASE_URL=url)  # jobs: direct
        server = stack.enter_context(common.Server(serve_url, work / "serve.log",
                                                   serve_args=("--workers", str(args.workers),
                                                               *(() if args.jobs else ("--no-jobs",))), env=env))
        assert server.proc is not None
        log(f"[serve] gridmap serve --workers {args.workers} on 127.0.0.1:{server.port} (pid {server.proc.pid})")
        warm_up(server.port, mix)
        before = cpu_seconds(server.proc.pid, pg)
        records, seconds = closed_loop(server.port, mix, clients=args.clients, requests=args.requests,
                                       duration=args.duration)
        after = cpu_seconds(server.proc.pid, pg)
        tail = server.log_tail(2000)
    cpu = {k: after[k] - before[k] for k in after if k in before}
    rows = summarize(records, seconds)
    report(rows, seconds, cpu, args)
    if any(r["errors"] for r in rows) and "Traceback" in tail:
        log(f"    server log tail:\n{tail}")
    results.update(seconds=seconds, routes=rows, cpu_seconds=cpu, load_average_end=common.load_average(),
                   cases_after=common.query(url, "SELECT count(*) FROM cases")[0][0])
    log(f"    cases in the table: {results['cases_before']:,} before, {results['cases_after']:,} after; "
        f"load average {results['load_average_start']} → {results['load_average_end']}")
    out.append(results)


def summary(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """One line per run; with several sizes, each size's throughput against the first size's."""
    if len(runs) < 2:
        return
    log("\n[summary] requests/s over all routes (errors)")
    first = {r["label"]: r for r in runs if r["size"] == args.cases[0]}
    for r in runs:
        total = next(x for x in r["routes"] if x["route"] == "all")
        base = next(x for x in first[r["label"]]["routes"] if x["route"] == "all")
        ratio = total["per_s"] / base["per_s"] if base["per_s"] else float("nan")
        r["ratio_to_first_size"] = ratio
        log(f"    {r['cases_before']:>10,} cases  {r['label']:<10} {total['per_s']:7.1f} req/s  "
            f"p95 {total['p95_ms']:6.0f} ms  errors {total['errors']}  {100 * ratio:5.1f} % of {args.cases[0]:,}  "
            f"(load {r['load_average_start']})")


if __name__ == "__main__":
    raise SystemExit(main())
