"""Statistics exports of 10,000 boundaries (issue 6 goal: each format < 1 s).

Builds a throwaway cluster with a synthetic district of ``--grids`` grids, imports ``--cases``
GCJ-02 tickets (the real bulk path) and gives a share of them a handling history, then times,
for the grid level (one row per grid):

- the measures table alone (``geo.services.reports.measures_table``, warm);
- each export end to end (measures + boundary shapes + file), and the file writing alone;
- the baseline named in the issue's spirit: openpyxl's own write-only XLSX writer on the same table.

Run: ``.venv/bin/python bench/stats_exports.py`` (≈ 2 minutes on the 2-core machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from _common import log


def timed(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), out


def openpyxl_baseline(frame: Any, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("grid_stats")
    sheet.freeze_panes = "A2"
    sheet.append(list(frame.columns))
    for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None):
        sheet.append(list(row))
    book.save(path)


def gdal_geojson(frame: Any, shapes: Any, path: Path) -> None:
    """The GeoJSON file as it was written before issue 14 (GDAL's driver through pyogrio), for comparison."""
    import geopandas as gpd
    import pyogrio
    import shapely

    path.unlink(missing_ok=True)
    wgs84 = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=shapes.reset_index(drop=True).values, crs=4326)
    wgs84 = wgs84.set_geometry(shapely.orient_polygons(wgs84.geometry.to_numpy()))
    pyogrio.write_dataframe(wgs84, path, driver="GeoJSON", COORDINATE_PRECISION=7)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--seed", type=int, default=20261128)
    args = parser.parse_args()

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.domain.demo import plan_history
    from geo.domain.exports import TABLE_FORMATS, write_table
    from geo.services import reports
    from geo.services import stats as stats_service
    from geo.store import demo as demo_store

    log(common.machine_line())
    log(common.git_state())
    with common.Cluster("exports") as pg, tempfile.TemporaryDirectory(prefix="gridmap-exports-") as tmp:
        work = Path(tmp)
        bounds = common.make_boundaries(work, args.grids, seed=args.seed)
        common.prepare_database(pg, "ex", bounds, work)
        tickets = work / "tickets.csv"
        common.make_tickets(tickets, args.cases, seed=args.seed)
        seconds, _ = common.gridmap(pg.url("ex"), "cases", "import", str(tickets), "--crs", "gcj02", "--source",
                                    "12345", timeout=1800, quiet=True)
        engine = create_engine(pg.sqlalchemy_url("ex"))
        with Session(engine) as session, session.begin():
            cases = demo_store.untouched_cases(session)
            events = plan_history(cases, now=cases["reported_at"].max())
            demo_store.write_history(session, events)
            stats_service.refresh_facts(session)
        pg.query("ex", "ANALYZE")
        log(f"\n{len(bounds.grids)} grids, {len(cases)} cases ({seconds:.0f} s import), {len(events)} history events;"
            f" load {common.load_average()}")
        results: dict[str, float] = {}
        with Session(engine) as session:
            measures, frame = timed(lambda: reports.measures_table(session, "grid"), args.repeat)
            headers = stats_service.headers(session, frame)
            results["measures table (grid level)"] = measures
            log(f"  measures table: {len(frame)} rows × {len(frame.columns)} columns in {measures:.3f} s")
            shapes = reports._shapes(session, "grid", frame["code"])
            for fmt in TABLE_FORMATS:
                path = work / f"grid.{fmt}"
                full, _ = timed(lambda fmt=fmt, path=path: reports.export_measures(session, "grid", fmt, path),
                                   args.repeat)
                write, _ = timed(lambda fmt=fmt, path=path: write_table(
                    frame, path, fmt, headers=headers, percent=reports.PERCENT,
                    geometry=shapes if fmt in ("geojson", "gpkg") else None, layer="grid_stats"), args.repeat)
                results[f"{fmt} end to end"] = full
                results[f"{fmt} file only"] = write
                size = path.stat().st_size / 1e6
                log(f"  {fmt:<8} end to end {full:6.3f} s   file only {write:6.3f} s   {size:6.1f} MB"
                    f"   {'goal < 1 s met' if full < 1 else 'goal < 1 s MISSED'}")
            gdal, _ = timed(lambda: gdal_geojson(frame, shapes, work / "gdal.geojson"), args.repeat)
            results["geojson file only, GDAL's driver (before issue 14)"] = gdal
            log(f"  geojson file only through GDAL's driver, as before issue 14: {gdal:6.3f} s "
                f"({gdal / results['geojson file only']:.1f}× ours)")
            base, _ = timed(lambda: openpyxl_baseline(frame, work / "baseline.xlsx"), 1)
            results["openpyxl write-only baseline"] = base
            log(f"  baseline: openpyxl write-only XLSX of the same table {base:.3f} s "
                f"({base / results['xlsx file only']:.1f}× the file time of ours)")
            session.rollback()
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
