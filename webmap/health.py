"""Probes for load balancers and orchestrators: ``/healthz`` (the process answers) and ``/readyz``
(it can serve: database reachable, PostGIS installed, schema at the newest migration)."""

from __future__ import annotations

from flask import Response, jsonify
from flask_smorest import Blueprint

from geo.services import monitoring
from webmap.db import get_session

__all__ = ["bp"]

bp = Blueprint("health", __name__, description="探针：进程存活与数据库就绪")


@bp.get("/healthz")
@bp.response(200)
def healthz() -> Response:
    """进程存活：不访问数据库，总是 200（数据库故障时也不重启进程）。"""
    return jsonify(status="ok")


@bp.get("/readyz")
@bp.response(200)
@bp.alt_response(503, description="未就绪：problems 说明原因")
def readyz() -> tuple[Response, int]:
    """可以接收请求：数据库可连、有 PostGIS、数据库结构是最新版本；否则 503，problems 说明原因。"""
    report = monitoring.readiness(get_session())
    return jsonify(report.as_dict()), 200 if report.ready else 503
