"""JSON API: boundary layers as GeoJSON, boundary search. Handlers parse, call, serialize."""

from __future__ import annotations

from flask import Response, jsonify, request
from flask_smorest import Blueprint

from geo.domain.boundaries import LEVELS
from geo.domain.errors import NotFound
from geo.services import boundaries as boundary_service
from webmap.db import get_read_session
from webmap.params import parse_bbox, parse_float, parse_int
from webmap.schemas import ApiError

bp = Blueprint("boundaries", __name__, description="边界：区、街道、社区、网格")

GEOJSON_MIMETYPE = "application/geo+json"


@bp.get("/api/boundaries/<level>.geojson")
@bp.response(200, content_type=GEOJSON_MIMETYPE)
@bp.alt_response(404, schema=ApiError, description="没有这个层级")
def boundary_layer(level: str) -> Response:
    """当前版本的一个层级（RFC 7946 GeoJSON）；bbox、zoom（按像素简化）、limit。"""
    if level not in LEVELS:
        raise NotFound(f"没有层级 {level!r}，可选：{', '.join(LEVELS)}。", field="level")
    body = boundary_service.boundary_layer_geojson(
        get_read_session(),
        level,
        bbox=parse_bbox(request.args.get("bbox")),
        zoom=parse_float(request.args.get("zoom"), field="zoom", low=0, high=24),
        limit=parse_int(request.args.get("limit"), field="limit", low=1,
                        high=boundary_service.MAX_FEATURES, default=boundary_service.MAX_FEATURES),
    )
    return Response(body, mimetype=GEOJSON_MIMETYPE)


@bp.get("/api/boundaries/search")
@bp.response(200)
def boundary_search() -> Response:
    """按编码前缀或名称查找边界（地图“跳转到”）。"""
    limit = parse_int(request.args.get("limit"), field="limit", low=1, high=100, default=20)
    return jsonify(results=boundary_service.search_boundaries(get_read_session(), request.args.get("q", ""),
                                                              limit=limit))
