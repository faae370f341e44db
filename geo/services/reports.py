"""Statistics tables for planners: measures of one level (or of departments) as a table, and as
the files they open in Excel and QGIS (CSV, XLSX, GeoJSON, GeoPackage with boundary shapes)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import pandas as pd
from sqlalchemy.orm import Session

from geo.domain import geojson, stats
from geo.domain.boundaries import LEVEL_NAMES
from geo.domain.errors import InvalidInput, NotFound
from geo.domain.exports import TABLE_FORMATS, write_table
from geo.domain.permissions import User, statistics_area
from geo.domain.requesters import REQUEST_TYPES, check_request_type
from geo.services import boundaries as boundary_service
from geo.services import stats as stats_service
from geo.store import boundaries as boundary_store
from geo.store import reference as reference_store

__all__ = ["DEPARTMENTS", "FORMATS", "STATS_LEVELS", "MeasuresFile", "MeasuresQuery", "MeasuresTable", "Reading",
           "catch_up_or_lag", "export_measures", "may_catch_up", "measures", "measures_table", "trend", "weights"]

DEPARTMENTS = "departments"
#: What a statistics table can be about: a boundary level, or the departments.
STATS_LEVELS = (*stats.LEVELS, DEPARTMENTS)
#: What a measures request can answer with: the page's JSON or a file.
FORMATS = ("json", *TABLE_FORMATS)
#: Rates show as percentages in XLSX.
PERCENT = tuple(rate for rate, _, _ in stats.RATES)


def _check_level(level: str) -> None:
    if level not in STATS_LEVELS:
        raise InvalidInput(f"统计对象 {level!r} 无效，可选：{', '.join(STATS_LEVELS)}。", field="level",
                           code="bad_level")


def measures_table(session: Session, level: str, *, date_from: date | None = None, date_to: date | None = None,
                   scope: str = "", weights: stats.Weights | Mapping[str, float] | None = None,
                   catch_up: bool = True, min_cases: int = 0, request_type: str | None = None) -> pd.DataFrame:
    """The measures of every boundary of ``level`` a user of ``scope`` may see, or of every department
    (over the cases of ``request_type`` only, when given).
    ``catch_up=False``: do not fold new events first (a read-only replica; see geo.services.stats)."""
    _check_level(level)
    if level == DEPARTMENTS:
        return stats_service.department_measures(session, date_from, date_to, weights, catch_up=catch_up,
                                                 min_cases=min_cases, request_type=request_type)
    return stats_service.boundary_measures(session, level, date_from, date_to, scope=scope, weights=weights,
                                           catch_up=catch_up, min_cases=min_cases, request_type=request_type)


def _shapes(session: Session, level: str, codes: pd.Series) -> gpd.GeoSeries:
    if level == DEPARTMENTS:
        by_code = reference_store.department_shapes(session)
    else:
        features = boundary_store.current_features(session, level)
        by_code = dict(zip(features.codes, features.geoms, strict=True))
    return gpd.GeoSeries([by_code.get(code) for code in codes], crs=4326)


def export_measures(session: Session, level: str, fmt: str, path: str | Path, *, date_from: date | None = None,
                    date_to: date | None = None, scope: str = "",
                    weights: stats.Weights | Mapping[str, float] | None = None, catch_up: bool = True,
                    min_cases: int = 0, request_type: str | None = None, excel: bool = False,
                    created_at: datetime | None = None) -> int:
    """Write the measures table as ``fmt`` (csv, xlsx, geojson, gpkg); returns the rows written.
    ``excel``: a CSV for spreadsheets (Chinese headers, codes kept as text). An XLSX carries a second
    sheet, 说明: level, scope, date range, request type, ``created_at`` and the rates' definitions.
    Departments without a jurisdiction polygon get an empty geometry in GeoJSON/GeoPackage."""
    if fmt not in TABLE_FORMATS:
        raise InvalidInput(f"导出格式 {fmt!r} 不支持，可选：{', '.join(TABLE_FORMATS)}。", field="format",
                           code="bad_format")
    frame = measures_table(session, level, date_from=date_from, date_to=date_to, scope=scope, weights=weights,
                           catch_up=catch_up, min_cases=min_cases, request_type=request_type)
    geometry = _shapes(session, level, frame["code"]) if fmt in ("geojson", "gpkg") else None
    notes = _notes(session, level, scope, date_from, date_to, request_type, stats.Weights.of(weights),
                   created_at or datetime.now(UTC)) if fmt == "xlsx" else ()
    return write_table(frame, path, fmt, headers=stats_service.headers(session, frame), percent=PERCENT,
                       geometry=geometry, layer=f"{level}_stats", excel=excel, notes=notes)


def _notes(session: Session, level: str, scope: str, date_from: date | None, date_to: date | None,
           request_type: str | None, weights: stats.Weights, created_at: datetime) -> list[tuple[str, str]]:
    """The 说明 sheet: what the table covers (level, scope, dates, request type), when it was made,
    and what its rates mean."""
    what = "部门" if level == DEPARTMENTS else LEVEL_NAMES[level]
    area = "全部部门" if level == DEPARTMENTS else (
        f"{boundary_store.names_of(session, [scope]).get(scope, scope)}（{scope}）" if scope else "全市")
    dates = (f"{date_from.isoformat() if date_from else '最早'} 至 {date_to.isoformat() if date_to else '今天'}"
             if date_from or date_to else "全部日期")
    local = created_at.astimezone(ZoneInfo(stats.TIMEZONE))
    rows = [("内容", f"按{what}统计的指标"), ("范围", area), ("受理日期", f"{dates}（北京时间，两端含）"),
            ("诉求类型", REQUEST_TYPES.get(request_type or "", "全部")),
            ("生成时间", local.strftime("%Y-%m-%d %H:%M:%S") + "（北京时间）")]
    return rows + stats.definitions(weights)


# --- requests from the web: who may read what, whether to fold first, which file --------------------


@dataclass(frozen=True)
class Reading:
    """How statistics may be read: ``read_only`` on a replica (never fold there: `gridmap stats
    refresh` does it on the primary), and the largest backlog a request may fold itself."""

    read_only: bool = False
    max_backlog: int = 100_000
    #: Boundaries (and departments) with fewer cases in the period are shown but not ranked.
    rank_min_cases: int = 0


@dataclass(frozen=True)
class MeasuresQuery:
    level: str
    fmt: str = "json"
    date_from: date | None = None
    date_to: date | None = None
    weights: stats.Weights = field(default_factory=stats.Weights)
    fields: tuple[str, ...] = ()
    request_type: str | None = None
    #: A CSV for spreadsheets (Chinese headers, codes as text) rather than for programs and GIS.
    excel: bool = False


@dataclass(frozen=True)
class MeasuresTable:
    level: str
    columns: list[str]
    headers: dict[str, str]
    rows: list[dict[str, Any]]
    #: new case events not in these figures yet (folded by the stats_fold job; 0: current)
    behind: int = 0


@dataclass(frozen=True)
class MeasuresFile:
    name: str
    data: bytes
    behind: int = 0


def weights(base: stats.Weights, given: Mapping[str, float]) -> stats.Weights:
    """The configured weights with a request's overrides (``response``, ``resolution``, ``satisfaction``)."""
    if not given:
        return base
    try:
        return stats.Weights(**{"response": base.response, "resolution": base.resolution,
                                "satisfaction": base.satisfaction, **given})
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"权重无效：{exc}", field="w_response", code="bad_weights") from exc


