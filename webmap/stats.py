"""Statistics API for street leaders and planners: measures per boundary or department, as JSON for
the page and as CSV / XLSX / GeoJSON / GeoPackage downloads; the monthly trend."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any

from flask import Response, current_app, jsonify
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from geo.domain import geojson, stats
from geo.domain.errors import InvalidInput, NotFound, Unavailable
from geo.domain.permissions import User, statistics_area
from geo.services import boundaries as boundary_service
from geo.services import reports
from geo.services import stats as stats_service
from webmap.auth import current
from webmap.config import score_weights
from webmap.db import commit, get_read_session, reads_from_replica
from webmap.schemas import ApiError, StatsQuery, TrendQuery

bp = Blueprint("stats", __name__, url_prefix="/api/stats", description="统计：指标、排名、趋势、导出")

FORMATS = ("json", *reports.TABLE_FORMATS)
MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}


def _weights(query: dict[str, Any]) -> stats.Weights:
    base = score_weights(current_app.config)
    given = {k: query[f"w_{k}"] for k in ("response", "resolution", "satisfaction") if f"w_{k}" in query}
    if not given:
        return base
    try:
        return stats.Weights(**{**{"response": base.response, "resolution": base.resolution,
                                   "satisfaction": base.satisfaction}, **given})
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"权重无效：{exc}", field="w_response", code="bad_weights") from exc


def _may_catch_up(session: Session) -> bool:
    """Whether this request folds new events into the facts first. Never on a replica (read-only:
    `gridmap stats refresh` does it on the primary), and never a backlog so large that the request
    would take minutes (after a bulk import): then 503 with the command that fixes it."""
    if reads_from_replica():
        return False
    pending = stats_service.facts_backlog(session)
    limit = int(current_app.config["GRIDMAP_STATS_MAX_BACKLOG"])
    if pending > limit:
        raise Unavailable(f"有 {pending} 条新的案件事件还没计入统计（多于 {limit}，如刚批量导入）。"
                          "请管理员运行 gridmap stats refresh，完成后再查看统计。", field="facts", code="stats_backlog")
    return True


def area_of(user: User, level: str) -> str:
    return statistics_area(user, departments=level == reports.DEPARTMENTS)


def _range_name(query: dict[str, Any]) -> str:
    part = [d.isoformat() if isinstance(d, date) else "all" for d in (query.get("from_"), query.get("to"))]
    return f"{part[0]}_{part[1]}"


@bp.get("/<level>.<fmt>")
@bp.arguments(StatsQuery, location="query")
@bp.response(200)
@bp.alt_response(403, schema=ApiError, description="部门人员不能读区域统计")
@bp.alt_response(404, schema=ApiError, description="层级或格式不存在")
def measures(query: dict[str, Any], level: str, fmt: str) -> Response:
    """指标表：level 为 district、street、community、grid 或 departments；fmt 为 json（页面用）、csv
    （UTF-8 带 BOM）、xlsx（中文表头、编码为文本）、geojson、gpkg（带边界）。日期按受理时间（北京时间，两端含）。
    每行：编码、名称、上级编码、案件数、各率（分子分母并列；分母为 0 时为空）、综合得分与排名（并列同名次）、
    中位时长、超期数、重复投诉数、各状态与各分类数量。范围外的边界不返回。"""
    if level not in reports.STATS_LEVELS or fmt not in FORMATS:
        raise NotFound(f"没有 {level}.{fmt}：层级可选 {', '.join(reports.STATS_LEVELS)}，"
                       f"格式可选 {', '.join(FORMATS)}。", field="level", code="not_found")
    session = get_read_session()
    catch_up = _may_catch_up(session)
    scope = area_of(current(), level)
    date_from, date_to, weights = query.get("from_"), query.get("to"), _weights(query)
    if fmt == "json":
        frame = reports.measures_table(session, level, date_from=date_from, date_to=date_to, scope=scope,
                                       weights=weights, catch_up=catch_up)
        commit()  # the fact table caught up with new events
        wanted = [c.strip() for c in (query.get("fields_") or "").split(",") if c.strip()]
        unknown = [c for c in wanted if c not in frame.columns]
        if unknown:
            raise InvalidInput(f"没有这些列：{', '.join(unknown)}。", field="fields", code="bad_fields")
        columns = wanted or list(frame.columns)
        if wanted and "code" not in wanted:
            columns = ["code", *wanted]
        return jsonify(level=level, columns=columns, headers=stats_service.headers(session, frame[columns]),
                       rows=geojson.records(frame, columns))
    with tempfile.TemporaryDirectory(prefix="gridmap-stats-") as folder:
        path = Path(folder) / f"gridmap-{level}-{_range_name(query)}.{fmt}"
        reports.export_measures(session, level, fmt, path, date_from=date_from, date_to=date_to, scope=scope,
                                weights=weights, catch_up=catch_up)
        commit()
        data = path.read_bytes()
    response = Response(data, mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{path.name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/trend")
@bp.arguments(TrendQuery, location="query")
@bp.response(200)
def trend(query: dict[str, Any]) -> Response:
    """按月趋势（最近 months 个月，旧的在前）：案件数与三率（分子分母并列）及综合得分。code 为空时是范围内全部案件。"""
    level, code = query["level"], query.get("code")
    area = area_of(current(), level)
    session = get_read_session()
    if code is None and area:  # a scoped user's whole area: the boundary their scope names
        level, code = boundary_service.level_of(session, area), area
        if level is None:
            raise InvalidInput(f"您的范围 {area} 不是当前任何边界的编码。", field="code", code="bad_code")
    if code is not None and not code.startswith(area):
        raise NotFound(f"{code} 不在您的范围内。", field="code", code="not_found")
    frame = stats_service.monthly_trend(session, level, code, query["months"], weights=_weights({}),
                                        catch_up=_may_catch_up(session))
    commit()
    return jsonify(level=level, code=code, rows=geojson.records(frame))
