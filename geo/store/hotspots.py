"""Hotspot reads: per-grid counts joined with the current grids, case points, recurring candidates.

Every query is parameterised; filters are built from fixed SQL fragments only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.store.case_filters import like_prefix

__all__ = [
    "CaseSelection", "GridVersion", "case_points", "grid_and_category_names", "grid_counts", "grid_version",
    "recurring_cases",
]

_CURRENT_GRID = ("boundary b JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
                 "AND v.level = 'grid'")
_COLUMN_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class CaseSelection:
    """Which cases count: statuses, category codes or 2-digit major classes, a grid-code prefix
    (the scope), a bbox (lon/lat) and a reporting time range [reported_from, reported_to)."""

    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    scope: str = ""
    bbox: tuple[float, float, float, float] | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None


@dataclass(frozen=True)
class GridVersion:
    """The current grid version and what tells it apart from a same-numbered one in another database."""

    id: int
    valid_from: datetime
    database: str
    feature_count: int


def _where(selection: CaseSelection, *, times: bool = True) -> tuple[str, dict[str, Any]]:
    clauses = ["true"]
    params: dict[str, Any] = {}
    if selection.statuses:
        clauses.append("c.status = ANY(:statuses)")
        params["statuses"] = list(selection.statuses)
    if selection.categories:
        clauses.append("c.category_code LIKE ANY(CAST(:categories AS text[]))")
        params["categories"] = [like_prefix(code) for code in selection.categories]
    if selection.scope:
        clauses.append("c.grid_code LIKE :scope")
        params["scope"] = selection.scope + "%"
    if selection.bbox:
        clauses.append("c.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)")
        params.update(x0=selection.bbox[0], y0=selection.bbox[1], x1=selection.bbox[2], y1=selection.bbox[3])
    if times and selection.reported_from is not None:
        clauses.append("c.reported_at >= :rfrom")
        params["rfrom"] = selection.reported_from
    if times and selection.reported_to is not None:
        clauses.append("c.reported_at < :rto")
        params["rto"] = selection.reported_to
    return " AND ".join(clauses), params


def grid_version(session: Session) -> GridVersion | None:
    row = session.execute(text(
        "SELECT id, valid_from, current_database(), feature_count FROM boundary_version "
        "WHERE level = 'grid' AND valid_to IS NULL")).first()
    return GridVersion(int(row[0]), row[1], str(row[2]), int(row[3])) if row else None


def grid_counts(
    session: Session, selection: CaseSelection,
    periods: Mapping[str, tuple[datetime | None, datetime | None]] | None = None, *, geometry: bool = True,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """Every current grid in the selection's scope, ordered by code: ``code, name, parent_code,
    area_m2``, one count column per period (name → [from, to); default ``count`` over the
    selection's own range) and, with ``geometry``, the grid polygon.

    Cases are matched to grids by the grid code they were routed to.
    """
    periods = periods or {"count": (selection.reported_from, selection.reported_to)}
    where, params = _where(selection, times=False)
    counts, spans = [], []
    for k, (name, (start, end)) in enumerate(periods.items()):
        if not _COLUMN_NAME.match(name):
            raise ValueError(f"bad count column name {name!r}")
        condition = ["true"]
        if start is not None:
            condition.append(f"c.reported_at >= :from{k}")
            params[f"from{k}"] = start
        if end is not None:
            condition.append(f"c.reported_at < :to{k}")
            params[f"to{k}"] = end
        counts.append(f"count(*) FILTER (WHERE {' AND '.join(condition)}) AS {name}")
        spans.append("(" + " AND ".join(condition) + ")")
    names = list(periods)
    params["grid_scope"] = selection.scope + "%"
    rows = session.execute(text(f"""
        WITH counted AS (
            SELECT c.grid_code, {', '.join(counts)}
            FROM cases c WHERE {where} AND ({' OR '.join(spans)})
            GROUP BY c.grid_code)
        SELECT b.code, b.name, b.parent_code, b.area_m2,
               {', '.join(f'coalesce(counted.{n}, 0)' for n in names)}
               {', ST_AsBinary(b.geom)' if geometry else ''}
        FROM {_CURRENT_GRID}
        LEFT JOIN counted ON counted.grid_code = b.code
        WHERE b.level = 'grid' AND b.code LIKE :grid_scope
        ORDER BY b.code"""), params).all()
    frame = pd.DataFrame({
        "code": pd.Series([r[0] for r in rows], dtype=str),
        "name": pd.Series([r[1] for r in rows], dtype=str),
        "parent_code": pd.Series([r[2] for r in rows], dtype=object),
        "area_m2": np.array([r[3] for r in rows], dtype=float),
        **{n: np.array([r[4 + i] for r in rows], dtype=np.int64) for i, n in enumerate(names)},
    })
    if not geometry:
        return frame
    polygons = shapely.from_wkb([bytes(r[4 + len(names)]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(frame, geometry=polygons, crs="EPSG:4326")


def case_points(session: Session, selection: CaseSelection) -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of every selected case, fetched as one WKB multipoint (one row, decoded in bulk)."""
    where, params = _where(selection)
    blob = session.execute(text(f"SELECT ST_AsBinary(ST_Collect(c.geom)) FROM cases c WHERE {where}"),
                           params).scalar()
    if blob is None:
        return np.empty(0), np.empty(0)
    xy = shapely.get_coordinates(shapely.from_wkb(bytes(blob)))
    return xy[:, 0].copy(), xy[:, 1].copy()


def recurring_cases(session: Session, selection: CaseSelection, *, min_count: int) -> pd.DataFrame:
    """``grid_code, category_code, reported_at`` of the selected cases whose (grid, category) pair has
    at least ``min_count`` cases in the selection (no pair below that can recur)."""
    where, params = _where(selection)
    params["min_count"] = min_count
    rows = session.execute(text(f"""
        WITH selected AS MATERIALIZED (
            SELECT c.grid_code, c.category_code, c.reported_at FROM cases c WHERE {where}),
        pairs AS (
            SELECT grid_code, category_code FROM selected GROUP BY 1, 2 HAVING count(*) >= :min_count)
        SELECT s.grid_code, s.category_code, (extract(epoch FROM s.reported_at) * 1000000)::bigint
        FROM selected s JOIN pairs USING (grid_code, category_code)"""), params).all()
    # Times travel as integer microseconds: a million datetime objects cost seconds to build.
    micros = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
    return pd.DataFrame({
        "grid_code": pd.Series([r[0] for r in rows], dtype=str),
        "category_code": pd.Series([r[1] for r in rows], dtype=str),
        "reported_at": pd.to_datetime(micros, unit="us", utc=True),
    })


def grid_and_category_names(session: Session, grids: list[str],
                            categories: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Names of current grids and of categories, for labelling result rows."""
    grid_rows = session.execute(text(
        f"SELECT b.code, b.name FROM {_CURRENT_GRID} WHERE b.level = 'grid' AND b.code = ANY(:codes)"),
        {"codes": grids}).all()
    category_rows = session.execute(text("SELECT code, name FROM category WHERE code = ANY(:codes)"),
                                    {"codes": categories}).all()
    return {r[0]: r[1] for r in grid_rows}, {r[0]: r[1] for r in category_rows}
