"""XLSX writers compared in one run on a statistics-sized table (issue 15: XlsxWriter in
constant-memory mode replaces the hand-written writer unless it misses the < 1 s export goal).

The table: 10,000 boundaries × 53 columns (codes and names as text, counts, rates with empty
cells, medians), like ``gridmap stats export --level grid``. Each writer writes it ``--repeat``
times; the median is printed, with the file size and whether GDAL's XLSX driver (pyogrio) and
openpyxl read every row back.

Run: ``.venv/bin/python bench/xlsx_writers.py [--rows 10000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _xlsx_xlsxwriter as candidate

from geo.domain.xlsx import write_xlsx


def table(rows: int) -> tuple[pd.DataFrame, list[str], list[str]]:
    rng = np.random.default_rng(15)
    frame = pd.DataFrame({
        "code": [f"1101010{i:08d}" for i in range(rows)],
        "name": [f"第{i}网格" for i in range(rows)],
        "parent_code": [f"110101{i // 100:06d}" for i in range(rows)],
    })
    for i in range(20):
        frame[f"count_{i}"] = rng.integers(0, 500, rows)
    for i in range(10):
        rate = rng.random(rows)
        rate[rng.random(rows) < 0.1] = np.nan
        frame[f"rate_{i}"] = rate
    for i in range(10):
        frame[f"median_{i}"] = rng.random(rows) * 100
    for i in range(10):
        frame[f"category_{i}"] = rng.integers(0, 50, rows)
    return frame, ["code", "parent_code"], [f"rate_{i}" for i in range(10)]


def openpyxl_write_only(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Sheet1")
    sheet.freeze_panes = "A2"
    sheet.append(list(frame.columns))
    for row in frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None):
        sheet.append(list(row))
    book.save(path)


def readers(path: Path, rows: int) -> str:
    import pyogrio
    from openpyxl import load_workbook

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            gdal_rows = len(pyogrio.read_dataframe(path, read_geometry=False))
        except Exception as exc:
            gdal_rows = -1
            caught.append(warnings.WarningMessage(str(exc), UserWarning, "", 0))
    sheet = load_workbook(path, read_only=True).active
    openpyxl_rows = sum(1 for _ in sheet.iter_rows()) - 1
    gdal = "ok" if gdal_rows == rows else f"{gdal_rows} rows"
    return f"pyogrio {gdal}, openpyxl {'ok' if openpyxl_rows == rows else openpyxl_rows}, ogrinfo {ogrinfo(path)}"


def ogrinfo(path: Path) -> str:
    """Debian's GDAL (3.6 on Debian 12, what QGIS there uses): 'ok' or its first error line."""
    if not shutil.which("ogrinfo"):
        return "absent (apt-get install gdal-bin)"
    done = subprocess.run(["ogrinfo", "-ro", "-al", "-so", str(path)], capture_output=True, text=True, check=False)
    errors = [line for line in (done.stdout + done.stderr).splitlines() if line.startswith("ERROR")]
    return f"{len(errors)} errors, e.g. {errors[0]!r}" if errors else "ok"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    frame, text, percent = table(args.rows)
    writers: dict[str, Callable[[Path], object]] = {
        "geo/domain/xlsx.py (hand-written, with references)": lambda p: write_xlsx(frame, p, text=text,
                                                                                   percent=percent),
        "XlsxWriter constant_memory (bench/_xlsx_xlsxwriter.py)": lambda p: candidate.write_xlsx(
            frame, p, text=text, percent=percent),
        "openpyxl write-only": lambda p: openpyxl_write_only(frame, p),
    }
    print(f"{args.rows:,} rows × {len(frame.columns)} columns = {args.rows * len(frame.columns):,} cells; "
          f"median of {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in writers.items():
            path = Path(tmp) / "t.xlsx"
            times, cpu = [], []
            for _ in range(args.repeat):
                started, started_cpu = time.perf_counter(), time.process_time()
                write(path)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - started_cpu)
            print(f"{name:<56} wall {statistics.median(times):6.3f} s  CPU {statistics.median(cpu):6.3f} s  "
                  f"{path.stat().st_size / 1e6:5.2f} MB  {readers(path, args.rows)}")


if __name__ == "__main__":
    main()
