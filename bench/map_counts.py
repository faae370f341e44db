"""Benchmark: the map's count and marker views with 1,000,000 open cases (issue 14 goal 3), old
scan against the counters (migration 0021_counters) in the same run, and what the counters' trigger
costs a bulk COPY.

Goals: street and community count views ≤ 50 ms server time, marker views ≤ 150 ms.

Set-up: a throwaway cluster (bench/_common.py), the synthetic district (1 district, 10 streets,
100 communities, ``--grids`` grids) and ``--cases`` synthetic 12345 tickets imported with
``gridmap cases import`` (all stay open). ``--database-url`` reuses a loaded database.

Server time is ``GET /api/cases/map`` through the app in this process (Flask's test client: the
handler, the service, the SQL, JSON and gzip; no socket), signed in as a planner (sees every
case), median of ``--repeats`` after one warm-up. "scan" is the same request with the counters
switched off in this process (``geo.store.case_counts.aggregates`` answering None, as it does
for filters it cannot serve). The COPY figure is a COPY of ``--copy-rows`` rows of ``cases``
(copies of existing rows with new numbers) in a transaction that is rolled back, with the
counters' insert trigger and ``ix_cases_next_due`` dropped (as before 0020) and in place,
alternating, best of ``--copy-runs``.

``--quick`` runs it all at test size (tests/test_map_counts_bench.py).
"""

from __future__ import annotations

import argparse
import gzip
import io
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from _common import Cluster, log

GOAL_COUNTS_MS = 50.0
GOAL_MARKERS_MS = 150.0
#: (label, zoom, kind of view); the bbox is a 1280×800 view at the district's centre, padded by a
#: quarter like the front end's (webmap/static/js/cases.js VIEW_PADDING).
VIEWS = (("zoom 12: street counts", 12, "counts"), ("zoom 13: community counts", 13, "counts"),
         ("zoom 15: markers", 15, "markers"), ("zoom 16: markers", 16, "markers"))
