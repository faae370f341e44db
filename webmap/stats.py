"""Statistics API for street leaders and planners: measures per boundary or department, as JSON for
the page and as CSV / XLSX / GeoJSON / GeoPackage downloads; the monthly trend."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify
from flask_smorest import Blueprint

from geo.domain.stats import Weights
from geo.services import reports
from webmap.auth import current
from webmap.config import score_weights
from webmap.db import commit, get_read_session, reads_from_replica
from webmap.schemas import ApiError, StatsQuery, TrendQuery

bp = Blueprint("stats", __name__, url_prefix="/api/stats", description="统计：指标、排名、趋势、导出")

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}


def _reading() -> reports.Reading:
    return reports.Reading(read_only=reads_from_replica(),
                           max_backlog=int(current_app.config["GRIDMAP_STATS_MAX_BACKLOG"]),
                           rank_min_cases=int(current_app.config["GRIDMAP_RANK_MIN_CASES"]))


def _weights(query: dict[str, Any]) -> Weights:
    given = {k: query[f"w_{k}"] for k in ("response", "resolution", "satisfaction") if f"w_{k}" in query}
    return reports.weights(score_weights(current_app.config), given)


@bp.get("/<level>.<fmt>")
@bp.arguments(StatsQuery, location="query")
@bp.response(200)
@bp.alt_response(403, schema=ApiError, description="部门人员不能读区域统计")
@bp.alt_response(404, schema=ApiError, description="层级或格式不存在")
def measures(query: dict[str, Any], level: str, fmt: str) -> Response:
    """指标表：level 为 district、street、community、grid 或 departments；fmt 为 json（页面用）、csv
    （UTF-8 带 BOM；供程序和 GIS 用，英文列名；excel=true 时为 Excel 用：中文表头、编码写成 ="…" 保持文本）、
    xlsx（中文表头、编码为文本，另有“说明”工作表：范围、日期、生成时间和各率的定义）、geojson、gpkg（带边界）。日期按受理时间（北京时间，两端含）。
    每行：编码、名称、上级编码、案件数、各率（分子分母并列；分母为 0 时为空）、综合得分与排名（并列同名次）、
    中位时长、超期数、重复投诉数、各状态与各分类数量。范围外的边界不返回。request_type 只统计该诉求类型的案件。"""
    fields = tuple(c.strip() for c in (query.get("fields_") or "").split(",") if c.strip())
    result = reports.measures(get_read_session(), current(), reports.MeasuresQuery(
        level, fmt, query.get("from_"), query.get("to"), _weights(query), fields, query.get("request_type"),
        query.get("excel", False)),
        _reading())
    commit()  # the fact table caught up with new events
    if isinstance(result, reports.MeasuresTable):
        response = jsonify(level=result.level, columns=result.columns, headers=result.headers, rows=result.rows,
                           behind=result.behind)
    else:
        response = Response(result.data, mimetype=MIMETYPES[fmt])
        response.headers["Content-Disposition"] = f'attachment; filename="{result.name}"'
        response.headers["Cache-Control"] = "private, no-store"
    return _lag(response, result.behind)


def _lag(response: Response, behind: int) -> Response:
    """``X-Gridmap-Stats-Behind``: how many new case events the figures do not count yet."""
    if behind:
        response.headers["X-Gridmap-Stats-Behind"] = str(behind)
    return response


@bp.get("/trend")
@bp.arguments(TrendQuery, location="query")
@bp.response(200)
def trend(query: dict[str, Any]) -> Response:
    """按月趋势（最近 months 个月，旧的在前）：案件数与三率（分子分母并列）及综合得分。code 为空时是范围内全部案件。"""
    result = reports.trend(get_read_session(), current(), query["level"], query.get("code"), query["months"],
                           weights=_weights({}), reading=_reading(), request_type=query.get("request_type"))
    commit()
    return _lag(jsonify(**result), result["behind"])
