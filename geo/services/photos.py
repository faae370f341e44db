"""Photos of a case: add (cleaned of metadata, audited), list, read — each checked against the user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from geo.domain import permissions
from geo.domain.errors import Forbidden, InvalidInput, NotFound
from geo.domain.permissions import User
from geo.domain.photos import clean_photo
from geo.store import boundaries as boundary_store
from geo.store import events as event_store
from geo.store import photos as store

__all__ = ["PhotoSettings", "add_photos", "list_photos", "photo_url", "read_photo"]


@dataclass(frozen=True)
class PhotoSettings:
    max_bytes: int = 5 * 1024 * 1024
    max_per_case: int = 20


def photo_url(photo_id: int) -> str:
    return f"/api/photos/{photo_id}"


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "url": photo_url(row["id"]), "content_type": row["content_type"],
            "width": row["width"], "height": row["height"], "size_bytes": row["size_bytes"],
            "sha256": row["sha256"], "uploaded_at": row["uploaded_at"]}


def add_photos(session: Session, user: User, case_no: str, files: Sequence[tuple[str, bytes]], *,
               settings: PhotoSettings = PhotoSettings()) -> list[dict[str, Any]]:
    """Attach pictures (field name, bytes) to a case. All are checked before any is stored, so a
    refused upload stores none; each stored photo is recorded as a ``photo`` event."""
    case = event_store.case_for_action(session, case_no)
    if case is None:
        raise NotFound(f"案件 {case_no} 不存在。", field="id", code="not_found")
    permissions.check_visible(user, case, case_no)
    try:
        permissions.check_can_attach(user, case)
    except Forbidden:  # say it again with the grid's and the area's names
        permissions.check_can_attach(user, case, boundary_store.names_of(session, [str(case["grid_code"]), user.scope]))
        raise
    if not files:
        raise InvalidInput("没有收到照片：用 multipart/form-data 的 photo 字段上传 JPEG 或 PNG。", field="photo",
                           code="missing")
    if len(files) > settings.max_per_case:
        raise InvalidInput(f"每个案件最多 {settings.max_per_case} 张照片。", field="photo", code="too_many")
    cleaned = [clean_photo(data, max_bytes=settings.max_bytes, field=field) for field, data in files]
    # Count under the case's lock: parallel uploads queue here, so the limit holds (it did not: 48 of 20).
    have = store.count_photos(session, case["id"], lock=True)
    if have + len(files) > settings.max_per_case:
        raise InvalidInput(f"每个案件最多 {settings.max_per_case} 张照片，已有 {have} 张。", field="photo",
                           code="too_many")
    stored = []
    for photo in cleaned:
        row = store.insert_photo(session, case_id=case["id"], user_id=user.id, content_type=photo.content_type,
                                 width=photo.width, height=photo.height, sha256=photo.sha256, data=photo.data)
        event_store.insert_event(session, case_id=case["id"], actor_user_id=user.id, actor_name=user.username,
                                 actor_role=user.role, action="photo", from_status=None, to_status=None,
                                 details={"photo_id": row["id"], "sha256": row["sha256"],
                                          "size_bytes": row["size_bytes"]})
        stored.append(_public(row))
    return stored


def list_photos(session: Session, user: User | None, case_no: str) -> list[dict[str, Any]]:
    case = event_store.case_for_action(session, case_no)
    if case is None:
        raise NotFound(f"案件 {case_no} 不存在。", field="id", code="not_found")
    if user is not None:
        permissions.check_visible(user, case, case_no)
    return [_public(r) for r in store.photos_of(session, case["id"])]


def read_photo(session: Session, user: User | None, photo_id: int) -> dict[str, Any]:
    """The stored bytes and type; a photo of a case the user cannot see is 'not found'."""
    row = store.get_photo(session, photo_id)
    if row is None or (user is not None and not permissions.can_see(user, row)):
        raise NotFound(f"照片 {photo_id} 不存在。", field="id", code="not_found")
    return row
