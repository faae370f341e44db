"""Boundary storage: versions, polygons, subdivided pieces, and the reads the app needs."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = [
    "SUBDIVIDE_MAX_VERTICES",
    "StoredFeatures",
    "current_features",
    "extent",
    "features_geojson",
    "insert_version",
    "level_names",
    "level_of",
    "lock_level",
    "names_of",
    "search",
]

#: ST_Subdivide's vertex budget per piece (DESIGN.md: ≤ 256 keeps point lookups ~0.15 ms).
SUBDIVIDE_MAX_VERTICES = 256


@dataclass(frozen=True)
class StoredFeatures:
    """The current features of one level, as parallel arrays."""

    level: str
    codes: list[str]
    names: list[str]
    parent_codes: list[str | None]
    areas_m2: np.ndarray
    geoms: np.ndarray  # MultiPolygon, EPSG:4326

    def __len__(self) -> int:
        return len(self.codes)


def lock_level(session: Session, level: str) -> None:
    """Serialise loads of one level until the transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('gridmap.boundary.' || :level))"),
                    {"level": level})


def insert_version(
    session: Session,
    *,
    level: str,
    source: str,
    source_crs: str,
    codes: Sequence[str],
    names: Sequence[str],
    parent_codes: Sequence[str | None],
    areas_m2: Sequence[float] | np.ndarray,
    geoms: np.ndarray,
    report: dict[str, Any],
) -> tuple[int, int | None]:
    """Make a new current version of ``level``: close the old one, write polygons and pieces.

    Returns (new version id, replaced version id or None). Runs in the caller's transaction,
    so the switch is atomic: readers see the old version or the new one, never a mix.
    """
    replaced = session.execute(
        text("UPDATE boundary_version SET valid_to = now() WHERE level = :level AND valid_to IS NULL "
             "RETURNING id"),
        {"level": level},
    ).scalar()
    version_id = session.execute(
        text("INSERT INTO boundary_version (level, source, source_crs, feature_count, report) "
             "VALUES (:level, :source, :crs, :n, CAST(:report AS jsonb)) RETURNING id"),
        {"level": level, "source": source, "crs": source_crs, "n": len(codes),
         "report": _json(report)},
    ).scalar_one()
    wkb = shapely.to_wkb(geoms, hex=False, output_dimension=2)
    rows = [
        {"v": version_id, "level": level, "code": c, "name": n, "parent": p, "area": float(a), "wkb": w}
        for c, n, p, a, w in zip(codes, names, parent_codes, areas_m2, wkb, strict=True)
    ]
    session.execute(
        text("INSERT INTO boundary (version_id, level, code, name, parent_code, area_m2, geom) "
             "VALUES (:v, :level, :code, :name, :parent, :area, ST_Multi(ST_GeomFromWKB(:wkb, 4326)))"),
        rows,
    )
    session.execute(
        text("INSERT INTO boundary_piece (boundary_id, version_id, level, code, geom) "
             "SELECT id, version_id, level, code, ST_Subdivide(geom, :max_vertices) "
             "FROM boundary WHERE version_id = :v"),
        {"v": version_id, "max_vertices": SUBDIVIDE_MAX_VERTICES},
    )
    return version_id, replaced


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def current_features(session: Session, level: str) -> StoredFeatures:
    """All features of the current version of ``level``, ordered by code."""
    rows = session.execute(
        text("SELECT b.code, b.name, b.parent_code, b.area_m2, ST_AsBinary(b.geom) "
             "FROM boundary b JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
             "WHERE b.level = :level ORDER BY b.code"),
        {"level": level},
    ).all()
    return StoredFeatures(
        level=level,
        codes=[r[0] for r in rows],
        names=[r[1] for r in rows],
        parent_codes=[r[2] for r in rows],
        areas_m2=np.array([r[3] for r in rows], dtype=float),
        geoms=shapely.from_wkb([bytes(r[4]) for r in rows]) if rows else np.empty(0, dtype=object),
    )


