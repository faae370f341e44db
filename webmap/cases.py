"""Cases API: create (POST), list as GeoJSON with filters, read one; the category list."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Response, current_app, g, jsonify, request

from geo.domain.cases import parse_time, zone
from geo.domain.errors import InvalidInput, TooLarge
from geo.domain.filters import CaseFilters
from geo.services import case_list as list_service
from geo.services import cases as case_service
from geo.services import placement as placement_service
from geo.services import workflow as workflow_service
from geo.services.reference import list_categories, list_departments
from webmap.auth import current
from webmap.config import case_settings
from webmap.db import commit, get_read_session, get_session
from webmap.params import parse_bbox
from webmap.schemas import (
    ApiBlueprint,
    ApiError,
    CaseAction,
    CaseCreate,
    CaseQuery,
    NearbyQuery,
    PlacementQuery,
    SearchQuery,
)

bp = ApiBlueprint("cases", __name__, url_prefix="/api", description="案件：上报、查询")

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
    case = case_service.create_case(get_session(), case_service.NewCase(**body), user=current(),
                                    settings=case_settings(current_app.config), integration=bool(g.get("token_auth")))
    commit()
    response = jsonify(case)
    response.status_code = 201
    response.headers["Location"] = f"/api/cases/{case['id']}"
    return response


@bp.get("/cases")
@bp.arguments(CaseQuery, location="query")
@bp.response(200)
def list_cases(query: dict[str, Any]) -> Response:
    """案件列表（GeoJSON FeatureCollection）：默认新的在前，用 next 作为 cursor 翻页；给出 sort 或 page 时按页返回
    （overdue 超期优先，按超期时长；due 时限最近；status 状态；category 分类；newest 最新），带 total、page、pages，
    每个案件带 next_due（下一个时限）、overdue_seconds（已超期秒数）和 overdue_step（超期的环节）。"""
    if "sort" in query or "page" in query:
        if query.get("cursor"):
            raise InvalidInput("按页（page/sort）读取时不用 cursor。", field="cursor", code="bad_cursor")
        page = list_service.list_page(get_read_session(), _filters(query), user=current(),
                                      sort=query.get("sort", "overdue"), page=query.get("page", 1),
                                      limit=min(query["limit"], list_service.PAGE_MAX))
    else:
        page = case_service.list_cases(get_session(), _filters(query), user=current(), limit=query["limit"],
                                       cursor=query.get("cursor"))
    return Response(current_app.json.dumps(page), mimetype=GEOJSON)


@bp.get("/search")
@bp.arguments(SearchQuery, location="query")
@bp.response(200)
def search(query: dict[str, Any]) -> Response:
    """地图搜索框：按案件编号或 12345 工单号找案件（只在自己的范围内），按编码或名称找区划，按地址库找地址。"""
    return jsonify(list_service.search(get_read_session(), query["q"], user=current(), limit=query["limit"]))


@bp.get("/cases/map")
@bp.arguments(CaseQuery, location="query")
@bp.response(200)
def case_map(query: dict[str, Any]) -> Response:
    """地图用：放大到 15 级以上返回案件点（最多 5000 个），否则按社区（13–14 级）或街道汇总数量。
    参数同案件列表，另加 zoom。"""
    layer = case_service.map_layer(get_read_session(), _filters(query), user=current(),
                                   zoom=query.get("zoom", case_service.MAP_POINTS_ZOOM))
    return Response(layer, mimetype=GEOJSON)


@bp.get("/cases/nearby")
@bp.arguments(NearbyQuery, location="query")
@bp.response(200)
def nearby(query: dict[str, Any]) -> Response:
    """上报前查重：同一分类、附近（默认 50 米、7 天内）未结案的案件。"""
    found = case_service.nearby(get_session(), lon=query["lon"], lat=query["lat"], category=query["category"],
                                crs=query["crs"], user=current(), settings=case_settings(current_app.config))
    return jsonify(possible_duplicates=found)


@bp.get("/cases/placement")
@bp.arguments(PlacementQuery, location="query")
@bp.response(200)
@bp.alt_response(422, schema=ApiError, description="位置不在任何网格内（outside_area）或坐标无效")
def placement(query: dict[str, Any]) -> Response:
    """上报前预览：该位置所在的网格、社区、街道和区（编码与名称），当前用户能否在此上报（不能时 reason
    说明原因），以及表单显示的一行 label（如“将上报到：网格001（景山社区）”）。不保存任何东西。"""
    return jsonify(placement_service.preview(get_session(), current(), query["lon"], query["lat"], query["crs"]))


@bp.get("/cases/<case_id>")
@bp.response(200)
@bp.alt_response(404, schema=ApiError)
def get_case(case_id: str) -> Response:
    """一个案件（GeoJSON Feature），含部门名称、照片和所在的吹哨。"""
    case = case_service.get_case(get_session(), case_id, user=current(), detail=True)
    return Response(current_app.json.dumps(case), mimetype=GEOJSON)


@bp.post("/cases/<case_id>/actions")
@bp.arguments(CaseAction)
@bp.response(200)
@bp.alt_response(403, schema=ApiError, description="角色、范围或主责部门不允许")
@bp.alt_response(409, schema=ApiError, description="案件当前状态不允许，或刚被别人处理过")
def case_action(body: dict[str, Any], case_id: str) -> Response:
    """推进案件：dispatch（可改派 lead_department/co_departments）、void、sign、return、respond、start、suspend、
    resolve（须填结果）、extend（申请延期，带 resolve_due）、approve_extension、deny_extension、supervise（督办）、
    note（备注）、check、reject_check、close、callback（仅 12345 接诉中心，每轮一次）、reopen（回访未解决或不满意后）。
    按状态表、角色、范围、主责部门和本轮规则检查；并发时只有一个成功，其余得到 409。"""
    callback = {k: body.get(k) for k in ("contacted", "solved", "satisfied")}
    result = workflow_service.act(get_session(), current(), case_id, body["action"], note=body.get("note", ""),
                                  lon=body.get("lon"), lat=body.get("lat"), crs=body.get("crs"), callback=callback,
                                  lead_department=body.get("lead_department"),
                                  co_departments=body.get("co_departments"), resolve_due=body.get("resolve_due"),
                                  timezone=current_app.config["GRIDMAP_TIMEZONE"])
    commit()
    return jsonify(result)


@bp.get("/cases/<case_id>/actions")
@bp.response(200)
def case_actions(case_id: str) -> Response:
    """当前用户此刻可以对案件做的操作（案件面板只显示这些按钮）：actions 为状态操作；whistle 是否可吹哨；
    check_ins 为本部门尚未报到的吹哨；photo 是否可添加照片。"""
    return jsonify(workflow_service.case_options(get_session(), current(), case_id))


@bp.get("/cases/<case_id>/events")
@bp.response(200)
def case_events(case_id: str) -> Response:
    """案件的全部事件（只追加，不可修改）：谁、什么角色、何时、何地、从什么状态到什么状态、原因。"""
    return jsonify(events=workflow_service.case_events(get_session(), current(), case_id))


@bp.get("/categories")
@bp.response(200)
def categories() -> Response:
    """问题分类（编码、名称、大类、默认紧急程度、处置时限、计时方式）。"""
    return jsonify(categories=list_categories(get_session()))


@bp.get("/departments")
@bp.response(200)
def departments() -> Response:
    """部门及其下属单位（编码、名称、上级编码、是否有辖区范围）：吹哨时选择主责和协办部门。"""
    return jsonify(departments=list_departments(get_session()))


def _filters(query: dict[str, Any]) -> CaseFilters:
    area = next((query.get(k) for k in ("grid", "community", "street", "district", "area") if query.get(k)), None)
    return CaseFilters(
        statuses=_split(query.get("status")), categories=_split(query.get("category")), area=area,
        bbox=parse_bbox(query.get("bbox")), source=query.get("source"), overdue=query.get("overdue"),
        reported_from=_time(query.get("from_"), "from"), reported_to=_time(query.get("to"), "to"),
        reported_by=current().id if query.get("mine") else None,
    )


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def _time(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    return parse_time(value, zone(current_app.config["GRIDMAP_TIMEZONE"]), now=None, field=field)
