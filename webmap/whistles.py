"""Whistle (吹哨) and check-in (报到) API."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from geo.services import whistles as whistle_service
from webmap.auth import current
from webmap.db import commit, get_session
from webmap.schemas import ApiBlueprint, ApiError, WhistleCreate, WhistleQuery, WhistleReport, WhistleScore

bp = ApiBlueprint("whistles", __name__, url_prefix="/api", description="吹哨报到")


def _settings() -> whistle_service.WhistleSettings:
    cfg = current_app.config
    return whistle_service.WhistleSettings(arrival_minutes=cfg["GRIDMAP_WHISTLE_ARRIVAL_MINUTES"],
                                           on_site_m=cfg["GRIDMAP_CHECKIN_MAX_M"])


@bp.get("/whistles")
@bp.arguments(WhistleQuery, location="query")
@bp.response(200)
def list_whistles(query: dict[str, Any]) -> Response:
    """用户可见的吹哨（新的在前，分页）：status 为 open（默认）、closed 或 all。每条带可见的案件（含位置）、
    召集的部门及报到状态（due_at、reported_at、state：on_time 按时、late 迟到、missed 超时未到、excused
    吹哨先结束免计、pending 待报到）、评分和本人还可评分的部门（to_score）。街道、社区负责人看辖区内的，
    部门人员看本部门被召集或发起的，规划、12345 和管理员看范围内的。"""
    return jsonify(whistle_service.list_whistles(get_session(), current(), status=query["status"],
                                                 limit=query["limit"], cursor=query.get("cursor")))


@bp.post("/whistles")
@bp.arguments(WhistleCreate)
@bp.response(201)
@bp.alt_response(403, schema=ApiError)
@bp.alt_response(409, schema=ApiError)
def blow(body: dict[str, Any]) -> tuple[Response, int]:
    """为未办结案件吹哨，召集主责部门和协办部门，各部门须在时限内到场报到：街道负责人为本街道的案件，
    社区负责人为本社区的案件，部门人员为本部门主责的案件（召集其他部门）。"""
    whistle = whistle_service.blow(get_session(), current(), case_nos=body["case_ids"],
                                   lead=body["lead_department"], co=body["co_departments"], reason=body["reason"],
                                   note=body["note"], settings=_settings())
    commit()
    return jsonify(whistle), 201


@bp.post("/whistles/<int:whistle_id>/reports")
@bp.arguments(WhistleReport)
@bp.response(201)
@bp.alt_response(422, schema=ApiError, description="离案件太远（not_on_site）等")
def report(body: dict[str, Any], whistle_id: int) -> tuple[Response, int]:
    """被召集部门到场报到（带位置）；离案件超过 GRIDMAP_CHECKIN_MAX_M 米拒绝，超过到场时限记为迟到。"""
    recorded = whistle_service.report(get_session(), current(), whistle_id, lon=body["lon"], lat=body["lat"],
                                      crs=body["crs"], settings=_settings())
    commit()
    return jsonify(recorded), 201


@bp.get("/whistles/<int:whistle_id>")
@bp.response(200)
def get_whistle(whistle_id: int) -> Response:
    """吹哨详情：用户可见的案件、召集的部门及报到状态、评分，以及这些案件按时间排序的事件。"""
    return jsonify(whistle_service.get_whistle(get_session(), current(), whistle_id))


@bp.post("/whistles/<int:whistle_id>/scores")
@bp.arguments(WhistleScore)
@bp.response(201)
@bp.alt_response(403, schema=ApiError, description="不是吹哨的街道、社区或部门")
@bp.alt_response(409, schema=ApiError, description="吹哨未结束（whistle_open）或本轮已评（already_scored）")
def score(body: dict[str, Any], whistle_id: int) -> tuple[Response, int]:
    """吹哨结束后，吹哨的街道（或社区、部门）给一个被召集部门评分：到场、配合、效果各 1–5 分，每轮一次。"""
    recorded = whistle_service.score(get_session(), current(), whistle_id, department=body["department"],
                                     scores=body, note=body["note"])
    commit()
    return jsonify(recorded), 201
