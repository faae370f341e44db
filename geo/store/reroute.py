"""Storage of re-routing: cases placed with an older grid version, and their move to the current one."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["count_outdated", "move_cases", "outdated_cases"]

_CODES = ("grid_code", "community_code", "street_code", "district_code")


def count_outdated(session: Session, version_id: int) -> int:
    return int(session.execute(text("SELECT count(*) FROM cases WHERE boundary_version_id <> :v"),
                               {"v": version_id}).scalar_one())


def outdated_cases(session: Session, version_id: int, *, after_id: int, limit: int) -> pd.DataFrame:
    """The next ``limit`` cases (by id) routed with another grid version than ``version_id``."""
    rows = session.execute(text(
        "SELECT id, ST_X(geom) AS lon, ST_Y(geom) AS lat, grid_code, community_code, street_code, district_code, "
        "boundary_version_id, status FROM cases WHERE boundary_version_id <> :v AND id > :after ORDER BY id LIMIT :n"),
        {"v": version_id, "after": after_id, "n": limit}).mappings().all()
    return pd.DataFrame(rows, columns=["id", "lon", "lat", *_CODES, "boundary_version_id", "status"])


def move_cases(session: Session, moves: pd.DataFrame, version_id: int, *, actor_name: str) -> None:
    """Set the new codes and version of each row (id, new_* codes, changed); one ``reroute`` event for
    every case whose codes changed, with the old and new codes (the audit trail stays append-only)."""
    if moves.empty:
        return
    records: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in moves.to_dict("records")]
    session.execute(text(
        "UPDATE cases SET grid_code = :new_grid_code, community_code = :new_community_code, "
        "street_code = :new_street_code, district_code = :new_district_code, boundary_version_id = :version "
        "WHERE id = :id"), [{**r, "version": version_id} for r in records])
    changed = [r for r in records if r["changed"]]
    if changed:
        session.execute(text(
            "INSERT INTO case_event (case_id, actor_name, actor_role, action, from_status, to_status, details) "
            "VALUES (:id, :actor, 'system', 'reroute', :status, :status, CAST(:details AS jsonb))"),
            [{"id": r["id"], "actor": actor_name, "status": r["status"], "details": json.dumps({
                "boundary_version": version_id,
                "from": {k: r[k] for k in _CODES}, "to": {k: r[f"new_{k}"] for k in _CODES}},
                ensure_ascii=False)} for r in changed])
