"""The address gazetteer in PostGIS: bulk upsert, fuzzy candidates by pg_trgm word similarity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.addresses import Candidate
from geo.store.case_filters import like_prefix

__all__ = ["candidates", "candidates_many", "count", "delete_all", "trigrams_work", "upsert"]

_CURRENT_GRID = """(SELECT p.code FROM boundary_piece p JOIN boundary_version v ON v.id = p.version_id
                      AND v.valid_to IS NULL
                    WHERE p.level = 'grid' AND ST_Intersects(p.geom, {point}) ORDER BY p.code LIMIT 1)"""


def trigrams_work(session: Session) -> bool:
    """Whether pg_trgm sees Chinese characters (it does not under a database whose LC_CTYPE is plain "C")."""
    return bool(session.execute(text("SELECT cardinality(show_trgm('地址库')) > 0")).scalar())


def delete_all(session: Session) -> int:
    return int(getattr(session.execute(text("DELETE FROM address")), "rowcount", 0) or 0)


def count(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM address")).scalar() or 0)


def upsert(session: Session, rows: pd.DataFrame, *, crs: str) -> tuple[int, int]:
    """Insert the rows (address, norm, key, lon, lat, orig_x, orig_y), replacing the entry of the same
    normalised text; each gets the current grid it lies in. Returns (inserted, updated)."""
    result = session.execute(text(f"""
        WITH src AS (
            SELECT a, n, k, ST_SetSRID(ST_MakePoint(x, y), 4326) AS g, ox, oy
            FROM unnest(CAST(:address AS text[]), CAST(:norm AS text[]), CAST(:key AS text[]),
                        CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:ox AS float8[]),
                        CAST(:oy AS float8[])) AS t(a, n, k, x, y, ox, oy))
        INSERT INTO address (address, norm, key, geom, orig_x, orig_y, orig_crs, grid_code)
        SELECT a, n, k, g, ox, oy, :crs, {_CURRENT_GRID.format(point="src.g")} FROM src
        ON CONFLICT (norm) DO UPDATE SET address = EXCLUDED.address, key = EXCLUDED.key, geom = EXCLUDED.geom,
            orig_x = EXCLUDED.orig_x, orig_y = EXCLUDED.orig_y, orig_crs = EXCLUDED.orig_crs,
            grid_code = EXCLUDED.grid_code, loaded_at = now()
        RETURNING (xmax = 0) AS inserted"""), {
        "address": rows["address"].tolist(), "norm": rows["norm"].tolist(), "key": rows["key"].tolist(),
        "lon": rows["lon"].astype(float).tolist(), "lat": rows["lat"].astype(float).tolist(),
        "ox": rows["orig_x"].astype(float).tolist(), "oy": rows["orig_y"].astype(float).tolist(),
        "crs": crs}).scalars().all()
    inserted = sum(1 for r in result if r)
    return inserted, len(result) - inserted


def _threshold(session: Session, minimum: float) -> None:
    # The %> operator (the one the GIN index serves) compares with this setting; local to the transaction.
    session.execute(text("SELECT set_config('pg_trgm.word_similarity_threshold', :t, true)"),
                    {"t": str(minimum)})


def candidates(session: Session, key: str, *, minimum: float, limit: int, area: str | None = None
               ) -> list[tuple[Candidate, str | None]]:
    """Entries whose match key (geo.domain.addresses.match_key) is ``key`` or holds something like it
    (word similarity at least ``minimum``), best first, with the grid each lies in; ``area`` (a code
    prefix) keeps only entries in grids of that area."""
    _threshold(session, minimum)
    rows = session.execute(text("""
        SELECT id, address, ST_X(geom), ST_Y(geom),
               CASE WHEN key = :q THEN 1.0 ELSE word_similarity(:q, key) END AS score, grid_code
        FROM address
        WHERE (key = :q OR key %> :q) AND (CAST(:area AS text) IS NULL OR grid_code LIKE :area)
        ORDER BY score DESC, similarity(:q, key) DESC, length(key), id
        LIMIT :limit"""), {"q": key, "limit": limit,
                           "area": like_prefix(area) if area is not None else None}).all()
    return [(Candidate(int(r[0]), r[1], float(r[2]), float(r[3]), float(r[4])), r[5]) for r in rows]


def candidates_many(session: Session, keys: Sequence[str], *, minimum: float, limit: int
                    ) -> dict[str, list[Candidate]]:
    """``candidates`` for many match keys in one statement (bulk import)."""
    if not keys:
        return {}
    _threshold(session, minimum)
    rows = session.execute(text("""
        SELECT q.q, a.id, a.address, ST_X(a.geom), ST_Y(a.geom), a.score
        FROM unnest(CAST(:qs AS text[])) AS q(q)
        CROSS JOIN LATERAL (
            SELECT id, address, geom, CASE WHEN key = q.q THEN 1.0 ELSE word_similarity(q.q, key) END AS score
            FROM address WHERE key = q.q OR key %> q.q
            ORDER BY score DESC, similarity(q.q, key) DESC, length(key), id LIMIT :limit) a"""),
        {"qs": list(keys), "limit": limit}).all()
    out: dict[str, list[Candidate]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(Candidate(int(r[1]), r[2], float(r[3]), float(r[4]), float(r[5])))
    return out


def as_dicts(found: list[tuple[Candidate, str | None]]) -> list[dict[str, Any]]:
    return [{"id": c.id, "address": c.address, "lon": c.lon, "lat": c.lat, "score": round(c.score, 3),
             "grid_code": grid} for c, grid in found]
