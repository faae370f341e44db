"""Bulk import of 12345 tickets: `gridmap cases import` vs the naive PostGIS path, in one run.

Issue goal: 1,000,000 GCJ-02 tickets against >= 10,000 grids, end to end (file → routed rows in
PostGIS) in <= 15 s and >= 3x faster than the naive path (geopandas ``to_postgis`` then
``UPDATE … SET grid_code … WHERE ST_Contains``).

    .venv/bin/python bench/bulk_import.py                       # full size: 1 M rows, 10 k grids
    .venv/bin/python bench/bulk_import.py --rows 20000 --grids 1000   # quick check
    .venv/bin/python bench/bulk_import.py --no-profile --keep   # skip the stage breakdown, keep the cluster

Steps: a throwaway PostGIS cluster; synthetic district ⊃ 10 streets ⊃ 100 communities ⊃ grids
(Voronoi cells clipped to their parent) loaded with ``gridmap boundaries load``; departments,
5 police-unit jurisdictions and the sample duty list; a UTF-8 CSV of GCJ-02 tickets. The base
database is copied (CREATE DATABASE … TEMPLATE) for each path so both see the same boundaries.

1. product: ``gridmap cases import FILE --crs gcj02 --source 12345`` as a subprocess, wall clock
   (process start, reading the file, validation, routing, COPY, commits).
2. naive: pandas read_csv → gcj02_to_wgs84 → GeoDataFrame → to_postgis → GiST index + ANALYZE →
   ``UPDATE … FROM boundary g JOIN boundary_version v … WHERE ST_Contains(g.geom, t.geometry)``.
3. agreement: grid codes of both paths for a random sample of 10,000 tickets (and for all rows).
4. profile (optional): the product's own stages timed in-process on a third copy of the database.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))


import _common as common
from _common import Cluster, log

GOAL_SECONDS = 15.0
GOAL_SPEEDUP = 3.0
SAMPLE = 10_000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--no-naive", action="store_true", help="skip the naive path (and the agreement check)")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process stage breakdown")
    parser.add_argument("--pg-opt", action="append", default=[], help="extra server option name=value (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster and files for debugging")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    started = time.perf_counter()
    results: dict[str, Any] = {"rows": args.rows, "machine": common.machine_line(), "code": common.git_state()}
    log(f"machine: {results['machine']}; load average {common.load_average()}")
    log(f"code: {results['code']}")
    log("the import, the naive path and PostgreSQL share these cores; only 127.0.0.1 is used.")
    common.run_in_cluster("bulk", args, results, run, extra=tuple(args.pg_opt))
    results["total_seconds"] = time.perf_counter() - started
    log(f"\nwhole benchmark: {results['total_seconds']:.0f} s; load average now {common.load_average()}")
    common.dump_json(args.json, results)
    return 0


def run(pg: Cluster, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    log(f"PostgreSQL {pg.versions()[0]} on 127.0.0.1:{pg.port} ({pg.data}), options "
        f"{', '.join((*Cluster.OPTIONS, *args.pg_opt))}")

    t = time.perf_counter()
    bounds = common.make_boundaries(work, args.grids, seed=args.seed)
    n_grids = len(bounds.grids)
    log(f"\n[setup] {n_grids} grids, {len(bounds.streets)} streets generated in {time.perf_counter() - t:.1f} s")
    setup = common.prepare_database(pg, "base", bounds, work)
    for step, seconds in setup.items():
        log(f"    {step:<28} {seconds:6.2f} s (wall, incl. CLI start)")
    results["postgis"] = common.postgis_version(pg, "base")
    log(f"    {results['postgis']}")
    results["grids"] = n_grids
    results["setup_seconds"] = setup

    t = time.perf_counter()
    csv_path = work / "tickets_12345.csv"
    tickets = common.make_tickets(csv_path, args.rows, seed=args.seed)
    wgs_lon, wgs_lat = common.random_points(args.rows, np.random.default_rng(args.seed))
    x0, y0, x1, y1 = common.AREA
    inside = int(((wgs_lon > x0) & (wgs_lon < x1) & (wgs_lat > y0) & (wgs_lat < y1)).sum())
    size_mb = csv_path.stat().st_size / 2**20
    log(f"[setup] {args.rows} tickets written ({size_mb:.0f} MB, {inside} inside the area) "
        f"in {time.perf_counter() - t:.1f} s")
    results["csv_mb"] = round(size_mb, 1)

    for db in ("product", "naive", "profile"):
        pg.create_db(db, template="base")

    # 1. the product ----------------------------------------------------------------------------
    pg.query("postgres", "CHECKPOINT")
    log("\n[product] gridmap cases import FILE --crs gcj02 --source 12345")
    product_s, out = common.gridmap(pg.url("product"), "cases", "import", str(csv_path), "--crs", "gcj02",
                                    "--source", "12345", timeout=900, quiet=True)
    summary = out.strip().splitlines()[-1]
    fold_s = next((float(line.rsplit("用时", 1)[1].split("秒")[0]) for line in out.splitlines()
                   if line.startswith("统计已更新")), 0.0)
    stored = pg.query("product", "SELECT count(*), count(DISTINCT grid_code), count(lead_department) "
                                 "FROM cases WHERE source = '12345'")[0]
    log(f"    {summary}")
    log(f"    of which the statistics fold at the end {fold_s:.2f} s (the import alone "
        f"{product_s - fold_s:.2f} s)")
    log(f"    wall clock {product_s:.2f} s; cases stored {stored[0]} (expected ≈ {inside}), "
        f"{stored[1]} distinct grids, {stored[2]} with a lead department")
    results.update(product_seconds=product_s, product_summary=summary, product_rows=stored[0], fold_seconds=fold_s)
    if stored[0] == 0 or abs(stored[0] - inside) > max(10, args.rows // 10_000):
        log(f"    !! stored count {stored[0]} is far from the {inside} points inside the area")

    # 2. the naive path -------------------------------------------------------------------------
    if not args.no_naive:
        pg.query("postgres", "CHECKPOINT")
        log("\n[naive] read_csv → gcj02_to_wgs84 → to_postgis → GiST + ANALYZE → UPDATE … ST_Contains")
        naive = naive_path(pg, csv_path)
        for step, seconds in naive["steps"].items():
            log(f"    {step:<34} {seconds:6.2f} s")
        log(f"    total {naive['seconds']:.2f} s; {naive['routed']} rows got a grid code")
        results.update(naive_seconds=naive["seconds"], naive_steps=naive["steps"], naive_routed=naive["routed"])
        results["agreement"] = agreement(pg, tickets, args.seed)

    # 3. where the product's time goes ----------------------------------------------------------
    if not args.no_profile:
        pg.query("postgres", "CHECKPOINT")
        log("\n[profile] the product's stages, in-process, on a third copy of the database")
        profile = profile_import(pg.sqlalchemy_url("profile"), csv_path)
        total = profile["seconds"]
        for stage, seconds in profile["stages"].items():
            log(f"    {stage:<52} {seconds:6.2f} s  {100 * seconds / total:4.0f} %")
        log(f"    {'sum':<52} {total:6.2f} s   (imported {profile['imported']}; the CLI run above took "
            f"{product_s:.1f} s wall, of which ≈1.3 s is process start and imports)")
        results["profile"] = profile

    # summary ------------------------------------------------------------------------------------
    log("\n== bulk import: results")
    log(f"rows {args.rows:,}   grids {n_grids:,}   csv {size_mb:.0f} MB")
    log(f"product  gridmap cases import     {product_s:7.2f} s   ({args.rows / product_s:,.0f} rows/s; "
        f"{product_s - fold_s:.2f} s without the statistics fold)")
    ok_time = product_s <= GOAL_SECONDS
    if not args.no_naive:
        speedup = results["naive_seconds"] / product_s
        ok_speed = speedup >= GOAL_SPEEDUP
        log(f"naive    to_postgis + UPDATE      {results['naive_seconds']:7.2f} s")
        log(f"speed-up {speedup:.1f}x")
        a = results["agreement"]
        log(f"agreement on a random sample of {a['sample']:,}: {a['sample_agree']:,} agree, "
            f"{a['sample_differ']} differ ({a['sample_differ_on_edge']} of them on a shared edge); "
            f"all rows: {a['all_agree']:,} agree, {a['all_differ']} differ "
            f"({a['all_differ_on_edge']} on a shared edge)")
        results["speedup"] = speedup
    log(f"goal ≤ {GOAL_SECONDS:.0f} s: {'MET' if ok_time else 'NOT MET'} ({product_s:.2f} s)")
    if not args.no_naive:
        log(f"goal ≥ {GOAL_SPEEDUP:.0f}x naive: {'MET' if ok_speed else 'NOT MET'} ({speedup:.1f}x)")
    if args.rows != 1_000_000 or n_grids < 10_000:
        log("(not the issue's size: the goals are stated for 1,000,000 rows and >= 10,000 grids)")


def naive_path(pg: Cluster, csv_path: Path) -> dict[str, Any]:
    """The straightforward geopandas + PostGIS way, timed end to end."""
    import geopandas as gpd
    from sqlalchemy import create_engine, text

    from geo.domain.coordinates import gcj02_to_wgs84

    steps: dict[str, float] = {}
    engine = create_engine(pg.sqlalchemy_url("naive"))
    started = t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        steps[name] = now - t
        t = now

    frame = pd.read_csv(csv_path, dtype={"工单编号": str, "问题分类": str})
    lap("pandas read_csv")
    lon, lat = gcj02_to_wgs84(frame["经度"].to_numpy(), frame["纬度"].to_numpy())
    lap("gcj02_to_wgs84")
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    gdf["grid_code"] = None
    lap("GeoDataFrame")
    gdf.to_postgis("tickets", engine, if_exists="replace", index=False)
    lap("to_postgis")
    with engine.begin() as conn:
        conn.execute(text("SET statement_timeout = '600s'"))
        conn.execute(text("CREATE INDEX tickets_geom ON tickets USING gist (geometry)"))
        conn.execute(text("ANALYZE tickets"))
        lap("CREATE INDEX gist + ANALYZE")
        routed = conn.execute(text("""
            UPDATE tickets t SET grid_code = g.code
            FROM boundary g JOIN boundary_version v ON v.id = g.version_id AND v.valid_to IS NULL
            WHERE g.level = 'grid' AND ST_Contains(g.geom, t.geometry)""")).rowcount
    lap("UPDATE … ST_Contains (+ commit)")
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "steps": steps, "routed": routed}


def agreement(pg: Cluster, tickets: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Grid code per ticket from both paths (by external id); differences must lie on shared edges."""
    product = dict(pg.query("product", "SELECT external_id, grid_code FROM cases WHERE source = '12345'"))
    naive = dict(pg.query("naive", 'SELECT "工单编号", grid_code FROM tickets'))
    ids = tickets["工单编号"].to_numpy()
    a = np.array([product.get(i) for i in ids], dtype=object)
    b = np.array([naive.get(i) for i in ids], dtype=object)
    differ = a != b
    rng = np.random.default_rng(seed + 1)
    sample = rng.choice(len(ids), min(SAMPLE, len(ids)), replace=False)
    on_edge = _on_edge(pg, ids[differ].tolist())
    sample_differ_ids = set(ids[sample][differ[sample]].tolist())
    result = {
        "sample": len(sample), "sample_agree": int((~differ[sample]).sum()), "sample_differ": int(differ[sample].sum()),
        "sample_differ_on_edge": len(sample_differ_ids & on_edge),
        "all_agree": int((~differ).sum()), "all_differ": int(differ.sum()), "all_differ_on_edge": len(on_edge),
        "examples": [(i, p, n) for i, p, n in zip(ids[differ][:5], a[differ][:5], b[differ][:5], strict=True)],
    }
    log(f"\n[agreement] sample of {result['sample']:,}: {result['sample_agree']:,} agree, "
        f"{result['sample_differ']} differ; all rows: {result['all_agree']:,} agree, {result['all_differ']} differ, "
        f"of which {result['all_differ_on_edge']} lie on a grid edge (within 1e-9°)")
    for i, p, n in result["examples"]:
        log(f"    e.g. {i}: product {p}, naive {n}")
    return result


