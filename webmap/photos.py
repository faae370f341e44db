"""Case photos API: upload (multipart), list, and the stored picture itself."""

from __future__ import annotations

from flask import Response, current_app, jsonify, request
from flask_smorest import Blueprint

from geo.domain.errors import TooLarge
from geo.services import photos as photo_service
from webmap.auth import current
from webmap.config import photo_max_bytes
from webmap.db import commit, get_session
from webmap.schemas import ApiError
from webmap.security import own_policy

bp = Blueprint("photos", __name__, url_prefix="/api", description="案件照片")

#: Pictures accepted in one upload request (each up to GRIDMAP_PHOTO_MAX_MB).
PHOTOS_PER_REQUEST = 6


def _settings() -> photo_service.PhotoSettings:
    cfg = current_app.config
    return photo_service.PhotoSettings(max_bytes=photo_max_bytes(cfg),
                                       max_per_case=int(cfg["GRIDMAP_PHOTOS_PER_CASE"]))


@bp.post("/cases/<case_id>/photos")
@bp.response(201)
@bp.alt_response(403, schema=ApiError, description="规划人员、管理员或不在管辖范围内")
@bp.alt_response(413, schema=ApiError, description="照片超过大小限制")
@bp.alt_response(422, schema=ApiError, description="不是 JPEG/PNG、无法读取或数量超限")
def upload(case_id: str) -> tuple[Response, int]:
    """给案件添加照片：multipart/form-data，字段 photo（可多个，每次最多 6 张），只收 JPEG/PNG，
    每张不超过 GRIDMAP_PHOTO_MAX_MB。保存前去掉 EXIF（含 GPS 位置）等全部元数据；每张照片记一条事件。"""
    settings = _settings()
    if (request.content_length or 0) > PHOTOS_PER_REQUEST * (settings.max_bytes + 64 * 1024):
        raise TooLarge(f"一次最多上传 {PHOTOS_PER_REQUEST} 张照片。", field="photo", code="too_large")
    uploads = request.files.getlist("photo")
    if len(uploads) > PHOTOS_PER_REQUEST:
        raise TooLarge(f"一次最多上传 {PHOTOS_PER_REQUEST} 张照片。", field="photo", code="too_many")
    files = [("photo", f.read(settings.max_bytes + 1)) for f in uploads]
    stored = photo_service.add_photos(get_session(), current(), case_id, files, settings=settings)
    commit()
    return jsonify(photos=stored), 201


@bp.get("/cases/<case_id>/photos")
@bp.response(200)
@bp.alt_response(404, schema=ApiError)
def case_photos(case_id: str) -> Response:
    """案件的照片列表（编号、地址、尺寸、大小、SHA-256、上传时间）。"""
    return jsonify(photos=photo_service.list_photos(get_session(), current(), case_id))


@bp.get("/photos/<int:photo_id>")
@bp.response(200, content_type="image/jpeg")
@bp.alt_response(404, schema=ApiError)
@own_policy("default-src 'none'; frame-ancestors 'none'")
def photo(photo_id: int) -> Response:
    """照片本身（JPEG 或 PNG）；看不到该案件的用户得到 404。"""
    row = photo_service.read_photo(get_session(), current(), photo_id)
    response = Response(bytes(row["data"]), mimetype=row["content_type"])
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    response.headers["ETag"] = f'"{row["sha256"]}"'
    response.headers["Content-Disposition"] = f'inline; filename="{row["case_no"]}-{row["id"]}.' + (
        "png" if row["content_type"] == "image/png" else "jpg") + '"'
    return response
