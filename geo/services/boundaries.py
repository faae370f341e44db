"""Boundary use cases: load a level, check topology, export, and serve map layers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
from sqlalchemy.orm import Session

from geo.domain import topology
from geo.domain.boundaries import (
    LEVELS,
    PARENT_LEVEL,
    ParentLayer,
    assign_parents,
    check_level,
    prepare_layer,
)
from geo.domain.boundary_files import read_boundary_file
from geo.domain.crs import WGS84, metric_areas, reproject
from geo.domain.errors import InvalidInput
from geo.domain.exports import write_frame
from geo.domain.geojson import pixel_tolerance
from geo.store import boundaries as store

__all__ = [
    "BoundarySettings",
    "LoadReport",
    "boundary_layer_geojson",
    "check_boundaries",
    "export_boundaries",
    "has_boundaries",
    "level_of",
    "load_boundaries",
    "map_extent",
    "search_boundaries",
    "streets_for",
]

Progress = Callable[[str], None]

#: Features per map request at most; a bigger bbox is answered truncated.
MAX_FEATURES = 20000


@dataclass(frozen=True)
class BoundarySettings:
    """Settings the boundary use cases need (from the app or CLI configuration)."""

    metric_crs: str = "EPSG:4548"
    min_finding_area_m2: float = topology.DEFAULT_MIN_AREA_M2
    min_finding_width_m: float = topology.DEFAULT_MIN_WIDTH_M
    max_grid_area_m2: float = 1_000_000.0


@dataclass(frozen=True)
class LoadReport:
    level: str
    version_id: int
    replaced_version_id: int | None
    feature_count: int
    source: str
    source_crs: str
    repairs: list[dict[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _noop(_: str) -> None:
    return None


def load_boundaries(
    session: Session,
    path: str | Path,
    level: str,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    encoding: str | None = None,
    crs: str | None = None,
    layer: str | None = None,
    settings: BoundarySettings | None = None,
    progress: Progress = _noop,
) -> LoadReport:
    """Load one level from a file as its new current version (atomic in the caller's transaction).

    Steps: read → prepare (fields, codes, CRS, repair) → parents → store. Any refusal raises
    before anything is written.
    """
    settings = settings or BoundarySettings()
    started = time.perf_counter()
    check_level(level)
    progress("读取文件")
    frame = read_boundary_file(path, layer=layer, encoding=encoding)
    progress("检查字段、编码和几何")
    prepared = prepare_layer(frame, level, code_field=code_field, name_field=name_field,
                             parent_field=parent_field, crs=crs)
    progress("确定上级")
    store.lock_level(session, level)
    prepared = assign_parents(prepared, _parent_layer(session, level), metric_crs=settings.metric_crs)
    progress("写入数据库")
    areas = metric_areas(prepared.geoms, settings.metric_crs)
    repairs = [asdict(r) for r in prepared.repairs]
    version_id, replaced = store.insert_version(
        session, level=level, source=str(path), source_crs=prepared.source_crs,
        codes=prepared.codes, names=prepared.names, parent_codes=prepared.parent_codes,
        areas_m2=areas, geoms=prepared.geoms,
        report={"repairs": repairs, "warnings": prepared.warnings},
    )
    return LoadReport(level=level, version_id=version_id, replaced_version_id=replaced,
                      feature_count=len(prepared), source=str(path), source_crs=prepared.source_crs,
                      repairs=repairs, warnings=prepared.warnings,
                      seconds=round(time.perf_counter() - started, 3))


def _parent_layer(session: Session, level: str) -> ParentLayer | None:
    parent_level = PARENT_LEVEL[level]
    if parent_level is None:
        return None
    features = store.current_features(session, parent_level)
    return ParentLayer(parent_level, features.codes, features.geoms)


def check_boundaries(
    session: Session, *, levels: tuple[str, ...] = LEVELS, settings: BoundarySettings | None = None
) -> list[topology.Finding]:
    """Gaps, overlaps, children outside parents, orphans and oversized grids, level by level.

    Locations are WGS84 lon/lat; areas are m² in ``settings.metric_crs``.
    """
    settings = settings or BoundarySettings()
    findings: list[topology.Finding] = []
    for level in levels:
        check_level(level)
        findings += _check_one_level(session, level, settings)
    return findings


def _tolerances(settings: BoundarySettings) -> dict[str, Any]:
    def project(geom: Any) -> Any:
        return reproject(np.array([geom]), WGS84, settings.metric_crs)[0]

    return {"min_area_m2": settings.min_finding_area_m2, "min_width_m": settings.min_finding_width_m,
            "to_metric": project}


def _check_one_level(session: Session, level: str, settings: BoundarySettings) -> list[topology.Finding]:
    features = store.current_features(session, level)
    if not len(features):
        return []
    tol = _tolerances(settings)
    findings = topology.find_overlaps(features.codes, features.geoms, level=level, **tol)
    parent_level = PARENT_LEVEL[level]
    if parent_level is None:
        findings += topology.find_holes(features.codes, features.geoms, level=level, **tol)
    else:
        findings += _check_against_parents(session, features, parent_level, tol)
    if level == "grid":
        findings += topology.find_oversized(features.codes, features.areas_m2, features.geoms,
                                            max_area_m2=settings.max_grid_area_m2, level=level)
    return findings


def _check_against_parents(
    session: Session, features: store.StoredFeatures, parent_level: str, tol: dict[str, Any]
) -> list[topology.Finding]:
    level, geoms = features.level, features.geoms
    parents = store.current_features(session, parent_level)
    parent_index = {code: i for i, code in enumerate(parents.codes)}
    findings = topology.find_orphans(features.codes, features.parent_codes, set(parent_index), level=level)
    groups = topology.group_by_parent(features.parent_codes)
    for parent_code, i in parent_index.items():
        members = groups.get(parent_code, [])
        findings += topology.find_gaps(parent_code, parents.geoms[i], geoms[members], level=level, **tol)
        for m in members:
            findings += topology.find_outside_parent(features.codes[m], geoms[m], parent_code,
                                                     parents.geoms[i], level=level, **tol)
    return findings


def export_boundaries(session: Session, level: str, fmt: str, path: str | Path) -> int:
    """Write the current ``level`` with code, name, parent_code, area_m2 and geometry."""
    check_level(level)
    features = store.current_features(session, level)
    frame = gpd.GeoDataFrame(
        {"code": features.codes, "name": features.names, "parent_code": features.parent_codes,
         "level": [level] * len(features), "area_m2": np.round(features.areas_m2, 1)},
        geometry=list(features.geoms), crs=WGS84,
    )
    return write_frame(frame, path, fmt, layer=level)


def boundary_layer_geojson(
    session: Session,
    level: str,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    zoom: float | None = None,
    limit: int = MAX_FEATURES,
) -> str:
    """An RFC 7946 FeatureCollection of the current ``level`` for the map, as JSON text.

    With ``zoom`` the geometry is simplified to half a pixel at that zoom. When more than
    ``limit`` features match, the first ``limit`` by code are returned and the foreign member
    ``"truncated": true`` says so.
    """
    check_level(level)
    limit = max(1, min(limit, MAX_FEATURES))
    tolerance = 0.0 if zoom is None else pixel_tolerance(zoom)
    features, truncated = store.features_geojson(session, level, bbox=bbox, tolerance=tolerance, limit=limit)
    return ('{"type":"FeatureCollection","truncated":' + ("true" if truncated else "false")
            + ',"features":[' + ",".join(features) + "]}")


def map_extent(session: Session) -> tuple[float, float, float, float] | None:
    """The area the boundaries cover, for the map's first view."""
    return store.extent(session)


#: Simplification of the home outline drawn on the map (degrees, about 1 m).
HOME_TOLERANCE = 0.00001


def home_area(session: Session, code: str) -> dict[str, Any] | None:
    """The boundary a scoped user's map opens on and outlines: level, code, name, bbox, GeoJSON geometry."""
    if not code:
        return None
    row = store.outline(session, code, tolerance=HOME_TOLERANCE)
    if row is None:
        return None
    return {"level": row[0], "code": code, "name": row[1], "bbox": [row[2], row[3], row[4], row[5]],
            "geometry": json.loads(row[6])}


def level_of(session: Session, code: str) -> str | None:
    """The level of the current boundary with this code, or None."""
    return store.level_of(session, code)


def streets_for(session: Session, area: str) -> list[dict[str, str]]:
    """Streets a user may filter by: those of their area, or the streets holding it ("" = all)."""
    return [{"code": code, "name": name} for code, name in store.level_names(session, "street")
            if code.startswith(area) or area.startswith(code)]


def search_boundaries(session: Session, query: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """Boundaries by code prefix or name, for "jump to" search. Empty query: nothing."""
    query = query.strip()
    if not query:
        return []
    if len(query) > 64:
        raise InvalidInput("搜索词太长（最多 64 个字）。", field="q", code="too_long")
    return [
        {"level": r[0], "code": r[1], "name": r[2], "bbox": [r[3], r[4], r[5], r[6]]}
        for r in store.search(session, query, limit=limit)
    ]


def has_boundaries(session: Session) -> bool:
    return store.extent(session) is not None