VIEWPORT = (1280, 800)
VIEW_PADDING = 0.25
#: Filters a reader picks (the map's filter form), on top of the plain view; all served by counters.
FILTERED = (("status received", "status=received"), ("category 0101", "category=0101"),
            ("overdue only", "overdue=true"), ("one street", "street=110102001"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261208)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--copy-rows", type=int, default=100_000)
    parser.add_argument("--copy-runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="test size: 3,000 cases, 200 grids, 2,000-row COPY")
    parser.add_argument("--database-url", help="use this database (loaded here unless it already has cases)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster and files for debugging")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.grids, args.repeats, args.copy_rows, args.copy_runs = 3_000, 200, 3, 2_000, 1
    results: dict[str, Any] = {"cases": args.cases, "machine": common.machine_line(), "code": common.git_state()}
    log(f"machine: {results['machine']}; load average {common.load_average()}")
    log(f"code: {results['code']}")
    started = time.perf_counter()
    if args.database_url:
        run_on(args.database_url, Path("/tmp"), args, results)
    else:
        common.run_in_cluster("counts", args, results, run)
    results["total_seconds"] = time.perf_counter() - started
    log(f"\nwhole benchmark: {results['total_seconds']:.0f} s; load average now {common.load_average()}")
    common.dump_json(args.json, results)
    return 0


def run(pg: Cluster, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    pg.create_db("counts")
    run_on(pg.url("counts"), work, args, results)


def run_on(url: str, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    common.load_district_with_tickets(url, work, grids=args.grids, cases=args.cases, seed=args.seed,
                                      results=results, timeout=3600)
    results["open_cases"] = common.query(url, "SELECT count(*) FROM cases WHERE status NOT IN ('closed', 'void')")[0][0]
    results["counter_rows"] = common.query(url, "SELECT count(*) FROM case_count")[0][0]
    log(f"[data] {results['open_cases']:,} open cases; {results['counter_rows']:,} counter rows")
    results["same_numbers"] = same_numbers(url)
    results["views"] = view_times(url, args)
    results["copy"] = copy_times(url, args.copy_rows, args.copy_runs)
    report(results)


# --- views --------------------------------------------------------------------------------------


def _bbox(url: str, zoom: int) -> str:
    import math

    (x0, y0, x1, y1), = common.query(url, "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                     "(SELECT ST_Extent(geom) AS e FROM boundary WHERE level = 'district') s")
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    degrees_per_px = 360 / (256 * 2 ** zoom)
    half_w = VIEWPORT[0] / 2 * degrees_per_px * (1 + 2 * VIEW_PADDING)
    half_h = VIEWPORT[1] / 2 * degrees_per_px * math.cos(math.radians(cy)) * (1 + 2 * VIEW_PADDING)
    return f"{cx - half_w:.5f},{cy - half_h:.5f},{cx + half_w:.5f},{cy + half_h:.5f}"


@contextmanager
def _app_client(url: str) -> Any:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.services.accounts import create_token, create_user
    from webmap import create_app

    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        name = f"bench-counts-{time.time_ns()}"
        create_user(session, name, role="planner", password="bench-password-x", scope="")
        token = create_token(session, name)[1]
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "GRIDMAP_SECRET_KEY": "bench", "GRIDMAP_BASEMAP": "none",
                      "GRIDMAP_LOG_LEVEL": "WARNING"})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    client.environ_base["HTTP_ACCEPT_ENCODING"] = "gzip"
    yield client


def _timed(client: Any, path: str, repeats: int) -> dict[str, Any]:
    times, body = [], b""
    for i in range(repeats + 1):
        t = time.perf_counter()
        resp = client.get(path)
        body = resp.get_data()
        elapsed = time.perf_counter() - t
        assert resp.status_code == 200, (path, resp.status_code, body[:300])
        if i:
            times.append(elapsed)
    decoded = gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body
    import json

    data = json.loads(decoded)
    return {"median_ms": 1000 * statistics.median(times), "max_ms": 1000 * max(times), "wire": len(body),
            "json": len(decoded), "features": len(data["features"]), "kind": data["kind"],
            "numbers": sorted((f["id"], f["properties"].get("cases"), f["properties"].get("overdue"))
                              for f in data["features"]) if data["kind"] != "points" else None}


def same_numbers(url: str) -> int:
    """The counters' answers equal the scan's for every count view of the run, each pair read in one
    transaction (one now(): deadlines pass between two requests, so their overdue counts may not).
    Raises when they differ; returns the views compared."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.domain.filters import CaseFilters
    from geo.store.case_map import map_aggregates

    filters = [CaseFilters(), CaseFilters(statuses=("received",)), CaseFilters(categories=("0101",)),
               CaseFilters(overdue=True), CaseFilters(overdue=False), CaseFilters(area="110102001")]
    engine = create_engine(url)
    compared = 0
    with Session(engine) as session:
        for level in ("street", "community"):
            for f in filters:
                counted = map_aggregates(session, f, level=level)
                if counted != map_aggregates(session, f, level=level, counters=False):
                    raise AssertionError(f"{level} {f}: the counters and the scan disagree")
                compared += 1
    engine.dispose()
    log(f"[check] counters = scan for {compared} count views (street and community × {len(filters)} filters)")
    return compared


def view_times(url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each view with the counters and with the scan, one after the other."""
    paths = [(label, kind, f"/api/cases/map?zoom={zoom}&bbox={_bbox(url, zoom)}") for label, zoom, kind in VIEWS]
    paths += [(f"zoom 12, {label}", "counts", f"/api/cases/map?zoom=12&bbox={_bbox(url, 12)}&{query}")
              for label, query in FILTERED]
    out = []
    with _app_client(url) as client:
        for label, kind, path in paths:
            counted = _timed(client, path, args.repeats)
            with mock.patch("geo.store.case_counts.aggregates", return_value=None):
                scanned = _timed(client, path, args.repeats)
            out.append({"label": label, "kind": kind, "counters": counted, "scan": scanned})
            log(f"  {label:<34} counters {counted['median_ms']:7.1f} ms, scan {scanned['median_ms']:7.1f} ms, "
                f"{counted['features']:,} features")
    return out


# --- COPY ---------------------------------------------------------------------------------------

_COPY_COLUMNS = ("case_no, source, external_id, category_code, urgency, reported_at, geom, orig_x, orig_y, orig_crs, "
                 "grid_code, community_code, street_code, district_code, boundary_version_id, routing_rule, "
                 "dispatch_due, respond_due, resolve_due, resolve_limit_hours")


def copy_times(url: str, rows: int, runs: int) -> dict[str, Any]:
    """A COPY of ``rows`` cases, without the counters (trigger and index dropped) and with them."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        buf = io.BytesIO()
        with conn.cursor().copy(
                f"COPY (SELECT 'B-' || case_no, 'bench-copy', 'B-' || coalesce(external_id, case_no), "
                f"{_COPY_COLUMNS.split(', ', 3)[3]} FROM cases ORDER BY id LIMIT {rows}) TO STDOUT") as copy:
            for chunk in copy:
                buf.write(chunk)
    data = buf.getvalue()
    times: dict[str, list[float]] = {"without": [], "with": []}
    for _ in range(runs):
        for variant in ("without", "with"):
            with psycopg.connect(url) as conn:
                if variant == "without":
                    conn.execute("ALTER TABLE cases DISABLE TRIGGER case_count_insert")
                    conn.execute("DROP INDEX ix_cases_next_due")
                t = time.perf_counter()
                with conn.cursor().copy(f"COPY cases ({_COPY_COLUMNS}) FROM STDIN") as copy:
                    copy.write(data)
                times[variant].append(time.perf_counter() - t)
                conn.rollback()
            log(f"  COPY {rows:,} rows {variant} counters: {times[variant][-1]:.2f} s")
    return {"rows": rows, "without_s": min(times["without"]), "with_s": min(times["with"]),
            "all": times}


def report(results: dict[str, Any]) -> None:
    log(f"\n== GET /api/cases/map, {results['open_cases']:,} open cases, in-process server time "
        "(median / max ms)")
    log(f"{'view':<36} {'features':>8} {'scan':>17} {'counters':>17} {'JSON':>10} {'gzip':>9}")
    ok_counts = ok_markers = True
    for v in results["views"]:
        c, s = v["counters"], v["scan"]
        log(f"{v['label']:<36} {c['features']:>8,} {s['median_ms']:>7.1f} / {s['max_ms']:>6.1f} "
            f"{c['median_ms']:>7.1f} / {c['max_ms']:>6.1f} {c['json'] / 1024:>7.1f} KB {c['wire'] / 1024:>6.1f} KB")
        if v["kind"] == "counts":
            ok_counts &= c["median_ms"] <= GOAL_COUNTS_MS
        else:
            ok_markers &= c["median_ms"] <= GOAL_MARKERS_MS
    cp = results["copy"]
    log(f"\nCOPY of {cp['rows']:,} rows into cases (best of {len(cp['all']['with'])}): without counters "
        f"{cp['without_s']:.2f} s, with {cp['with_s']:.2f} s ({100 * (cp['with_s'] / cp['without_s'] - 1):+.0f} %)")
    log(f"\n== goals: count views ≤ {GOAL_COUNTS_MS:.0f} ms: {'MET' if ok_counts else 'NOT MET'}; "
        f"marker views ≤ {GOAL_MARKERS_MS:.0f} ms: {'MET' if ok_markers else 'NOT MET'}")
    results.update(goal_counts_met=ok_counts, goal_markers_met=ok_markers)


if __name__ == "__main__":
    sys.exit(main())