def catch_up_or_lag(session: Session, reading: Reading) -> tuple[bool, int]:
    """Whether this request folds new events into the facts first, and if not, how many events its
    answer is behind. Never on a replica (the stats_fold job folds on the primary). Never a backlog
    so large that the request would take minutes (a bulk import run with ``--no-stats``): then the
    answer comes from the facts as they stand, marked with how far behind they are, and the
    stats_fold background job folds them within a minute. A request never fails or waits for a
    backlog its user did not cause."""
    if reading.read_only:
        return False, 0
    pending = stats_service.facts_backlog(session)
    if pending > reading.max_backlog:
        return False, pending
    return True, 0


def may_catch_up(session: Session, reading: Reading) -> bool:
    """``catch_up_or_lag`` without the lag."""
    return catch_up_or_lag(session, reading)[0]


def _range_name(date_from: date | None, date_to: date | None) -> str:
    return "_".join(d.isoformat() if d else "all" for d in (date_from, date_to))


def measures(session: Session, user: User, query: MeasuresQuery, reading: Reading) -> MeasuresTable | MeasuresFile:
    """The measures a user may read, as the page's table or as a file (csv, xlsx, geojson, gpkg)."""
    if query.level not in STATS_LEVELS or query.fmt not in FORMATS:
        raise NotFound(f"没有 {query.level}.{query.fmt}：层级可选 {', '.join(STATS_LEVELS)}，"
                       f"格式可选 {', '.join(FORMATS)}。", field="level", code="not_found")
    request_type = check_request_type(query.request_type)  # a Chinese name → its code (file names stay ASCII)
    catch_up, behind = catch_up_or_lag(session, reading)
    scope = statistics_area(user, departments=query.level == DEPARTMENTS)
    if query.fmt != "json":
        with tempfile.TemporaryDirectory(prefix="gridmap-stats-") as folder:
            kind = f"-{request_type}" if request_type else ""
            kind += "-excel" if query.excel and query.fmt == "csv" else ""
            path = (Path(folder) / f"gridmap-{query.level}-{_range_name(query.date_from, query.date_to)}{kind}"
                    f".{query.fmt}")
            export_measures(session, query.level, query.fmt, path, date_from=query.date_from,
                            date_to=query.date_to, scope=scope, weights=query.weights, catch_up=catch_up,
                            min_cases=reading.rank_min_cases, request_type=request_type, excel=query.excel)
            return MeasuresFile(path.name, path.read_bytes(), behind)
    frame = measures_table(session, query.level, date_from=query.date_from, date_to=query.date_to, scope=scope,
                           weights=query.weights, catch_up=catch_up, min_cases=reading.rank_min_cases,
                           request_type=request_type)
    unknown = [c for c in query.fields if c not in frame.columns]
    if unknown:
        raise InvalidInput(f"没有这些列：{', '.join(unknown)}。", field="fields", code="bad_fields")
    columns = list(query.fields) or list(frame.columns)
    if query.fields and "code" not in query.fields:
        columns = ["code", *columns]
    return MeasuresTable(query.level, columns, stats_service.headers(session, frame[columns]),
                         geojson.records(frame, columns), behind)


def trend(session: Session, user: User, level: str, code: str | None, months: int, *, weights: stats.Weights,
          reading: Reading, request_type: str | None = None) -> dict[str, Any]:
    """The monthly trend of one boundary (or department), or of the user's whole area."""
    area = statistics_area(user, departments=level == DEPARTMENTS)
    if code is None and area:  # a scoped user's whole area: the boundary their scope names
        area_level = boundary_service.level_of(session, area)
        if area_level is None:
            raise InvalidInput(f"您的范围 {area} 不是当前任何边界的编码。", field="code", code="bad_code")
        level, code = area_level, area
    if code is not None and not code.startswith(area):
        raise NotFound(f"{code} 不在您的范围内。", field="code", code="not_found")
    catch_up, behind = catch_up_or_lag(session, reading)
    frame = stats_service.monthly_trend(session, level, code, months, weights=weights,
                                        catch_up=catch_up, request_type=request_type)
    return {"level": level, "code": code, "rows": geojson.records(frame), "behind": behind}
