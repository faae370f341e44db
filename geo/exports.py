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

from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely

from geo.errors import InvalidInput

__all__ = ["FORMATS", "write_frame"]

FORMATS = ("csv", "geojson", "gpkg")
#: CSV with a byte-order mark, so Excel on Windows shows Chinese correctly.
CSV_ENCODING = "utf-8-sig"


def write_frame(frame: gpd.GeoDataFrame, path: str | Path, fmt: str, *, layer: str | None = None) -> int:
    """Write ``frame`` to ``path`` as ``fmt``; returns the number of rows written.

    CSV carries the geometry as WKT in a last column ``wkt``; GeoJSON is RFC 7946 (WGS84);
    GeoPackage keeps the frame's CRS.
    """
    path = Path(path)
    if fmt not in FORMATS:
        raise InvalidInput(f"导出格式 {fmt!r} 不支持，可选：{', '.join(FORMATS)}。", field="format",
                           code="bad_format")
    if fmt == "csv":
        table = frame.drop(columns=frame.geometry.name).copy()
        table["wkt"] = shapely.to_wkt(frame.geometry.values, rounding_precision=7)
        table.to_csv(path, index=False, encoding=CSV_ENCODING)
    elif fmt == "geojson":
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(frame.to_crs(4326), path, driver="GeoJSON", RFC7946="YES")
    else:
        path.unlink(missing_ok=True)
        pyogrio.write_dataframe(frame, path, driver="GPKG", layer=layer or path.stem)
    return len(frame)
