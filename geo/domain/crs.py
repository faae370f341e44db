"""Coordinate reference systems: parsing what users type, reprojecting, measuring in metres.

Storage is WGS84 (EPSG:4326). CGCS2000 (EPSG:4490) is treated as equal to it (centimetres apart),
so converting between them is the identity, as DOMAIN.md says. Metric work (areas, distances)
happens in a projected CRS, CGCS2000 3-degree Gauss-Krüger CM 117°E (EPSG:4548) by default.

>>> parse_crs("cgcs2000").to_epsg()
4490
>>> parse_crs("EPSG:4548").name
'CGCS2000 / 3-degree Gauss-Kruger CM 117E'
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from geo.domain.errors import InvalidInput

__all__ = [
    "CHINA_BOUNDS",
    "DEFAULT_METRIC_CRS",
    "WGS84",
    "check_in_china",
    "crs_label",
    "is_wgs84_equivalent",
    "metric_areas",
    "parse_crs",
    "reproject",
    "transformer",
]

WGS84 = "EPSG:4326"
DEFAULT_METRIC_CRS = "EPSG:4548"

#: Generous lon/lat box around the People's Republic of China; data outside it is a CRS mistake.
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)

#: Names people type for the systems they use, lower-cased.
ALIASES = {
    "wgs84": "EPSG:4326",
    "wgs-84": "EPSG:4326",
    "4326": "EPSG:4326",
    "cgcs2000": "EPSG:4490",
    "cgcs-2000": "EPSG:4490",
    "4490": "EPSG:4490",
    "cgcs2000_gk_117": "EPSG:4548",
    "beijing_gk": "EPSG:4548",
}

#: Geographic CRSs treated as WGS84 (their difference is centimetres; see DOMAIN.md).
_WGS84_EQUIVALENT = {4326, 4490}


def parse_crs(text: str | CRS, *, field: str = "crs") -> CRS:
    """Turn what a user typed ("wgs84", "cgcs2000", "EPSG:4548", WKT …) into a pyproj CRS.

    >>> parse_crs("wgs84").to_epsg()
    4326
    """
    if isinstance(text, CRS):
        return text
    raw = str(text).strip()
    key = raw.lower()
    try:
        return CRS.from_user_input(ALIASES.get(key, raw))
    except CRSError as exc:
        raise InvalidInput(
            f"无法识别的坐标系 {raw!r}。请写 wgs84、cgcs2000 或 EPSG:编号（如 EPSG:4548）。",
            field=field,
            code="unknown_crs",
        ) from exc


def crs_label(crs: CRS) -> str:
    """A short label for messages: 'EPSG:4548' when the CRS has a code, else its name."""
    epsg = crs.to_epsg(min_confidence=70)
    return f"EPSG:{epsg}" if epsg else crs.name


def is_wgs84_equivalent(crs: CRS) -> bool:
    """True for WGS84 and CGCS2000 geographic systems (no transformation needed)."""
    if crs.to_epsg(min_confidence=70) in _WGS84_EQUIVALENT:
        return True
    if not crs.is_geographic or crs.prime_meridian is None or crs.prime_meridian.longitude != 0:
        return False
    datum = (crs.datum.name if crs.datum else "").upper().replace("_", " ")
    return ("CHINA" in datum and "2000" in datum) or ("WGS" in datum and "84" in datum) or (
        "WORLD GEODETIC SYSTEM 1984" in datum
    )


@lru_cache(maxsize=64)
def _transformer(source_wkt: str, target_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_wkt(source_wkt), CRS.from_wkt(target_wkt), always_xy=True)


def transformer(source: CRS | str, target: CRS | str) -> Transformer:
    """A cached, always-xy (lon, lat order) transformer."""
    return _transformer(parse_crs(source).to_wkt(), parse_crs(target).to_wkt())


def reproject(geoms: np.ndarray, source: CRS | str, target: CRS | str) -> np.ndarray:
    """Reproject an array of shapely geometries; WGS84 ↔ CGCS2000 is the identity.

    >>> import shapely
    >>> pt = reproject(np.array([shapely.Point(500000, 4400000)]), "EPSG:4548", "wgs84")[0]
    >>> round(pt.x, 4), round(pt.y, 4)
    (117.0, 39.734)
    """
    src, dst = parse_crs(source), parse_crs(target)
    if src == dst or (is_wgs84_equivalent(src) and is_wgs84_equivalent(dst)):
        return geoms
    tr = transformer(src, dst)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geoms, _apply)


def metric_areas(geoms_wgs84: np.ndarray, metric_crs: str = DEFAULT_METRIC_CRS) -> np.ndarray:
    """Areas in m² of WGS84 geometries, measured in the projected ``metric_crs``."""
    return shapely.area(reproject(geoms_wgs84, WGS84, metric_crs))


def check_in_china(bounds: tuple[float, float, float, float], crs: CRS, *, field: str = "crs") -> None:
    """Refuse lon/lat bounds that fall outside China: the source CRS was almost surely wrong.

    ``bounds`` are (minx, miny, maxx, maxy) after reprojection to WGS84.
    """
    minx, miny, maxx, maxy = bounds
    cminx, cminy, cmaxx, cmaxy = CHINA_BOUNDS
    finite = all(np.isfinite(v) for v in bounds)
    if finite and minx >= cminx and maxx <= cmaxx and miny >= cminy and maxy <= cmaxy:
        return
    hint = (
        "如果文件是高斯-克吕格平面坐标，请用 --crs 指明，例如 EPSG:4548（北京 3° 带，中央经线 117°E，"
        "无带号）或 EPSG:4527（3° 带第 39 带，X 坐标前带带号 39）。"
    )
    raise InvalidInput(
        f"按坐标系 {crs_label(crs)} 换算后，范围 ({minx:.4f}, {miny:.4f}) – ({maxx:.4f}, {maxy:.4f}) "
        f"不在中国境内，坐标系多半写错了。{hint}",
        field=field,
        code="crs_mismatch",
    )
