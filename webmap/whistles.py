"""Whistle (吹哨) and check-in (报到) API."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify

from geo.services import whistles as whistle_service
from webmap.auth import current
from webmap.db import commit, get_session
from webmap.schemas import ApiBlueprint, ApiError, WhistleCreate, WhistleReport

bp = ApiBlueprint("whistles", __name__, url_prefix="/api", description="吹哨报到")


def _settings() -> whistle_service.WhistleSettings:
    cfg = current_app.config
    return whistle_service.WhistleSettings(arrival_minutes=cfg["GRIDMAP_WHISTLE_ARRIVAL_MINUTES"],
                                           on_site_m=cfg["GRIDMAP_CHECKIN_MAX_M"])


@bp.post("/whistles")
@bp.arguments(WhistleCreate)
@bp.response(201)
@bp.alt_response(403, schema=ApiError)
@bp.alt_response(409, schema=ApiError)
def blow(body: dict[str, Any]) -> tuple[Response, int]:
    """街道负责人为本街道的未办结案件吹哨，召集主责部门和协办部门；各部门须在时限内到场报到。"""
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
    """吹哨详情：案件、召集的部门及报到情况、按时间排序的全部事件。"""
    return jsonify(whistle_service.get_whistle(get_session(), current(), whistle_id))
