"""Hotspot analytics in-process: Gi* on 10,000 grid polygons, H3 bins and heat points on 1,000,000 points.

Issue goal: Gi* on 10,000 grids with 999 permutations < 2 s once warm.

    .venv/bin/python bench/hotspots.py                    # 10 k grids, 1 M points (≈ 1 min incl. the JIT)
    .venv/bin/python bench/hotspots.py --grids 2000 --points 100000   # quick check

Steps (no database: the pure functions of geo.domain.hotspots the services call):
1. 10,000 grids as Voronoi cells over the synthetic district (bench/_common.py), counts Poisson
   (mean 3 cases a grid) plus a planted cluster of 30 adjacent grids at 3× the rate.
2. Queen weights: built cold (STRtree), then from the in-process cache.
3. Gi*: the first call in the process (numba compiles esda's kernels), then warm runs (median),
   split into esda's G_Local (999 permutations, simulations kept) and the exact p-values.
4. H3 bins (resolution 9 and 8) and heat points (≤ 4,096) on 1,000,000 uniform points.
5. With ``--db``: a throwaway PostGIS with the same kind of 10,000 grids and ``--db-cases`` 12345
   tickets imported by ``gridmap cases import`` (last 60 days), then each service of
   geo.services.hotspots over the last 30 days, end to end (SQL, transfer, computation).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from _common import log

from geo.domain import getis_ord, hotspots

GOAL_WARM_SECONDS = 2.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--permutations", type=int, default=999)
    parser.add_argument("--repeat", type=int, default=5, help="warm runs (median reported)")
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--db", action="store_true", help="also time the services against PostGIS")
    parser.add_argument("--db-cases", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="with --db: keep the cluster and files")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": common.machine_line(), "code": common.git_state()}
    log(f"machine: {results['machine']}; load average {common.load_average()}")
    log(f"code: {results['code']}")
    gistar_figures(args, results)
    points_figures(args, results)
    if args.db:
        common.run_in_cluster("hotspots", args, results, service_figures)
    log(f"\nload average now {common.load_average()}")
    common.dump_json(args.json, results)
    return 0


def timed(fn: Any, *a: Any, **kw: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn(*a, **kw)
    return time.perf_counter() - started, value


def gistar_figures(args: argparse.Namespace, results: dict[str, Any]) -> None:
    rng = np.random.default_rng(args.seed)
    seconds, cells = timed(common.voronoi_cells, shapely.box(*common.AREA), args.grids, rng)
    grids = np.array(cells, dtype=object)
    log(f"\n[Gi*] {len(grids)} grids (Voronoi cells) generated in {seconds:.2f} s; "
        f"{int(shapely.get_num_coordinates(grids).sum())} vertices")
    counts = rng.poisson(3.0, len(grids)).astype(float)
    centre = shapely.Point((common.AREA[0] + common.AREA[2]) / 2, (common.AREA[1] + common.AREA[3]) / 2)
    planted = np.argsort(shapely.distance(shapely.centroid(grids), centre))[:30]
    counts[planted] = rng.poisson(9.0, len(planted))

    cold_weights, weights = timed(getis_ord.queen_contiguity, grids)
    cache = getis_ord.ContiguityCache()
    miss, _ = timed(cache.get, ("db", 1), lambda: getis_ord.queen_contiguity(grids))
    hit, _ = timed(cache.get, ("db", 1), lambda: getis_ord.queen_contiguity(grids))
    card = weights.cardinality
    log(f"    queen weights cold {cold_weights:.3f} s ({len(weights.focal) // 2} pairs, neighbours "
        f"min {card.min()} / mean {card.mean():.1f} / max {card.max()}); "
        f"cache miss {miss:.3f} s, hit {hit * 1e6:.0f} µs")

    cold, first = timed(getis_ord.gistar, counts, weights, permutations=args.permutations, seed=1)
    log(f"    gistar first call in the process (numba JIT + run): {cold:.1f} s")
    runs = [timed(getis_ord.gistar, counts, weights, permutations=args.permutations, seed=s)[0]
            for s in range(args.repeat)]
    warm = statistics.median(runs)
    esda_runs = [timed(_esda_only, counts, weights, args.permutations)[0] for _ in range(args.repeat)]
    exact_runs = [timed(getis_ord._conditional_p, counts, weights)[0] for _ in range(args.repeat)]
    log(f"    gistar warm, {args.permutations} permutations: median {warm:.3f} s "
        f"(runs {', '.join(f'{r:.2f}' for r in runs)}); of which esda G_Local {statistics.median(esda_runs):.3f} s, "
        f"exact p {statistics.median(exact_runs) * 1000:.1f} ms")
    log(f"    goal < {GOAL_WARM_SECONDS:.0f} s warm: {'met' if warm < GOAL_WARM_SECONDS else 'NOT met'}")
    in_cluster = first["bin"].to_numpy()[planted]
    outside = np.ones(len(grids), dtype=bool)
    outside[planted] = False
    for kind in getis_ord.PVALUE_KINDS:
        result = first if kind == "exact" else getis_ord.gistar(counts, weights, seed=1, pvalue=kind)
        bins = result["bin"].to_numpy()
        log(f"    p={kind:<11} hot in the planted 30: {int((bins[planted] > 0).sum()):2d}; "
            f"significant elsewhere: {int((bins[outside] != 0).sum())}")
    results["gistar"] = {"grids": len(grids), "weights_cold_s": cold_weights, "weights_cached_s": hit,
                         "first_call_s": cold, "warm_median_s": warm, "warm_runs_s": runs,
                         "esda_median_s": statistics.median(esda_runs),
                         "exact_p_median_s": statistics.median(exact_runs),
                         "planted_hot": int((in_cluster > 0).sum())}


def _esda_only(counts: np.ndarray, weights: getis_ord.Contiguity, permutations: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getis_ord._g_local_star(counts, weights, permutations, 1)


def points_figures(args: argparse.Namespace, results: dict[str, Any]) -> None:
    rng = np.random.default_rng(args.seed)
    lon, lat = common.random_points(args.points, rng, outside_share=0.0)
    log(f"\n[points] {args.points} uniform points over the district")
    figures: dict[str, Any] = {"points": args.points}
    for resolution in (9, 8):
        runs = [timed(hotspots.h3_bins, lon, lat, resolution) for _ in range(3)]
        seconds = statistics.median(r[0] for r in runs)
        bins = runs[0][1]
        assert int(bins["count"].sum()) == args.points
        log(f"    h3_bins resolution {resolution}: {seconds:.2f} s → {len(bins)} hexagons")
        figures[f"h3_res{resolution}_s"] = seconds
        figures[f"h3_res{resolution}_cells"] = len(bins)
    runs = [timed(hotspots.heat_points, lon, lat) for _ in range(3)]
    seconds = statistics.median(r[0] for r in runs)
    heat = runs[0][1]
    log(f"    heat_points: {seconds * 1000:.0f} ms → {len(heat)} weighted points (max {hotspots.HEAT_MAX_POINTS})")
    figures["heat_s"] = seconds
    figures["heat_rows"] = len(heat)
    results["points"] = figures


def service_figures(pg: common.Cluster, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    from datetime import date, timedelta

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.services import hotspots as service

    bounds = common.make_boundaries(work, args.grids, seed=args.seed)
    common.prepare_database(pg, "hot", bounds, work)
    tickets = work / "tickets.csv"
    common.make_tickets(tickets, args.db_cases, seed=args.seed)
    seconds, _ = common.gridmap(pg.url("hot"), "cases", "import", str(tickets), "--crs", "gcj02", "--source",
                                "12345", timeout=1800, quiet=True)
    stored = pg.query("hot", "SELECT count(*) FROM cases")[0][0]
    pg.query("hot", "ANALYZE")  # what autovacuum does soon after an import; plans depend on it
    log(f"\n[services] {len(bounds.grids)} grids, {stored} cases imported in {seconds:.0f} s; "
        "each call below is its own read-only transaction")
    today = date.today()
    month = (today - timedelta(days=29), today)
    before = (today - timedelta(days=59), today - timedelta(days=30))
    calls: list[tuple[str, Any]] = [
        ("gistar (weights built: cache miss)", lambda s: service.gistar(s, *month, seed=1)),
        ("gistar (weights cached)", lambda s: service.gistar(s, *month, seed=1)),
        ("gistar, one category (weights cached)", lambda s: service.gistar(s, *month, category="0101", seed=1)),
        ("grid_density", lambda s: service.grid_density(s, *month)),
        ("period_change", lambda s: service.period_change(s, *before, *month)),
        ("h3_bins resolution 9", lambda s: service.h3_bins(s, 9, *month)),
        ("heat_points", lambda s: service.heat_points(s, *month)),
        ("heat_points, one street's bbox", lambda s: service.heat_points(
            s, *month, bbox=tuple(bounds.streets.geometry.iloc[0].bounds))),
        ("recurring (min 3 in 30 days)", lambda s: service.recurring(s, 3, 30)),
    ]
    engine = create_engine(pg.sqlalchemy_url("hot"))
    figures = {}
    for label, call in calls:
        with Session(engine) as session:
            seconds, out = timed(call, session)
            session.rollback()
        figures[label] = seconds
        log(f"    {label:<40} {seconds:6.3f} s → {len(out)} rows")
    engine.dispose()
    results["services"] = {"cases": stored, "grids": len(bounds.grids), "seconds": figures}


if __name__ == "__main__":
    raise SystemExit(main())
