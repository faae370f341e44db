"""Tables and GeoDataFrames as the JSON the map and the pages read.

>>> import geopandas as gpd, shapely
>>> frame = gpd.GeoDataFrame({"code": ["1"], "rate": [float("nan")]}, geometry=[shapely.box(0, 0, 1, 1)])
>>> text = feature_collection(frame, ["code", "rate"], extra={"grids": 1})
>>> text.startswith('{"type": "FeatureCollection", "grids": 1,"features":[') and '"rate": null' in text
True
>>> round(pixel_tolerance(12), 8)
0.00017166
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

__all__ = ["EXPORT_DECIMALS", "PRECISION_DEG", "feature_collection", "json_value", "pixel_tolerance", "records",
           "write_feature_collection"]

#: Coordinates the map gets are rounded to this (≈ 0.1 m).
PRECISION_DEG = 1e-6
#: Simplify to half a screen pixel at the map's zoom (256-pixel tiles).
_PIXEL_FRACTION = 0.5


def pixel_tolerance(zoom: float) -> float:
    """Degrees of half a screen pixel at ``zoom``: simplifying by it changes nothing a user can see."""
    return _PIXEL_FRACTION * 360.0 / (256 * math.pow(2, zoom))


def json_value(value: Any) -> Any:
    """One cell as JSON: empty (None, NaN, ±inf, pandas NA) → null, numpy scalars → Python numbers,
    dates and times → ISO 8601."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and not math.isfinite(value)):
        return None
    if hasattr(value, "item"):
        return json_value(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def records(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The rows of ``frame`` (or of ``columns``) as JSON-ready dicts."""
    columns = list(frame.columns if columns is None else columns)
    return [{c: json_value(v) for c, v in zip(columns, row, strict=True)}
            for row in frame[columns].itertuples(index=False, name=None)]


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str], *, zoom: float | None = None,
                       extra: Mapping[str, Any] | None = None) -> str:
    """RFC 7946 GeoJSON text of ``frame`` with ``columns`` as properties and ``extra`` as foreign
    members; geometry simplified to half a pixel at ``zoom`` and rounded to ``PRECISION_DEG``, so a
    city of grids stays a few hundred KB."""
    geoms = frame.geometry.to_numpy()
    if zoom is not None:
        geoms = shapely.simplify(geoms, pixel_tolerance(zoom), preserve_topology=True)
    shapes = shapely.to_geojson(shapely.set_precision(geoms, PRECISION_DEG))
    features = ",".join(
        '{"type":"Feature","geometry":' + (shape if shape is not None else "null") + ',"properties":'
        + json.dumps(row, ensure_ascii=False) + "}"
        for shape, row in zip(shapes, records(frame, columns), strict=True))
    head = json.dumps({"type": "FeatureCollection", **(extra or {})}, ensure_ascii=False)[:-1]
    return head + ',"features":[' + features + "]}"


#: Decimals of the coordinates an export file carries (1e-7° ≈ 1 cm).
EXPORT_DECIMALS = 7
#: The members GDAL's GeoJSON driver wrote before ours took over (QGIS reads the file the same).
_CRS84 = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}


def _property_texts(frame: pd.DataFrame) -> list[list[str]]:
    """Each column as its ``"name": value`` JSON members, column by column (json.dumps of a dict per
    row spent 0.6 s on 10⁴ rows × 56 columns, most of it on the same keys again): floats as
    ``repr`` (what json.dumps writes), non-finite → null; other cells through ``json_value``."""
    dumps = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    out = []
    for name in frame.columns:
        key = dumps(str(name)) + ": "
        col = frame[name]
        if pd.api.types.is_float_dtype(col.dtype):
            values = col.to_numpy(dtype=float, na_value=np.nan)
            finite = np.isfinite(values).tolist()
            out.append([key + repr(v) if ok else key + "null" for v, ok in zip(values.tolist(), finite, strict=True)])
        elif pd.api.types.is_integer_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype) and not col.hasnans:
            out.append([key + str(v) for v in col.tolist()])
        else:
            out.append([key + dumps(json_value(v)) for v in col.tolist()])
    return out


def write_feature_collection(frame: pd.DataFrame, geometry: np.ndarray, path: Any, *, name: str) -> None:
    """``frame``'s rows as RFC 7946 features on ``geometry`` (WGS84 shapely geometries, None for none)
    into the file ``path``: exterior rings counter-clockwise, coordinates rounded to
    ``EXPORT_DECIMALS``, every column a property (empty → null). What GDAL's GeoJSON driver wrote,
    in a third of its time for 10⁴ grids (bench/README.md, issue 14).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.geojson"
    >>> write_feature_collection(pd.DataFrame({"code": ["1"], "rate": [float("nan")]}),
    ...                          np.array([shapely.Point(116.123456789, 39.9)]), p, name="t")
    >>> feature = json.loads(p.read_text())["features"][0]
    >>> feature["properties"], feature["geometry"]["coordinates"]
    ({'code': '1', 'rate': None}, [116.1234568, 39.9])
    """
    geoms = shapely.orient_polygons(np.asarray(geometry, dtype=object))
    coords = shapely.get_coordinates(geoms)
    geoms = shapely.set_coordinates(geoms, np.round(coords, EXPORT_DECIMALS))
    shapes = shapely.to_geojson(geoms)
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    head = dumps({"type": "FeatureCollection", "name": name, "crs": _CRS84,
                  "xy_coordinate_resolution": 10.0 ** -EXPORT_DECIMALS})[:-1]
    properties = map(", ".join, zip(*_property_texts(frame), strict=True)) if len(frame.columns) else [""] * len(frame)
    with open(path, "w", encoding="utf-8") as out:
        out.write(head + ', "features": [\n')
        out.write(",\n".join(
            '{"type": "Feature", "properties": {' + members + '}, "geometry": '
            + (shape if shape is not None else "null") + "}"
            for members, shape in zip(properties, shapes, strict=True)))
        out.write("\n]}\n")
