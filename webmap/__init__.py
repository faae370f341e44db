"""gridmap's web layer: Flask pages, JSON API, CLI. Built by ``create_app``; nothing at import."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider

from geo.domain.errors import InvalidInput, TooLarge
from geo.store.db import make_engine, make_sessionmaker
from webmap.config import load_config

__all__ = ["ROOT", "create_app"]

ROOT = Path(__file__).resolve().parent.parent


class IsoJSONProvider(DefaultJSONProvider):
    """JSON with ISO 8601 times (2026-11-28T09:30:00+08:00), not HTTP dates, and Chinese unescaped."""

    ensure_ascii = False

    @staticmethod
    def default(o: Any) -> Any:
        if isinstance(o, (datetime, date)):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


#: Fields (and files) in one form body, and the bytes of its non-file fields.
FORM_PARTS_MAX = 200
FORM_MEMORY_MAX = 256 * 1024


def _no_nul() -> None:
    """A NUL character in the path, a query parameter or a form field is refused here: PostgreSQL
    text cannot hold one, and it reached the database as a 500 (JSON bodies drop it)."""
    if "\x00" in request.path:
        raise InvalidInput("请求地址里有 NUL 字符（\\0），请去掉后重试。", field="path", code="bad_text")
    bad_arg = next((key for key, value in request.args.items(multi=True) if "\x00" in key + value), None)
    if bad_arg is not None:
        raise InvalidInput(f"参数 {bad_arg.replace(chr(0), '')} 里有 NUL 字符（\\0），请去掉后重试。",
                           field=bad_arg.replace("\x00", ""), code="bad_text")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        bad = next((key for key, value in request.form.items(multi=True) if "\x00" in key + value), None)
        if bad is not None:
            raise InvalidInput(f"表单字段 {bad.replace(chr(0), '')} 里有 NUL 字符（\\0），请去掉后重试。",
                               field=bad.replace("\x00", ""), code="bad_text")


def _bounded_urlencoded_form() -> None:
    """A url-encoded body with more fields than any form of ours is refused before it is parsed."""
    if request.mimetype != "application/x-www-form-urlencoded":
        return
    if (request.content_length or 0) > FORM_MEMORY_MAX:
        raise TooLarge(f"表单太大（最多 {FORM_MEMORY_MAX // 1024} KB）。", field="body")
    if request.get_data(cache=True).count(b"&") >= FORM_PARTS_MAX:
        raise TooLarge(f"表单字段太多（最多 {FORM_PARTS_MAX} 个）。", field="body")


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The application factory: settings, database, blueprints, error handlers."""
    settings = load_config(config)
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder="static")
    app.config.update(settings)
    app.config["SECRET_KEY"] = settings["GRIDMAP_SECRET_KEY"] or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = int(settings["GRIDMAP_MAX_UPLOAD_MB"]) * 1024 * 1024
    # No form of ours has more than a few dozen fields (photos are files): a body with thousands of
    # fields is refused (413) before anything, the api_key check included, spends time on it.
    app.config["MAX_FORM_PARTS"] = FORM_PARTS_MAX  # multipart (Werkzeug counts its parts)
    app.config["MAX_FORM_MEMORY_SIZE"] = FORM_MEMORY_MAX
    app.before_request(_bounded_urlencoded_form)  # url-encoded (Werkzeug does not)
    app.before_request(_no_nul)
    app.json = IsoJSONProvider(app)

    pooler = bool(settings.get("GRIDMAP_DB_TRANSACTION_POOLER"))
    engine = make_engine(settings["DATABASE_URL"], pool_size=settings["GRIDMAP_DB_POOL_SIZE"],
                         timezone=settings["GRIDMAP_TIMEZONE"], transaction_pooler=pooler)
    app.extensions["gridmap"] = {"engine": engine, "sessionmaker": make_sessionmaker(engine),
                                 "read_engine": None, "read_sessionmaker": None}
    if settings.get("GRIDMAP_READ_DATABASE_URL"):  # map, boundary, statistics and hotspot reads (webmap/db.py)
        read_engine = make_engine(settings["GRIDMAP_READ_DATABASE_URL"], pool_size=settings["GRIDMAP_DB_POOL_SIZE"],
                                  timezone=settings["GRIDMAP_TIMEZONE"], transaction_pooler=pooler)
        app.extensions["gridmap"].update(read_engine=read_engine, read_sessionmaker=make_sessionmaker(read_engine))

    from flask_smorest import Api

    from webmap import auth, compression, db, errors, observability, security
    from webmap.api import bp as boundaries_bp
    from webmap.cases import bp as cases_bp
    from webmap.health import bp as health_bp
    from webmap.hotspots import bp as hotspots_bp
    from webmap.open311 import bp as open311_bp
    from webmap.pages import bp as pages_bp
    from webmap.photos import bp as photos_bp
    from webmap.schemas import ApiError
    from webmap.stats import bp as stats_bp
    from webmap.tiles import bp as tiles_bp
    from webmap.topics import bp as topics_bp
    from webmap.whistles import bp as whistles_bp

    app.config.update(OPENAPI_SETTINGS)
    class GridmapApi(Api):
        ERROR_SCHEMA = ApiError  # document the error bodies webmap/errors.py sends, not flask-smorest's

    api = GridmapApi(app, spec_kwargs={"info": {"description": API_DESCRIPTION}})
    api.register_blueprint(health_bp)
    api.register_blueprint(boundaries_bp)
    api.register_blueprint(cases_bp)
    api.register_blueprint(whistles_bp)
    api.register_blueprint(photos_bp)
    api.register_blueprint(stats_bp)
    api.register_blueprint(hotspots_bp)
    api.register_blueprint(topics_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(open311_bp)
    app.register_blueprint(tiles_bp)
    db.init_app(app)
    auth.init_app(app)
    security.init_app(app)  # CSP with a nonce, frame/sniff/referrer headers, no-store on data
    errors.init_app(app)  # after the Api, so our error bodies win over flask-smorest's
    compression.init_app(app)  # gzip text responses, cache vendored assets
    observability.init_app(app)  # last: request ids, JSON logs and /metrics around everything
    return app


API_DESCRIPTION = (
    "gridmap 的 JSON 接口。错误统一为 {\"error\": {\"code\", \"message\", \"field\"}}；"
    "GeoJSON 遵循 RFC 7946（WGS84 经纬度）。"
)
OPENAPI_SETTINGS = {
    "API_TITLE": "gridmap",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "/docs",
    "OPENAPI_SWAGGER_UI_URL": "/static/vendor/swagger-ui/",
    # Swagger UI would otherwise ask validator.swagger.io about the spec: no request leaves the intranet.
    "OPENAPI_SWAGGER_UI_CONFIG": {"validatorUrl": None},
}
