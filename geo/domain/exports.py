"""Write feature tables to the files planners open: CSV (Excel-ready), GeoJSON, GeoPackage.

>>> import tempfile, os, shapely
>>> frame = gpd.GeoDataFrame({"code": ["1"]}, geometry=[shapely.box(0, 0, 1, 1)], crs=4326)
>>> path = os.path.join(tempfile.mkdtemp(), "x.csv")
>>> write_frame(frame, path, "csv")
1
>>> open(path, encoding="utf-8-sig").readline().strip()
'code,wkt'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely

from geo.domain.errors import InvalidInput
from geo.domain.geojson import write_feature_collection
from geo.domain.xlsx import write_xlsx

__all__ = ["FORMATS", "TABLE_FORMATS", "excel_text", "inert_text", "write_frame", "write_table"]

FORMATS = ("csv", "geojson", "gpkg")
#: Formats of a statistics table: spreadsheets without geometry, GIS files with the boundary shapes.
TABLE_FORMATS = ("csv", "xlsx", "geojson", "gpkg")
#: CSV with a byte-order mark, so Excel on Windows shows Chinese correctly.
CSV_ENCODING = "utf-8-sig"


@contextmanager
def private_output(path: str | Path) -> Iterator[Path]:
    """Files gridmap writes for people (exports, backups, rejects) are readable by their owner only
    (0600): they hold case texts, places and, in backups, password hashes. The umask is narrowed
    while the file is created (GDAL and pg_dump create their own files), then the mode is set."""
    path = Path(path)
    previous = os.umask(0o077)
    try:
        yield path
    finally:
        os.umask(previous)
    if path.exists():
        path.chmod(0o600)


def write_frame(frame: gpd.GeoDataFrame, path: str | Path, fmt: str, *, layer: str | None = None) -> int:
    """Write ``frame`` to ``path`` as ``fmt``; returns the number of rows written.

    CSV carries the geometry as WKT in a last column ``wkt``; GeoJSON is RFC 7946 (WGS84);
    GeoPackage keeps the frame's CRS.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InvalidInput(f"导出格式 {fmt!r} 不支持，可选：{', '.join(FORMATS)}。", field="format",
                           code="bad_format")
    with private_output(path):
        if fmt == "csv":
            table = frame.drop(columns=frame.geometry.name).copy()
            table["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=7)
            inert_text(table).to_csv(path, index=False, encoding=CSV_ENCODING)
        elif fmt == "geojson":
            path.unlink(missing_ok=True)
            pyogrio.write_dataframe(frame.to_crs(4326), path, driver="GeoJSON", RFC7946="YES")
        else:
            path.unlink(missing_ok=True)
            pyogrio.write_dataframe(frame, path, driver="GPKG", layer=layer or path.stem)
    return len(frame)


#: A spreadsheet reads a cell starting with one of these as a formula (=HYPERLINK(…), +cmd|…, @SUM…).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def inert_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula get a leading apostrophe (CSV injection).
    Written by people (descriptions, names), so never trusted; numbers are left as they are.

    >>> inert_text(pd.DataFrame({"d": ["=1+1", "-3", "ok"], "n": [-1, 2, 3]}))["d"].tolist()
    ["'=1+1", "'-3", 'ok']
    """
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_object_dtype(out[column]) or pd.api.types.is_string_dtype(out[column]):
            values = out[column]
            risky = values.map(lambda v: isinstance(v, str) and v.startswith(_FORMULA_START))
            if risky.any():
                out.loc[risky, column] = "'" + values[risky].astype(str)
    return out


def excel_text(values: pd.Series) -> pd.Series:
    """Codes as a spreadsheet keeps them when it opens a CSV: ``="110102004004"``, a formula giving
    the text, so neither Excel nor LibreOffice turns 15 digits into 1.10102E+14 or drops a leading
    zero. Empty stays empty.

    >>> excel_text(pd.Series(["0101", None, 'a"b'])).tolist()
    ['="0101"', None, '="a""b"']
    """
    return values.astype(object).map(lambda v: None if v is None or v != v else '="' + str(v).replace('"', '""') + '"',
                                     na_action="ignore").astype(object).where(values.notna(), None)


def write_table(frame: pd.DataFrame, path: str | Path, fmt: str, *, headers: Mapping[str, str] | None = None,
                text: Iterable[str] = ("code", "name", "parent_code"), percent: Iterable[str] = (),
                geometry: gpd.GeoSeries | None = None, layer: str = "stats", excel: bool = False,
                notes: Sequence[tuple[str, str]] = ()) -> int:
    """Write a table of measures for planners; returns the number of rows.

    csv: UTF-8 with BOM (Excel shows Chinese), the frame's snake_case column names, empty cells for
    empty values (never 0 or NaN) — for programs and GIS. With ``excel``: ``headers`` (Chinese) and
    the code columns (``text`` but ``name``) as ``="…"`` so a spreadsheet keeps them as text.
    xlsx: ``headers`` (Chinese) as a frozen, filterable header row, ``text`` columns as text so codes
    keep every digit, ``percent`` columns as 0.0 %; ``notes`` as a second sheet 说明.
    geojson / gpkg: the same columns as properties on ``geometry`` (WGS84), one feature per row.
    """
    path = Path(path)
    if fmt not in TABLE_FORMATS:
        raise InvalidInput(f"导出格式 {fmt!r} 不支持，可选：{', '.join(TABLE_FORMATS)}。", field="format",
                           code="bad_format")
    with private_output(path):
        if fmt == "csv" and excel:
            _excel_csv(frame, path, headers or {}, [c for c in text if c in frame.columns and c != "name"])
        else:
            _write_table(frame, path, fmt, headers=headers, text=text, percent=percent, geometry=geometry,
                         layer=layer, notes=notes)
    return len(frame)


def _excel_csv(frame: pd.DataFrame, path: Path, headers: Mapping[str, str], codes: list[str]) -> None:
    table = inert_text(frame)
    for column in codes:
        table[column] = excel_text(frame[column])
    table.rename(columns=lambda c: headers.get(c, c)).to_csv(path, index=False, encoding=CSV_ENCODING,
                                                             float_format="%.10g")


def _write_table(frame: pd.DataFrame, path: Path, fmt: str, *, headers: Mapping[str, str] | None,
                 text: Iterable[str], percent: Iterable[str], geometry: gpd.GeoSeries | None, layer: str,
                 notes: Sequence[tuple[str, str]]) -> None:
    if fmt == "csv":
        inert_text(frame).to_csv(path, index=False, encoding=CSV_ENCODING, float_format="%.10g")
    elif fmt == "xlsx":
        write_xlsx(frame, path, headers=headers, text=[c for c in text if c in frame.columns],
                   percent=[c for c in percent if c in frame.columns], sheet=layer, notes=notes)
    else:
        if geometry is None:
            raise InvalidInput(f"{fmt} 导出需要边界几何。", field="format", code="no_geometry")
        shapes = gpd.GeoDataFrame(frame.reset_index(drop=True), geometry=geometry.reset_index(drop=True).values,
                                  crs=geometry.crs or 4326)
        path.unlink(missing_ok=True)
        if fmt == "geojson":
            # Written here, not by GDAL's GeoJSON driver: 3× faster for 10,000 grids (bench/README.md, issue 14)
            wgs84 = shapes.to_crs(4326)
            write_feature_collection(frame.reset_index(drop=True), wgs84.geometry.to_numpy(), path, name=layer)
        else:
            pyogrio.write_dataframe(shapes, path, driver="GPKG", layer=layer)
