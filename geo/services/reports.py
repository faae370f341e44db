"""Statistics tables for planners: measures of one level (or of departments) as a table, and as
the files they open in Excel and QGIS (CSV, XLSX, GeoJSON, GeoPackage with boundary shapes)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from geo.domain import stats
from geo.domain.errors import InvalidInput
from geo.domain.exports import TABLE_FORMATS, write_table
from geo.services import stats as stats_service
from geo.store import boundaries as boundary_store
from geo.store import reference as reference_store

__all__ = ["DEPARTMENTS", "STATS_LEVELS", "export_measures", "measures_table"]

DEPARTMENTS = "departments"
#: What a statistics table can be about: a boundary level, or the departments.
STATS_LEVELS = (*stats.LEVELS, DEPARTMENTS)
#: Rates show as percentages in XLSX.
PERCENT = tuple(rate for rate, _, _ in stats.RATES)


def _check_level(level: str) -> None:
    if level not in STATS_LEVELS:
        raise InvalidInput(f"统计对象 {level!r} 无效，可选：{', '.join(STATS_LEVELS)}。", field="level",
                           code="bad_level")


def measures_table(session: Session, level: str, *, date_from: date | None = None, date_to: date | None = None,
                   scope: str = "", weights: stats.Weights | Mapping[str, float] | None = None,
                   catch_up: bool = True) -> pd.DataFrame:
    """The measures of every boundary of ``level`` a user of ``scope`` may see, or of every department.
    ``catch_up=False``: do not fold new events first (a read-only replica; see geo.services.stats)."""
    _check_level(level)
    if level == DEPARTMENTS:
        return stats_service.department_measures(session, date_from, date_to, weights, catch_up=catch_up)
    return stats_service.boundary_measures(session, level, date_from, date_to, scope=scope, weights=weights,
                                           catch_up=catch_up)


def _shapes(session: Session, level: str, codes: pd.Series) -> gpd.GeoSeries:
    if level == DEPARTMENTS:
        by_code = reference_store.department_shapes(session)
    else:
        features = boundary_store.current_features(session, level)
        by_code = dict(zip(features.codes, features.geoms, strict=True))
    return gpd.GeoSeries([by_code.get(code) for code in codes], crs=4326)


def export_measures(session: Session, level: str, fmt: str, path: str | Path, *, date_from: date | None = None,
                    date_to: date | None = None, scope: str = "",
                    weights: stats.Weights | Mapping[str, float] | None = None, catch_up: bool = True) -> int:
    """Write the measures table as ``fmt`` (csv, xlsx, geojson, gpkg); returns the rows written.
    Departments without a jurisdiction polygon get an empty geometry in GeoJSON/GeoPackage."""
    if fmt not in TABLE_FORMATS:
        raise InvalidInput(f"导出格式 {fmt!r} 不支持，可选：{', '.join(TABLE_FORMATS)}。", field="format",
                           code="bad_format")
    frame = measures_table(session, level, date_from=date_from, date_to=date_to, scope=scope, weights=weights,
                           catch_up=catch_up)
    geometry = _shapes(session, level, frame["code"]) if fmt in ("geojson", "gpkg") else None
    return write_table(frame, path, fmt, headers=stats_service.headers(session, frame), percent=PERCENT,
                       geometry=geometry, layer=f"{level}_stats")
