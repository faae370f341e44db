"""Chinese consumer-map coordinates (GCJ-02, BD-09) and any intake CRS → WGS84, vectorised.

AMap and Tencent publish GCJ-02 ("Mars coordinates", 300–600 m off in Beijing); Baidu publishes
BD-09 (a further ~1 km). A GCJ-02 point stored as WGS84 lands in the wrong grid, so every intake
names its CRS and is converted here. The forward transforms are the published formulas; the
inverses solve them by fixed-point iteration to well under 1 cm (not the one-step
approximation most libraries use, which is metres off).

>>> lon, lat = gcj02_to_wgs84(np.array([116.403874]), np.array([39.914889]))
>>> bool(np.allclose(wgs84_to_gcj02(lon, lat), ([116.403874], [39.914889]), atol=1e-10))
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from geo.domain.crs import WGS84, parse_crs, transformer
from geo.domain.errors import InvalidInput

__all__ = [
    "CONSUMER_CRS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalize_crs_name",
    "point_to_wgs84",
    "to_wgs84",
    "wgs84_to_gcj02",
]

#: Names the intake accepts besides any EPSG code.
CONSUMER_CRS = ("wgs84", "cgcs2000", "gcj02", "bd09")

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as the GCJ-02 formula uses it
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
#: Stop iterating once the forward transform reproduces the input to this (degrees ≈ 1 mm).
_TOLERANCE_DEG = 1e-8
_MAX_ITERATIONS = 30


def _out_of_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x, y = lon - 105.0, lat - 35.0
    sqrt_abs_x = np.sqrt(np.abs(x))
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrt_abs_x + common
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrt_abs_x + common
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    outside = _out_of_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The published forward transform (identity outside China)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


Forward = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _invert(
    forward: Forward, lon: np.ndarray, lat: np.ndarray, start: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Solve forward(x) = (lon, lat) by fixed-point iteration from ``start``.

    Each point stops once its own error is below the tolerance, so a point's result never depends
    on which other points were converted with it (one case and a bulk import agree exactly).
    """
    x, y = np.array(start[0], dtype=float), np.array(start[1], dtype=float)
    active = np.ones(x.shape, dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        fx, fy = forward(x[active], y[active])
        ex, ey = lon[active] - fx, lat[active] - fy
        x[active] += ex
        y[active] += ey
        done = (np.abs(ex) < _TOLERANCE_DEG) & (np.abs(ey) < _TOLERANCE_DEG)
        active[np.flatnonzero(active)[done]] = False
        if not active.any():
            break
    return x, y


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact inverse of ``wgs84_to_gcj02`` (round trip well under 1 cm)."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    return _invert(wgs84_to_gcj02, lon, lat, (lon - dlon, lat - dlat))


def bd09_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact inverse of ``gcj02_to_bd09``."""
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    return _invert(gcj02_to_bd09, lon, lat, (lon - 0.0065, lat - 0.006))


def bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def normalize_crs_name(text: str | None, *, field: str = "crs") -> str:
    """'GCJ-02', 'gcj02', 'BD09', 'EPSG:4326' … → a canonical name ('gcj02', 'bd09', 'EPSG:n', …).

    >>> normalize_crs_name("GCJ-02"), normalize_crs_name(None), normalize_crs_name("epsg:4548")
    ('gcj02', 'wgs84', 'EPSG:4548')
    """
    raw = (text or "wgs84").strip()
    key = raw.lower().replace("-", "").replace("_", "")
    if key in ("gcj02", "gcj", "mars", "amap", "gaode", "tencent"):
        return "gcj02"
    if key in ("bd09", "bd09ll", "baidu"):
        return "bd09"
    if key in ("wgs84", "4326", "epsg4326"):
        return "wgs84"
    if key in ("cgcs2000", "4490", "epsg4490"):
        return "cgcs2000"
    crs = parse_crs(raw, field=field)
    epsg = crs.to_epsg(min_confidence=70)
    if epsg is None:
        raise InvalidInput(f"坐标系 {raw!r} 没有 EPSG 编号，请写 wgs84、cgcs2000、gcj02、bd09 或 EPSG:编号。",
                           field=field, code="unknown_crs")
    return f"EPSG:{epsg}"


#: Intake CRS names whose coordinates are degrees (lon, lat): the rest are projected metres.
GEOGRAPHIC_CRS = ("wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490", "gcj02", "bd09")


def point_to_wgs84(x: float, y: float, crs: str | None) -> tuple[float, float]:
    """One point in a named intake CRS (None = wgs84) to WGS84 lon/lat, exactly as ``to_wgs84``.

    >>> point_to_wgs84(116.4, 39.9, None)
    (116.4, 39.9)
    """
    lon, lat = to_wgs84(np.array([x], dtype=float), np.array([y], dtype=float), normalize_crs_name(crs))
    return float(lon[0]), float(lat[0])


def to_wgs84(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates in a named intake CRS to WGS84 lon/lat (vectorised).

    >>> lon, lat = to_wgs84(np.array([116.4]), np.array([39.9]), "wgs84")
    >>> float(lon[0]), float(lat[0])
    (116.4, 39.9)
    """
    name = normalize_crs_name(crs)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if name in ("wgs84", "cgcs2000", "EPSG:4326", "EPSG:4490"):
        return x, y
    if name == "gcj02":
        return gcj02_to_wgs84(x, y)
    if name == "bd09":
        return bd09_to_wgs84(x, y)
    lon, lat = transformer(name, WGS84).transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
