"""Offline basemaps: describe an MBTiles file and hand out its tiles by the web's XYZ address.

>>> xyz_to_tms(1, 0, 0)
1
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from geo.domain.errors import InvalidInput, NotFound
from geo.store import mbtiles as store

__all__ = ["MBTILES_FORMATS", "TileSet", "describe", "read_tile", "xyz_to_tms"]

#: Raster tile formats a browser shows, with their content type (vector ``pbf`` tiles are not drawn by Leaflet).
MBTILES_FORMATS = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
#: Deepest zoom a tile address may name.
MAX_ZOOM = 24


@dataclass(frozen=True)
class TileSet:
    path: Path
    name: str
    content_type: str
    min_zoom: int
    max_zoom: int
    attribution: str
    bounds: tuple[float, float, float, float] | None


def describe(path: str | Path, *, field: str = "GRIDMAP_BASEMAP") -> TileSet:
    """What an MBTiles file offers (name, format, zoom range, bounds); refuses a missing, unreadable or
    vector file, naming ``field`` and the fix."""
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"底图文件不存在：{path}。请检查 {field}。", field=field, code="bad_setting")
    try:
        meta = store.metadata(path)
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(f"{path.name} 不是 MBTiles 文件（{exc}）。", field=field, code="bad_setting") from exc
    fmt = meta.get("format", "png").lower()
    if fmt not in MBTILES_FORMATS:
        raise InvalidInput(f"{path.name} 的瓦片格式是 {fmt}：只支持栅格瓦片（{', '.join(MBTILES_FORMATS)}），"
                           "矢量瓦片（pbf）请先渲染成栅格。", field=field, code="bad_setting")
    bounds = None
    try:
        parts = [float(v) for v in meta.get("bounds", "").split(",")]
        bounds = (parts[0], parts[1], parts[2], parts[3]) if len(parts) == 4 else None
    except ValueError:
        bounds = None
    return TileSet(path=path, name=meta.get("name") or path.stem, content_type=MBTILES_FORMATS[fmt],
                   min_zoom=_int(meta.get("minzoom"), 0), max_zoom=_int(meta.get("maxzoom"), 18),
                   attribution=meta.get("attribution", ""), bounds=bounds)


def _int(value: str | None, default: int) -> int:
    try:
        return int(float(value)) if value is not None else default
    except ValueError:
        return default


def xyz_to_tms(z: int, x: int, y: int) -> int:
    """The TMS row (counted from the south, as MBTiles stores it) of XYZ row ``y`` (from the north)."""
    return (1 << z) - 1 - y


def read_tile(tiles: TileSet, z: int, x: int, y: int) -> bytes | None:
    """The tile at XYZ address z/x/y, or None when the file has none there; an address outside the
    tile pyramid is 404."""
    if not 0 <= z <= MAX_ZOOM or not 0 <= x < (1 << z) or not 0 <= y < (1 << z):
        raise NotFound(f"没有瓦片 {z}/{x}/{y}。", field="tile", code="not_found")
    return store.tile(tiles.path, z, x, xyz_to_tms(z, x, y))
