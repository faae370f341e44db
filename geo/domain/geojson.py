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
import pandas as pd
import shapely

__all__ = ["PRECISION_DEG", "feature_collection", "json_value", "pixel_tolerance", "records"]

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