def features_geojson(
    session: Session,
    level: str,
    *,
    bbox: tuple[float, float, float, float] | None,
    tolerance: float,
    limit: int,
) -> tuple[list[str], bool]:
    """RFC 7946 Feature texts of the current ``level`` inside ``bbox``, at most ``limit``.

    Geometry is simplified by ``tolerance`` degrees (0: none), exterior rings counter-clockwise,
    6 decimals (≈ 0.1 m). Returns (features, truncated).
    """
    params: dict[str, Any] = {"level": level, "tol": tolerance, "limit": limit + 1}
    where = ""
    if bbox is not None:
        where = "AND b.geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)"
        params.update(x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3])
    rows = session.execute(
        text(f"""
        SELECT json_build_object(
            'type', 'Feature', 'id', b.code,
            'geometry', ST_AsGeoJSON(ST_ForcePolygonCCW(
                CASE WHEN :tol > 0 THEN ST_SimplifyPreserveTopology(b.geom, :tol) ELSE b.geom END), 6)::json,
            'properties', json_build_object(
                'code', b.code, 'name', b.name, 'parent_code', b.parent_code,
                'level', b.level, 'area_m2', round(b.area_m2::numeric, 1))
        )::text
        FROM boundary b JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL
        WHERE b.level = :level {where}
        ORDER BY b.code
        LIMIT :limit
        """),
        params,
    ).scalars().all()
    truncated = len(rows) > limit
    return list(rows[:limit]), truncated


def extent(session: Session) -> tuple[float, float, float, float] | None:
    """Bounding box (minx, miny, maxx, maxy) of all current boundaries, or None when empty."""
    row = session.execute(
        text("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
             "SELECT ST_Extent(b.geom) AS e FROM boundary b "
             "JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL) s")
    ).one()
    return None if row[0] is None else (row[0], row[1], row[2], row[3])


def level_names(session: Session, level: str) -> list[tuple[str, str]]:
    """(code, name) of the current boundaries of one level, by code."""
    return [(r[0], r[1]) for r in session.execute(text(
        "SELECT b.code, b.name FROM boundary b JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
        "WHERE b.level = :level ORDER BY b.code"), {"level": level}).all()]


def level_of(session: Session, code: str) -> str | None:
    row = session.execute(text(
        "SELECT b.level FROM boundary b JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
        "WHERE b.code = :code LIMIT 1"), {"code": code}).first()
    return row[0] if row else None


def names_of(session: Session, codes: list[str]) -> dict[str, str]:
    """Current names of the given boundary codes (any level)."""
    rows = session.execute(text(
        "SELECT b.code, b.name FROM boundary b JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
        "WHERE b.code = ANY(:codes)"), {"codes": codes}).all()
    return {code: name for code, name in rows}


def outline(session: Session, code: str, *, tolerance: float) -> tuple[Any, ...] | None:
    """(level, name, minx, miny, maxx, maxy, simplified GeoJSON geometry) of the current boundary ``code``."""
    row = session.execute(text(
        "SELECT b.level, b.name, ST_XMin(b.geom), ST_YMin(b.geom), ST_XMax(b.geom), ST_YMax(b.geom), "
        "ST_AsGeoJSON(ST_SimplifyPreserveTopology(b.geom, :tol), 6) "
        "FROM boundary b JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
        "WHERE b.code = :code LIMIT 1"), {"code": code, "tol": tolerance}).first()
    return tuple(row) if row else None


def search(session: Session, query: str, *, limit: int) -> list[tuple[Any, ...]]:
    """Current boundaries whose code starts with, or whose name contains, ``query``."""
    like = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return [tuple(row) for row in session.execute(
        text("SELECT b.level, b.code, b.name, ST_XMin(b.geom), ST_YMin(b.geom), ST_XMax(b.geom), ST_YMax(b.geom) "
             "FROM boundary b JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
             "WHERE b.code LIKE :prefix OR b.name LIKE :contains "
             "ORDER BY length(b.code), b.code LIMIT :limit"),
        {"prefix": like + "%", "contains": "%" + like + "%", "limit": limit},
    )]
