"""The workplace reads of issue 17: the address gazetteer and the case list.

Builds a throwaway cluster with a synthetic district of ``--grids`` grids, imports ``--cases`` GCJ-02
tickets (the real bulk path), loads ``--addresses`` synthetic door plates with ``gridmap addresses load``,
then times (median of the calls, warm):

- ``gridmap addresses load`` of the whole file;
- placing one address (``geo.services.addresses.locate``: exact text, and with spaces and full-width digits);
- the search box's address query (``search_addresses``, a road name without a number);
- the bulk twin (``locate_many``) for ``--bulk`` distinct addresses, as ``cases import`` calls it;
- one page of the case list (``geo.services.case_list.list_page``, 50 rows) per sort, city-wide and
  for one street, with its total.

Run: ``.venv/bin/python bench/workplace.py`` (≈ 2 minutes on the 2-core machine).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from _common import log

ROADS = 2_000


def door_plates(n: int, rng: np.random.Generator) -> pd.DataFrame:
    lon, lat = common.random_points(n, rng, outside_share=0.0)
    road = rng.integers(0, ROADS, n)
    number = np.arange(n) // ROADS + 1
    names = [f"北京市西城区第{r}路{k}号" for r, k in zip(road, number, strict=True)]
    return pd.DataFrame({"标准地址": names, "经度": np.round(lon, 6), "纬度": np.round(lat, 6)})


def timed_each(fn: Any, items: list[Any]) -> tuple[float, float]:
    times = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        times.append(time.perf_counter() - started)
    times.sort()
    return statistics.median(times) * 1000, times[int(len(times) * 0.95)] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--addresses", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from geo.domain.filters import SORTS, CaseFilters
    from geo.services import addresses, case_list

    log(common.machine_line())
    log(common.git_state())
    rng = np.random.default_rng(args.seed)
    with common.Cluster("workplace") as pg, tempfile.TemporaryDirectory(prefix="gridmap-workplace-") as tmp:
        work = Path(tmp)
        bounds = common.make_boundaries(work, args.grids, seed=args.seed)
        common.prepare_database(pg, "wp", bounds, work)
        tickets = work / "tickets.csv"
        common.make_tickets(tickets, args.cases, seed=args.seed, outside_share=0.0)
        common.gridmap(pg.url("wp"), "cases", "import", str(tickets), "--crs", "gcj02", "--source", "12345",
                       timeout=1800, quiet=True)
        plates = door_plates(args.addresses, rng)
        path = work / "plates.csv"
        plates.to_csv(path, index=False)
        seconds, _ = common.gridmap(pg.url("wp"), "addresses", "load", str(path), timeout=1800, quiet=True)
        pg.query("wp", "VACUUM ANALYZE")
        log(f"\n{len(bounds.grids)} grids, {args.cases:,} cases, load {common.load_average()}")
        log(f"  gridmap addresses load: {args.addresses:,} door plates in {seconds:.1f} s "
            f"({args.addresses / seconds:,.0f}/s)")
        engine = create_engine(pg.sqlalchemy_url("wp"))
        picks = plates["标准地址"].sample(args.queries, random_state=args.seed).tolist()
        fuzzy = [unicodedata.normalize("NFKC", p).replace("路", " 路 ").translate(
            str.maketrans("0123456789", "０１２３４５６７８９")) for p in picks]
        with Session(engine) as session:
            for label, items in (("locate, exact text", picks), ("locate, spaces + full-width digits", fuzzy)):
                p50, p95 = timed_each(lambda a: addresses.locate(session, a), items)
                log(f"  {label:<38} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
            roads = [f"第{r}路" for r in rng.integers(0, ROADS, args.queries)]
            p50, p95 = timed_each(lambda q: addresses.search_addresses(session, q), roads)
            log(f"  {'search box, a road name (10 results)':<38} p50 {p50:6.2f} ms  p95 {p95:6.2f} ms")
            bulk = plates["标准地址"].drop_duplicates().sample(args.bulk, random_state=1).tolist()
            started = time.perf_counter()
            found = addresses.locate_many(session, bulk)
            spent = time.perf_counter() - started
            log(f"  locate_many ({len(bulk):,} distinct, as cases import): {spent:.2f} s "
                f"({len(bulk) / spent:,.0f}/s), {sum(v is not None for v in found.values()):,} placed")
            code = str(bounds.streets["code"].iloc[0])
            for sort in SORTS:
                for label, filters in (("city", CaseFilters()), ("one street", CaseFilters(area=code))):
                    p50, p95 = timed_each(lambda _i, f=filters, s=sort: case_list.list_page(
                        session, f, user=None, sort=s, page=1, limit=50), list(range(5)))
                    log(f"  list page, sort={sort:<8} {label:<10} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
            session.rollback()
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
