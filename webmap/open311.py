"""Open311 GeoReport v2 at /open311/v2/: JSON and XML, the spec's errors (see ../shared/OPEN311.md)."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import NotFound as HTTPNotFound

from geo.domain.errors import Forbidden, GridmapError, NotFound, Unauthorized
from geo.domain.permissions import User
from geo.services import accounts
from geo.services import open311 as service
from webmap.config import case_settings
from webmap.db import commit, get_session

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
FORMATS = ("json", "xml")
#: Root and item element names of each XML answer.
_XML = {"services": ("services", "service"), "requests": ("service_requests", "request"),
        "errors": ("errors", "error"), "discovery": ("discovery", None), "definition": ("service_definition", None)}
_LIST_ITEMS = {"endpoints": "endpoint", "formats": "format", "attributes": "attribute", "values": "value"}


def _format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise NotFound(f"格式 {fmt} 不支持，用 .json 或 .xml。", field="format")
    return fmt


#: Characters XML 1.0 cannot carry at all (control characters but tab, newline, return; lone
#: surrogates; U+FFFE/U+FFFF): a description holding one made the whole document unreadable.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _element(parent: ET.Element, name: str, value: Any) -> None:
    node = ET.SubElement(parent, name)
    if isinstance(value, list):
        for item in value:
            _element(node, _LIST_ITEMS.get(name, "item"), item)
    elif isinstance(value, dict):
        for key, inner in value.items():
            _element(node, key, inner)
    elif isinstance(value, bool):
        node.text = "true" if value else "false"
    elif value is not None:
        node.text = _XML_FORBIDDEN.sub("\ufffd", str(value))


def _render(kind: str, body: Any, fmt: str, status: int = 200) -> Response:
    if fmt == "json":
        return Response(current_app.json.dumps(body), status=status, content_type="application/json; charset=utf-8")
    root_name, item_name = _XML[kind]
    root = ET.Element(root_name)
    if item_name is None:
        for key, value in body.items():
            _element(root, key, value)
    else:
        for item in body:
            _element(root, item_name, item)
    xml = ET.tostring(root, encoding="unicode")
    return Response('<?xml version="1.0" encoding="utf-8"?>' + xml, status=status,
                    content_type="text/xml; charset=utf-8")


def _error_response(exc: GridmapError, fmt: str) -> Response:
    status = 404 if isinstance(exc, NotFound) else 403 if isinstance(exc, (Unauthorized, Forbidden)) else 400
    code: Any = exc.code if status == 400 else status
    return _render("errors", [{"code": code, "description": exc.message}], fmt, status)


@bp.errorhandler(GridmapError)
def _domain_error(exc: GridmapError) -> Response:
    fmt = (request.view_args or {}).get("fmt", "json")
    return _error_response(exc, fmt if fmt in FORMATS else "json")


@bp.errorhandler(HTTPNotFound)
def _not_found(exc: HTTPNotFound) -> Response:
    return _error_response(NotFound("没有这个 Open311 地址。"), "json")


@bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    base = request.url_root.rstrip("/") + "/open311/v2/"
    body = {"changeset": "2026-11-28T00:00:00+08:00", "contact": "区网格化服务管理中心",
            "key_service": "gridmap tokens create",
            "endpoints": [{"specification": SPECIFICATION, "url": base, "changeset": "2026-11-28T00:00:00+08:00",
                           "type": "production", "formats": ["application/json", "text/xml"]}]}
    return _render("discovery", body, _format(fmt))


@bp.get("/services.<fmt>")
def services(fmt: str) -> Response:
    return _render("services", service.services(get_session()), _format(fmt))


@bp.get("/services/<code>.<fmt>")
def service_definition(code: str, fmt: str) -> Response:
    return _render("definition", service.service_definition(get_session(), code), _format(fmt))


def _reader() -> User | None:
    """The api_key's user for a GET (None without a key: the public projection); a bad key is a 403."""
    key = request.args.get("api_key", "")
    if not key:
        return None
    user = accounts.user_from_token(get_session(), key)
    if user is None:
        raise Forbidden("api_key 无效（用 gridmap tokens create 生成；不带 api_key 可读公开信息）。", field="api_key")
    return user


@bp.post("/requests.<fmt>")
def post_request(fmt: str) -> Response:
    fmt = _format(fmt)
    key = request.form.get("api_key", "")
    user = accounts.user_from_token(get_session(), key) if key else None
    if user is None:
        raise Forbidden("api_key 缺失或无效（用 gridmap tokens create 生成）。", field="api_key")
    created = service.post_request(get_session(), user, request.form.to_dict(),
                                   settings=case_settings(current_app.config))
    commit()
    return _render("requests", created, fmt, 201)


@bp.get("/requests.<fmt>")
def get_requests(fmt: str) -> Response:
    """Without api_key the public projection (no description, location to ~100 m); with one, scoped."""
    fmt = _format(fmt)
    return _render("requests", service.get_requests(get_session(), request.args.to_dict(), user=_reader()), fmt)


@bp.get("/requests/<request_id>.<fmt>")
def get_request(request_id: str, fmt: str) -> Response:
    fmt = _format(fmt)
    return _render("requests", service.get_request(get_session(), request_id, user=_reader()), fmt)


@bp.get("/tokens/<token>.<fmt>")
def token(token: str, fmt: str) -> Response:
    """gridmap answers POSTs with a service_request_id at once; a token is that id."""
    found = service.get_request(get_session(), token, user=_reader())
    return _render("requests", [{"service_request_id": found[0]["service_request_id"], "token": token}],
                   _format(fmt))
