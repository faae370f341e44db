"""Hotspot use cases for the map layers and the CLI: density, H3 bins, heat points, Gi*, change
between two periods and recurring problems (每月一题). Plain (Geo)DataFrames out; never commits.

Common arguments: ``date_from`` / ``date_to`` (a date is a whole local day, ``date_to`` included;
a datetime is an instant, ``date_to`` excluded), ``scope`` (a boundary code prefix: the reader's
area), ``category`` (codes or 2-digit major classes), ``status`` (``all`` but void, ``open`` or
``closed``) and ``tz`` (the local time zone of dates).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from geo.domain import getis_ord
from geo.domain import hotspots as logic
from geo.domain.errors import InvalidInput
from geo.domain.getis_ord import CONTIGUITY_CACHE, PERMUTATIONS, warm_gistar
from geo.store import hotspots as store

__all__ = ["gistar", "grid_density", "h3_bins", "heat_points", "period_change", "recurring", "warm_gistar"]

Day = date | datetime | None
TIMEZONE = "Asia/Shanghai"
_SCOPE = re.compile(r"^[0-9]*$")
_CATEGORY = re.compile(r"^[0-9]{2}([0-9]{2})?$")
_GRID_COLUMNS = ["code", "name", "parent_code"]


def grid_density(session: Session, date_from: Day, date_to: Day, scope: str = "", category: Any = None, *,
                 status: str = "all", tz: str = TIMEZONE) -> gpd.GeoDataFrame:
    """Cases per km² for every grid in scope: ``code, name, parent_code, count, area_km2, density,
    geometry`` (density empty for a grid without area)."""
    selection = _selection(date_from, date_to, scope, category, status, tz)
    grids = store.grid_counts(session, selection)
    out = logic.density(grids)
    return out[[*_GRID_COLUMNS, "count", "area_km2", "density", "geometry"]]


def h3_bins(session: Session, resolution: int, date_from: Day = None, date_to: Day = None, scope: str = "",
            category: Any = None, *, bbox: tuple[float, float, float, float] | None = None, status: str = "all",
            tz: str = TIMEZONE) -> gpd.GeoDataFrame:
    """Cases per H3 cell at ``resolution``: ``cell, count, geometry`` (the hexagon), fullest first."""
    selection = _selection(date_from, date_to, scope, category, status, tz, bbox=bbox)
    lon, lat = store.case_points(session, selection)
    return logic.h3_bins(lon, lat, resolution)


def heat_points(session: Session, date_from: Day = None, date_to: Day = None, scope: str = "",
                category: Any = None, *, bbox: tuple[float, float, float, float] | None = None,
                max_points: int = logic.HEAT_MAX_POINTS, status: str = "all", tz: str = TIMEZONE) -> pd.DataFrame:
    """Heat-layer points for Leaflet.heat, at most ``max_points``: ``lat, lon, weight, count``."""
    selection = _selection(date_from, date_to, scope, category, status, tz, bbox=bbox)
    lon, lat = store.case_points(session, selection)
    return logic.heat_points(lon, lat, bbox=bbox, max_points=max_points)


def gistar(session: Session, date_from: Day, date_to: Day, scope: str = "", category: Any = None, *,
           permutations: int = PERMUTATIONS, seed: int | None = None, pvalue: str = "exact",
           status: str = "all", tz: str = TIMEZONE) -> gpd.GeoDataFrame:
    """Getis-Ord Gi* hot and cold spots over the grids in scope: ``code, name, parent_code, count,
    z, p, p_norm, p_fdr, bin, class, label, neighbours, geometry`` (see ``geo.domain.hotspots.gistar``).

    Queen weights are cached per (database, grid version, scope) in the process. Call
    ``warm_gistar()`` at worker start: the first Gi* in a process compiles for ≈ 16 s.
    """
    if not 0 < permutations <= 99_999:
        raise InvalidInput("permutations 应在 1–99999 之间（默认 999）。", field="permutations")
    selection = _selection(date_from, date_to, scope, category, status, tz)
    version = store.grid_version(session)
    grids = store.grid_counts(session, selection)
    if version is None or grids.empty:
        none = np.empty(0, dtype=np.int64)
        empty = getis_ord.gistar([], getis_ord.Contiguity(0, none, none))
        return gpd.GeoDataFrame(pd.concat([grids[[*_GRID_COLUMNS, "count"]], empty], axis=1),
                                geometry=grids.geometry, crs="EPSG:4326")
    key = (version.database, version.id, version.valid_from, version.feature_count, selection.scope)
    weights, _ = CONTIGUITY_CACHE.get(key, lambda: getis_ord.queen_contiguity(grids.geometry.to_numpy()))
    result = getis_ord.gistar(grids["count"].to_numpy(), weights, permutations=permutations, seed=seed, pvalue=pvalue)
    result.index = grids.index
    out = pd.concat([grids[[*_GRID_COLUMNS, "count"]], result], axis=1)
    return gpd.GeoDataFrame(out, geometry=grids.geometry, crs="EPSG:4326")


def period_change(session: Session, a_from: Day, a_to: Day, b_from: Day, b_to: Day, scope: str = "",
                  category: Any = None, *, status: str = "all", tz: str = TIMEZONE) -> gpd.GeoDataFrame:
    """Per grid, period a (the base) against period b: ``code, name, parent_code, count_a, count_b,
    change, ratio, pct_change, geometry`` (ratio and percent change empty when count_a is 0)."""
    selection = _selection(None, None, scope, category, status, tz)
    periods = {"count_a": logic.period_bounds(a_from, a_to, tz), "count_b": logic.period_bounds(b_from, b_to, tz)}
    grids = store.grid_counts(session, selection, periods)
    change = logic.period_change(grids["count_a"], grids["count_b"])
    out = pd.concat([grids[_GRID_COLUMNS], change], axis=1)
    return gpd.GeoDataFrame(out, geometry=grids.geometry, crs="EPSG:4326")


def recurring(session: Session, min_count: int = 3, days: float = 30, scope: str = "", *,
              date_from: Day = None, date_to: Day = None, category: Any = None, status: str = "all",
              tz: str = TIMEZONE) -> pd.DataFrame:
    """Monthly-topic (每月一题) candidates: the same grid and category at least ``min_count`` times
    within ``days``: ``grid_code, grid_name, category_code, category_name, count, first, last, total``."""
    selection = _selection(date_from, date_to, scope, category, status, tz)
    cases = store.recurring_cases(session, selection, min_count=min_count)
    found = logic.recurring(cases, min_count=min_count, days=days)
    grid_names, category_names = store.grid_and_category_names(
        session, found["grid_code"].astype(str).tolist(), found["category_code"].astype(str).tolist())
    found.insert(1, "grid_name", found["grid_code"].map(grid_names))
    found.insert(3, "category_name", found["category_code"].map(category_names))
    return found


def _selection(date_from: Day, date_to: Day, scope: str, category: Any, status: str, tz: str, *,
               bbox: tuple[float, float, float, float] | None = None) -> store.CaseSelection:
    """Check the common arguments and turn them into a storage selection."""
    if not _SCOPE.match(scope or ""):
        raise InvalidInput(f"范围 scope={scope!r} 应为区划/网格编码前缀（仅数字）。", field="scope", code="bad_scope")
    if status not in logic.STATUS_GROUPS:
        raise InvalidInput(f"状态组 status={status!r} 无效，可选：{', '.join(logic.STATUS_GROUPS)}。",
                           field="status", code="bad_status")
    categories = _categories(category)
    if bbox is not None and not (bbox[0] < bbox[2] and bbox[1] < bbox[3]):
        raise InvalidInput("bbox 应为 西,南,东,北（经纬度，西 < 东，南 < 北）。", field="bbox", code="bad_bbox")
    start, end = logic.period_bounds(date_from, date_to, tz)
    return store.CaseSelection(statuses=logic.STATUS_GROUPS[status], categories=categories, scope=scope or "",
                               bbox=bbox, reported_from=start, reported_to=end)


def _categories(category: Any) -> tuple[str, ...]:
    if category is None or category == "":
        return ()
    codes = (category,) if isinstance(category, str) else tuple(category)
    bad = [c for c in codes if not isinstance(c, str) or not _CATEGORY.match(c)]
    if bad:
        raise InvalidInput(f"问题分类 {bad[0]!r} 无效：应为 4 位分类编码或 2 位大类编码。", field="category",
                           code="bad_category")
    return codes
