"""Hotspots: where cases concentrate, from case points and per-grid counts (no database here).

Families: density per grid (cases per km²), H3 hexagon bins, heat-layer points, Getis-Ord Gi*
on grid polygons (queen contiguity, permutation inference, false-discovery-rate control), change
between two periods and recurring problems (每月一题 candidates).

>>> bins = h3_bins([116.3, 116.3], [39.9, 39.9], resolution=9)
>>> (len(bins), int(bins["count"].iloc[0]))
(1, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from h3.api import basic_int as h3_int

from geo.domain.errors import InvalidInput
from geo.domain.statuses import GROUPS

__all__ = [
    "STATUS_GROUPS",
    "density",
    "h3_bins",
    "heat_points",
    "hexagon_ring",
    "period_bounds",
    "period_change",
    "recurring",
]

#: Which case statuses count: every case but void ones (不予立案), open ones, or closed ones.
STATUS_GROUPS = GROUPS
SQUARE_METRES_PER_KM2 = 1_000_000.0
H3_RESOLUTIONS = range(0, 16)
#: Leaflet.heat draws a few thousand points smoothly; more only costs bandwidth.
HEAT_MAX_POINTS = 4096
_METRES_PER_DEGREE = 111_320.0

# --- density and change --------------------------------------------------------------------------


def density(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``area_km2`` and ``density`` (cases per km²) to a frame with ``count`` and ``area_m2``;
    a grid without area has an empty density.

    >>> density(pd.DataFrame({"count": [3, 1], "area_m2": [500_000.0, 0.0]}))["density"].tolist()
    [6.0, <NA>]
    """
    out = frame.copy()
    area_km2 = out["area_m2"].astype(float) / SQUARE_METRES_PER_KM2
    out["area_km2"] = area_km2
    with np.errstate(divide="ignore", invalid="ignore"):
        value = out["count"].astype(float) / area_km2.where(area_km2 > 0)
    out["density"] = value.astype("Float64")
    return out


def period_change(count_a: pd.Series, count_b: pd.Series) -> pd.DataFrame:
    """Counts of period a (the base) and b per index key, their difference, ratio b/a and percent
    change; ratio and percent change are empty when the base is 0.

    >>> period_change(pd.Series({"g1": 4, "g2": 0}), pd.Series({"g1": 6, "g2": 3}))["pct_change"].tolist()
    [50.0, <NA>]
    """
    keys = count_a.index.union(count_b.index)
    a = count_a.reindex(keys, fill_value=0).astype("int64")
    b = count_b.reindex(keys, fill_value=0).astype("int64")
    base = a.astype(float).where(a > 0)
    ratio = (b / base).astype("Float64")
    return pd.DataFrame({"count_a": a, "count_b": b, "change": b - a, "ratio": ratio,
                         "pct_change": (ratio - 1) * 100}, index=keys)


def period_bounds(start: date | datetime | None, end: date | datetime | None,
                  tz: str = "Asia/Shanghai") -> tuple[datetime | None, datetime | None]:
    """Turn a user's range into [from, to) instants: a date means its whole local day (``end``
    included), a naive datetime is local time.

    >>> period_bounds(date(2026, 11, 1), date(2026, 11, 30))[1].isoformat()
    '2026-12-01T00:00:00+08:00'
    """
    zone = ZoneInfo(tz)

    def instant(value: date | datetime | None, *, is_end: bool) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=zone)
        day = value + timedelta(days=1) if is_end else value
        return datetime.combine(day, time(0), tzinfo=zone)

    lower, upper = instant(start, is_end=False), instant(end, is_end=True)
    if lower is not None and upper is not None and lower >= upper:
        raise InvalidInput(f"时间范围为空：开始 {start} 不早于结束 {end}。请调换或放宽 from/to。",
                           field="from", code="bad_range")
    return lower, upper


# --- H3 hexagons and heat points -----------------------------------------------------------------


def h3_bins(lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray, resolution: int) -> gpd.GeoDataFrame:
    """Count points per H3 cell: ``cell`` (hex id), ``count`` and the hexagon (lon/lat) as geometry,
    most populated first."""
    if resolution not in H3_RESOLUTIONS:
        raise InvalidInput(f"H3 分辨率 {resolution} 无效，应为 0–15（网格尺度常用 8–10）。",
                           field="resolution", code="bad_resolution")
    lons, lats = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    # h3 4.x has no vectorised call; the integer API is the fastest scalar path.
    cells = np.fromiter(map(h3_int.latlng_to_cell, lats.tolist(), lons.tolist(), [resolution] * len(lats)),
                        dtype=np.uint64, count=len(lats))
    unique, counts = np.unique(cells, return_counts=True)
    order = np.lexsort((unique, -counts))
    ids = [h3.int_to_str(int(c)) for c in unique[order]]
    return gpd.GeoDataFrame({"cell": ids, "count": counts[order].astype("int64")},
                            geometry=[shapely.Polygon(hexagon_ring(c)) for c in ids], crs="EPSG:4326")


def hexagon_ring(cell: str) -> list[tuple[float, float]]:
    """The closed boundary ring of an H3 cell as (lon, lat) pairs, as GeoJSON wants them
    (h3 answers (lat, lng)).

    >>> ring = hexagon_ring(h3.latlng_to_cell(39.9, 116.3, 9))
    >>> (len(ring), ring[0] == ring[-1], 116 < ring[0][0] < 117)
    (7, True, True)
    """
    ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(cell)]
    return [*ring, ring[0]]