def _on_edge(pg: Cluster, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    rows = pg.query("naive", """
        SELECT DISTINCT t."工单编号" FROM tickets t
        JOIN boundary g ON g.level = 'grid' AND ST_DWithin(ST_Boundary(g.geom), t.geometry, 1e-9)
        JOIN boundary_version v ON v.id = g.version_id AND v.valid_to IS NULL
        WHERE t."工单编号" = ANY(%s)""", (ids,))
    return {r[0] for r in rows}


def profile_import(url: str, csv_path: Path) -> dict[str, Any]:
    """The stages of ``gridmap cases import``, timed in-process while the product's own
    ``prepare_import`` and ``import_batch`` run exactly as ``webmap.cli.cases.run_import`` calls them (one
    transaction to prepare, then one per batch of GRIDMAP_IMPORT_BATCH rows). The functions they
    call are wrapped with timers in this process only; nothing in the product is changed."""
    from sqlalchemy.orm import Session

    from geo.domain.placement import PlacementIndex
    from geo.services import imports as svc
    from geo.store import case_copy
    from geo.store import cases as case_store
    from geo.store.db import make_engine

    stages: dict[str, float] = {}

    def add(name: str, seconds: float) -> None:
        stages[name] = stages.get(name, 0.0) + seconds

    def timer(module: Any, attr: str, label: str) -> None:
        original = getattr(module, attr)

        def wrapped(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            try:
                return original(*a, **kw)
            finally:
                add(label, time.perf_counter() - t)

        setattr(module, attr, wrapped)
        restore.append((module, attr, original))

    restore: list[tuple[Any, str, Any]] = []
    for module, attr, label in (
        (svc, "read_table", "read_table (pandas read_csv, all text)"),
        (svc, "routing_context", "routing context from PostGIS (+STRtree)"),
        (svc, "validate_rows", "validate_rows (ids, coords, categories, times)"),
        (case_store, "existing_tickets", "existing tickets (ANY)"),
        (svc, "to_wgs84", "GCJ-02 → WGS84 (vectorised)"),
        (PlacementIndex, "grid_codes", "STRtree point-in-grid join"),
        (svc, "place_and_route", "routing (place_and_route: jurisdictions, duty list)"),
        (svc, "_deadlines", "deadlines (_deadlines)"),
        (case_copy, "copy_cases", "copy_cases"),
        (case_copy, "_reserve_numbers", "  case numbers (case_counter + case_numbers)"),
        (case_copy, "_reserve_ids", "  ids (nextval × n)"),
        (case_copy, "_reserve_block", "  ids (one setval, bulk)"),
        (case_copy, "_drop_indexes", "indexes and foreign keys dropped (bulk)"),
        (case_copy, "_rebuild_indexes", "indexes and foreign keys rebuilt (bulk)"),
        (case_copy, "_case_table", "  Arrow table of cases (WKB hex, literals)"),
        (case_copy, "_event_table", "  Arrow table of events"),
        (case_copy, "_csv", "  Arrow CSV writer"),
    ):
        timer(module, attr, label)
    engine = make_engine(url, pool_size=1)
    imported = 0
    started = time.perf_counter()
    try:
        t = time.perf_counter()
        with Session(engine) as session, session.begin():
            plan, _summary = svc.prepare_import(session, csv_path, source="12345", crs="gcj02")
            t = time.perf_counter()
        add("commit", time.perf_counter() - t)
        with Session(engine) as session:
            bulk = svc.wants_bulk(session, plan, "auto")
        if bulk:
            with Session(engine) as session, session.begin():
                imported += svc.import_bulk(session, plan)[0]
                t = time.perf_counter()
            add("commit", time.perf_counter() - t)
        for batch in () if bulk else plan.batches():
            with Session(engine) as session, session.begin():
                imported += svc.import_batch(session, plan, batch)[0]
                t = time.perf_counter()
            add("commit", time.perf_counter() - t)
    finally:
        for module, attr, original in reversed(restore):
            setattr(module, attr, original)
        engine.dispose()
    total = time.perf_counter() - started
    copy_total = stages.pop("copy_cases", 0.0)
    parts = sum(v for k, v in stages.items() if k.startswith("  "))
    stages["  the two COPYs (cases, case_event) in PostgreSQL"] = copy_total - parts
    stages["commit"] = stages.pop("commit", 0.0)
    # In a bulk load the COPYs run in a writer thread beside the next chunk's placing and routing, so
    # the stages overlap and "other" (wall minus the stages) comes out negative by the overlap.
    stages["other (pandas glue, Session set-up; minus the overlap)"] = total - sum(stages.values())
    return {"stages": stages, "imported": imported, "seconds": total}


if __name__ == "__main__":
    sys.exit(main())
