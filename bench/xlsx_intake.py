"""Reading a 12345 export as XLSX vs CSV (issue 14, goal 6), in one run.

Writes ``--rows`` synthetic tickets (bench/_common.make_tickets) as CSV and as XLSX (numbers as
number cells, the rest as text, as 12345 exports have them), then times, ``--repeat`` times each
(median), ``geo.domain.tables.read_table`` — the import's reading step, which for XLSX now uses
python-calamine — on both files, and the baseline: pandas' openpyxl reader on the same XLSX. The
rest of an import does not depend on the file format, so the import's XLSX/CSV ratio is
(read XLSX + rest) / (read CSV + rest); ``--import`` also runs ``gridmap cases import`` on both
files against a throwaway cluster (10,000 grids) and prints the two wall times.

Run: ``.venv/bin/python bench/xlsx_intake.py`` (10⁵ rows, ≈ 1 min); ``--rows 1000000`` for the goal's size.
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


def median_time(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--import", dest="run_import", action="store_true", help="also import both files")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--no-baseline", action="store_true", help="skip the openpyxl read (minutes at 10⁶ rows)")
    args = parser.parse_args()

    import pandas as pd

    from geo.domain.tables import read_table
    from geo.domain.xlsx import write_xlsx

    log(common.machine_line())
    log(common.git_state())
    log(f"load average {common.load_average()} (the machine is shared with other sessions: figures are noisy)")
    with tempfile.TemporaryDirectory(prefix="gridmap-xlsx-") as tmp:
        work = Path(tmp)
        csv_path, xlsx_path = work / "tickets.csv", work / "tickets.xlsx"
        frame = common.make_tickets(csv_path, args.rows, seed=args.seed)
        t = time.perf_counter()
        write_xlsx(frame, xlsx_path, headers={c: c for c in frame.columns}, text=["工单编号", "受理时间"])
        mb = {p.suffix: p.stat().st_size / 2**20 for p in (csv_path, xlsx_path)}
        log(f"{args.rows:,} rows: CSV {mb['.csv']:.1f} MB, XLSX {mb['.xlsx']:.1f} MB "
            f"(written in {time.perf_counter() - t:.1f} s)")
        csv_s, from_csv = median_time(lambda: read_table(csv_path), args.repeat)
        xlsx_s, from_xlsx = median_time(lambda: read_table(xlsx_path), args.repeat)
        base_s = float("nan") if args.no_baseline else median_time(
            lambda: pd.read_excel(xlsx_path, dtype=str, engine="openpyxl"), 1)[0]
        same = (from_csv["工单编号"].tolist() == from_xlsx["工单编号"].tolist()
                and from_csv["问题分类"].tolist() == from_xlsx["问题分类"].tolist()
                and (pd.to_numeric(from_csv["经度"]) - pd.to_numeric(from_xlsx["经度"])).abs().max() < 1e-9)
        log(f"read_table CSV                 {csv_s:7.2f} s (median of {args.repeat})")
        log(f"read_table XLSX (calamine)     {xlsx_s:7.2f} s (median of {args.repeat}); {xlsx_s / csv_s:.1f}x the CSV")
        log(f"baseline: read_excel openpyxl  {base_s:7.2f} s (once); calamine is {base_s / xlsx_s:.1f}x faster")
        log(f"same ids, categories and coordinates from both files: {same}")
        if args.run_import:
            walls: dict[str, float] = {}
            with common.Cluster("xlsx") as pg:
                bounds = common.make_boundaries(work, 10_000, seed=args.seed)
                common.prepare_database(pg, "base", bounds, work)
                for name, path in (("csv", csv_path), ("xlsx", xlsx_path)):
                    pg.create_db(name, template="base")
                    # --no-stats: the fold after it does not depend on the file's format
                    seconds, out = common.gridmap(pg.url(name), "cases", "import", str(path), "--crs", "gcj02",
                                                  "--source", "12345", "--no-stats", timeout=7200, quiet=True)
                    log(f"gridmap cases import {name:<5} {seconds:7.1f} s  {out.strip().splitlines()[-1]}")
                    walls[name] = seconds
                log(f"XLSX import / CSV import: {walls['xlsx'] / walls['csv']:.2f}x (goal <= 2x)")
        log(f"load average at the end {common.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
