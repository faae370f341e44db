"""Cases API: create (POST), list as GeoJSON with filters, read one; the category list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint

from geo.cases import parse_time, zone
from geo.errors import TooLarge
from geo.services import cases as case_service
from geo.services.reference import list_categories
from geo.store.cases import CaseFilters
from webmap.config import case_settings
from webmap.db import commit, get_session
from webmap.params import parse_bbox
from webmap.schemas import ApiError, CaseCreate, CaseQuery

bp = Blueprint("cases", __name__, url_prefix="/api", description="案件：上报、查询")

#: JSON bodies of the case API are small; anything larger is refused before parsing.
JSON_BODY_MAX = 64 * 1024
GEOJSON = "application/geo+json"


@bp.before_request
def _limit_body() -> None:
    if request.method == "POST" and (request.content_length or 0) > JSON_BODY_MAX:
        raise TooLarge(f"请求体太大（最多 {JSON_BODY_MAX // 1024} KB）。", field="body")


@bp.post("/cases")
@bp.arguments(CaseCreate)
@bp.response(201)
@bp.alt_response(409, schema=ApiError, description="source + external_id 已存在")
@bp.alt_response(422, schema=ApiError, description="参数不合法、分类不存在或位置不在任何网格内（outside_area）")
def create_case(body: dict[str, Any]) -> Response:
    """上报一个案件：换算坐标、定位到网格、按责任清单派给部门，返回编号、各级区划、部门、时限和疑似重复。"""
    case = case_service.create_case(get_session(), case_service.NewCase(**body),
                                    settings=case_settings(current_app.config))
    commit()
    response = jsonify(case)
    response.status_code = 201
    response.headers["Location"] = f"/api/cases/{case['id']}"
    return response


@bp.get("/cases")
@bp.arguments(CaseQuery, location="query")
@bp.response(200)
def list_cases(query: dict[str, Any]) -> Response:
    """案件列表（GeoJSON FeatureCollection，新的在前）；用 next 作为 cursor 翻页。"""
    area = next((query.get(k) for k in ("grid", "community", "street", "district", "area") if query.get(k)), None)
    filters = CaseFilters(
        statuses=_split(query.get("status")), categories=_split(query.get("category")), area=area,
        bbox=parse_bbox(query.get("bbox")), source=query.get("source"),
        reported_from=_time(query.get("from_"), "from"), reported_to=_time(query.get("to"), "to"),
    )
    page = case_service.list_cases(get_session(), filters, limit=query["limit"], cursor=query.get("cursor"))
    return Response(current_app.json.dumps(page), mimetype=GEOJSON)


@bp.get("/cases/<case_id>")
@bp.response(200)
@bp.alt_response(404, schema=ApiError)
def get_case(case_id: str) -> Response:
    """一个案件（GeoJSON Feature）。"""
    return Response(current_app.json.dumps(case_service.get_case(get_session(), case_id)), mimetype=GEOJSON)


@bp.get("/categories")
@bp.response(200)
def categories() -> Response:
    """问题分类（编码、名称、大类、默认紧急程度、处置时限、计时方式）。"""
    return jsonify(categories=list_categories(get_session()))


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _time(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    return parse_time(value, zone(current_app.config["GRIDMAP_TIMEZONE"]), now=None, field=field)
