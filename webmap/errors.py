"""Domain errors and HTTP errors → JSON for the API, a Chinese page for people. One place."""

from __future__ import annotations

import psycopg
from flask import Flask, Response, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from geo.domain.errors import GridmapError
from webmap.schemas import first_error

__all__ = ["init_app", "render_error"]

_HTTP_MESSAGES = {
    400: "请求格式不对（JSON 无法解析？）。",
    404: "找不到这个地址。",
    405: "这个地址不支持该请求方法。",
    413: "上传内容太大。",
    500: "服务器内部错误，请稍后再试或联系管理员。",
    503: "数据库暂时不可用，请稍后再试。",
}


_WEBARGS_MESSAGES = {"Invalid JSON body.": "请求体不是有效的 JSON，请检查引号、逗号和括号。"}


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/healthz", "/readyz", "/metrics", "/open311/")) or (
        request.accept_mimetypes.best == "application/json"
    )


def render_error(status: int, code: str, message: str, field: str | None = None) -> tuple[Response | str, int]:
    if _wants_json():
        return jsonify(error={"code": code, "message": message, "field": field}), status
    return render_template("errors/error.html", status=status, message=message), status


def _domain_error(exc: GridmapError) -> tuple[Response | str, int]:
    return render_error(exc.status, exc.code, exc.message, exc.field)


def _http_error(exc: HTTPException) -> tuple[Response | str, int]:
    status = exc.code or 500
    messages = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
    if messages:  # a request that failed schema validation (webargs)
        field, message = first_error(messages)
        message = _WEBARGS_MESSAGES.get(message, message)
        return render_error(status, "invalid_input" if status == 422 else "bad_request",
                       f"{field}：{message}" if field else message, field)
    message = _HTTP_MESSAGES.get(status, exc.description or "")
    return render_error(status, (exc.name or "error").lower().replace(" ", "_"), message)


def _database_down(_exc: Exception) -> tuple[Response | str, int]:
    return render_error(503, "database_unavailable", _HTTP_MESSAGES[503])


def init_app(app: Flask) -> None:
    app.register_error_handler(GridmapError, _domain_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_down)
    # The driver's own, from code that reads through psycopg directly (statistics records, COPY):
    # a server restarting (57P01 admin_shutdown) or a connection it closed.
    app.register_error_handler(psycopg.OperationalError, _database_down)
    app.register_error_handler(psycopg.InterfaceError, _database_down)
