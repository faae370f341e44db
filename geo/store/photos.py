"""Case photos kept in PostgreSQL (bytea), so a pg_dump backup carries them with their cases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.store.cases import SUMMONED_SQL

__all__ = ["count_photos", "get_photo", "insert_photo", "photos_of"]

_META = "p.id, p.case_id, p.uploaded_at, p.content_type, p.width, p.height, p.size_bytes, p.sha256"


def insert_photo(session: Session, *, case_id: int, user_id: int | None, content_type: str, width: int,
                 height: int, sha256: str, data: bytes) -> dict[str, Any]:
    row = session.execute(text(
        "INSERT INTO case_photo AS p (case_id, uploaded_by, content_type, width, height, size_bytes, sha256, data) "
        "VALUES (:case_id, :uid, :type, :w, :h, :size, :sha, :data) "
        f"RETURNING {_META}"),
        {"case_id": case_id, "uid": user_id, "type": content_type, "w": width, "h": height, "size": len(data),
         "sha": sha256, "data": data}).mappings().one()
    return dict(row)


def count_photos(session: Session, case_id: int, *, lock: bool = False) -> int:
    """The case's photos; ``lock`` first takes the case row's lock until the transaction ends, so
    concurrent uploads to one case count one after another."""
    if lock:
        session.execute(text("SELECT id FROM cases WHERE id = :id FOR UPDATE"), {"id": case_id})
    return int(session.execute(text("SELECT count(*) FROM case_photo WHERE case_id = :id"),
                               {"id": case_id}).scalar_one())


def photos_of(session: Session, case_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        f"SELECT {_META} FROM case_photo p WHERE p.case_id = :id ORDER BY p.id"), {"id": case_id}).mappings().all()]


def get_photo(session: Session, photo_id: int) -> dict[str, Any] | None:
    """The photo with what deciding who may see it needs (its case's grid and departments)."""
    row = session.execute(text(
        f"SELECT {_META}, p.data, c.case_no, c.grid_code, c.lead_department, c.co_departments, "
        f"{SUMMONED_SQL} AS summoned "
        "FROM case_photo p JOIN cases c ON c.id = p.case_id WHERE p.id = :id"), {"id": photo_id}).mappings().first()
    return dict(row) if row else None