def heat_points(lon: Sequence[float] | np.ndarray, lat: Sequence[float] | np.ndarray, *,
                bbox: tuple[float, float, float, float] | None = None,
                max_points: int = HEAT_MAX_POINTS) -> pd.DataFrame:
    """Bin points to roughly square cells over ``bbox`` (default: the points' extent) so that at
    most ``max_points`` rows remain, whatever the case count: ``lat``, ``lon`` (mean position of the
    cell's points), ``count`` and ``weight`` = count / the largest count (Leaflet.heat intensity).
    """
    lons, lats = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    empty = pd.DataFrame({"lat": [], "lon": [], "weight": [], "count": pd.Series([], dtype="int64")})
    if len(lons) == 0:
        return empty
    x0, y0, x1, y1 = bbox or (lons.min(), lats.min(), lons.max(), lats.max())
    keep = (lons >= x0) & (lons <= x1) & (lats >= y0) & (lats <= y1)
    lons, lats = lons[keep], lats[keep]
    if len(lons) == 0:
        return empty
    nx, ny = _heat_shape(x0, y0, x1, y1, max_points)
    ix = np.minimum(((lons - x0) / max(x1 - x0, 1e-12) * nx).astype(np.int64), nx - 1)
    iy = np.minimum(((lats - y0) / max(y1 - y0, 1e-12) * ny).astype(np.int64), ny - 1)
    flat = iy * nx + ix
    counts = np.bincount(flat, minlength=nx * ny)
    used = np.flatnonzero(counts)
    n = counts[used]
    mean_lon = np.bincount(flat, weights=lons, minlength=nx * ny)[used] / n
    mean_lat = np.bincount(flat, weights=lats, minlength=nx * ny)[used] / n
    return pd.DataFrame({"lat": mean_lat, "lon": mean_lon, "weight": n / n.max(), "count": n.astype("int64")})


def _heat_shape(x0: float, y0: float, x1: float, y1: float, max_points: int) -> tuple[int, int]:
    """Columns and rows of cells that are about square on the ground, nx * ny <= max_points."""
    width = max(x1 - x0, 1e-9) * np.cos(np.radians((y0 + y1) / 2))
    height = max(y1 - y0, 1e-9)
    nx = min(max_points, max(1, round(np.sqrt(max_points * width / height))))
    ny = max(1, min(max_points // nx, round(nx * height / width)))
    return nx, ny


# --- recurring problems (每月一题) -----------------------------------------------------------------


def recurring(cases: pd.DataFrame, *, min_count: int = 3, days: float = 30) -> pd.DataFrame:
    """Grid-and-category pairs with at least ``min_count`` cases whose first and last are at most
    ``days`` apart: candidates for the monthly topic (每月一题).

    ``cases`` has ``grid_code``, ``category_code`` and ``reported_at``. One row per pair: ``count``
    (the most cases in any such window), ``first`` and ``last`` (the earliest such window's first and
    last case) and ``total`` (all its cases in ``cases``); most cases first.
    """
    if min_count < 1 or days <= 0:
        raise InvalidInput("min_count 至少为 1，days 应大于 0。", field="min_count", code="bad_recurring")
    columns = ["grid_code", "category_code", "count", "first", "last", "total"]
    if cases.empty:
        return pd.DataFrame({c: [] for c in columns})
    grid_index, grids = pd.factorize(cases["grid_code"])
    category_index, categories = pd.factorize(cases["category_code"])
    group = grid_index.astype(np.int64) * len(categories) + category_index
    stamps = pd.to_datetime(cases["reported_at"], utc=True)
    ms = ((stamps - stamps.min()) // pd.Timedelta(milliseconds=1)).to_numpy(np.int64)
    order = np.lexsort((ms, group))
    group, ms = group[order], ms[order]
    # One sorted key (group, time) lets one searchsorted count every case's window in all groups.
    window = int(timedelta(days=days) / timedelta(milliseconds=1))
    key = group * (int(ms.max()) + window + 1) + ms
    n = len(key)
    count = np.searchsorted(key, key + window, side="right") - np.arange(n)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(group)) + 1])
    sizes = np.diff(np.append(starts, n))
    best_count = np.maximum.reduceat(count, starts)
    at_best = np.where(count == np.repeat(best_count, sizes), np.arange(n), n)
    best = np.minimum.reduceat(at_best, starts)  # the earliest densest window of each group
    keep = best_count >= min_count
    first, size = best[keep], best_count[keep]
    times = stamps.iloc[order].reset_index(drop=True)
    pair = group[first]
    out = pd.DataFrame({
        "grid_code": np.asarray(grids)[pair // len(categories)],
        "category_code": np.asarray(categories)[pair % len(categories)],
        "count": size.astype(np.int64),
        "first": times.iloc[first].to_numpy(),
        "last": times.iloc[first + size - 1].to_numpy(),
        "total": sizes[keep].astype(np.int64),
    })
    out = out.sort_values(["count", "grid_code", "category_code"], ascending=[False, True, True])
    return out[columns].reset_index(drop=True)
