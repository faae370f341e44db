"""Hotspot API for street leaders and planners: Gi* hot/cold grids, case density per grid, H3 bins,
heat points, change between periods, recurring problems (每月一题 candidates)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
from flask import Response, current_app, jsonify
from flask_smorest import Blueprint

from geo.domain import geojson
from geo.domain.permissions import statistics_area
from geo.services import hotspots as hotspot_service
from webmap.auth import current
from webmap.db import get_read_session
from webmap.params import parse_bbox
from webmap.schemas import ApiError, ChangeQuery, HotspotQuery, RecurringQuery

bp = Blueprint("hotspots", __name__, url_prefix="/api/hotspots",
               description="热点：Gi*、密度、H3、热力、变化、每月一题")

GEOJSON = "application/geo+json"


def _scope() -> str:
    return statistics_area(current())


def _categories(text: str | None) -> tuple[str, ...] | None:
    codes = tuple(c.strip() for c in (text or "").split(",") if c.strip())
    return codes or None


def feature_collection(frame: gpd.GeoDataFrame, columns: list[str], *, zoom: float | None = None,
                       extra: dict[str, Any] | None = None) -> Response:
    return Response(geojson.feature_collection(frame, columns, zoom=zoom, extra=extra), mimetype=GEOJSON)


@bp.get("/gistar.geojson")
@bp.arguments(HotspotQuery, location="query")
@bp.response(200)
@bp.alt_response(403, schema=ApiError)
def gistar(query: dict[str, Any]) -> Response:
    """Getis-Ord Gi* 冷热点（网格，queen 邻接，999 次置换，FDR 校正）：class 为 hot_99/95/90、cold_99/95/90 或
    not_significant，label 为中文，另有 count、z、p、p_fdr。默认只返回冷热点（all=true 返回全部网格）。
    街道负责人只看本街道的网格。"""
    frame = hotspot_service.gistar(get_read_session(), query.get("from_"), query.get("to"), _scope(),
                                   _categories(query.get("category")), status=query["status"],
                                   tz=current_app.config["GRIDMAP_TIMEZONE"])
    shown = frame if query["all_"] else frame[frame["bin"] != 0]
    summary = {str(k): int(v) for k, v in frame["class"].value_counts().items()}
    return feature_collection(shown, ["code", "name", "count", "z", "p", "p_fdr", "bin", "class", "label"],
                              zoom=query.get("zoom"), extra={"grids": len(frame), "classes": summary})


@bp.get("/density.geojson")
@bp.arguments(HotspotQuery, location="query")
@bp.response(200)
@bp.alt_response(403, schema=ApiError)
def density(query: dict[str, Any]) -> Response:
    """每个网格的案件密度（件/平方公里）：code、name、count、area_km2、density。"""
    frame = hotspot_service.grid_density(get_read_session(), query.get("from_"), query.get("to"), _scope(),
                                         _categories(query.get("category")), status=query["status"],
                                         tz=current_app.config["GRIDMAP_TIMEZONE"])
    return feature_collection(frame, ["code", "name", "count", "area_km2", "density"], zoom=query.get("zoom"))


@bp.get("/h3.geojson")
@bp.arguments(HotspotQuery, location="query")
@bp.response(200)
@bp.alt_response(403, schema=ApiError)
def h3(query: dict[str, Any]) -> Response:
    """H3 六边形分箱（分辨率 resolution，默认 8）：cell、count 与六边形。可用 bbox 限定范围。"""
    frame = hotspot_service.h3_bins(get_read_session(), query["resolution"], query.get("from_"), query.get("to"),
                                    _scope(), _categories(query.get("category")), bbox=parse_bbox(query.get("bbox")),
                                    status=query["status"], tz=current_app.config["GRIDMAP_TIMEZONE"])
    return feature_collection(frame, ["cell", "count"], extra={"resolution": query["resolution"]})


@bp.get("/heat.json")
@bp.arguments(HotspotQuery, location="query")
@bp.response(200)
@bp.alt_response(403, schema=ApiError)
def heat(query: dict[str, Any]) -> Response:
    """热力图数据：points 为 [纬度, 经度, 权重]（最多约 4000 个，按视野聚合），max 为最大权重。"""
    frame = hotspot_service.heat_points(get_read_session(), query.get("from_"), query.get("to"), _scope(),
                                        _categories(query.get("category")), bbox=parse_bbox(query.get("bbox")),
                                        status=query["status"], tz=current_app.config["GRIDMAP_TIMEZONE"])
    points = [[round(float(r[0]), 6), round(float(r[1]), 6), round(float(r[2]), 4)]
              for r in frame[["lat", "lon", "weight"]].itertuples(index=False, name=None)]
    return jsonify(points=points, cases=int(frame["count"].sum()) if len(frame) else 0,
                   max=max((p[2] for p in points), default=0))


@bp.get("/change.geojson")
@bp.arguments(ChangeQuery, location="query")
@bp.response(200)
@bp.alt_response(403, schema=ApiError)
def change(query: dict[str, Any]) -> Response:
    """两个时段每个网格的案件数变化：count_a（基期）、count_b、change、ratio、pct_change（基期为 0 时为空）。"""
    frame = hotspot_service.period_change(get_read_session(), query["a_from"], query["a_to"], query["b_from"],
                                          query["b_to"], _scope(), _categories(query.get("category")),
                                          tz=current_app.config["GRIDMAP_TIMEZONE"])
    return feature_collection(frame, ["code", "name", "count_a", "count_b", "change", "ratio", "pct_change"],
                              zoom=query.get("zoom"))


@bp.get("/recurring.json")
@bp.arguments(RecurringQuery, location="query")
@bp.response(200)
@bp.alt_response(403, schema=ApiError)
def recurring(query: dict[str, Any]) -> Response:
    """每月一题候选：同一网格、同一分类在 days 天内至少 min_count 次（网格、分类、次数、首末时间）。"""
    frame = hotspot_service.recurring(get_read_session(), query["min_count"], query["days"], _scope(),
                                      date_from=query.get("from_"), date_to=query.get("to"),
                                      category=_categories(query.get("category")),
                                      tz=current_app.config["GRIDMAP_TIMEZONE"])
    return jsonify(candidates=geojson.records(frame), min_count=query["min_count"], days=query["days"])
