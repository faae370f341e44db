"""Topology checks of boundary layers: gaps, overlaps, children outside parents, orphans, size.

Set operations run in the CRS the geometries are stored in (WGS84 degrees, where shared edges
coincide exactly); each problem piece is then measured in metres through ``to_metric``.
Findings carry their area in m² and a location (a point inside the problem, in the input CRS)
so a person can go and look. Problems are reported, never silently fixed.

>>> import shapely
>>> a, b = shapely.box(0, 0, 10, 10), shapely.box(9, 0, 20, 10)
>>> [(f.kind, f.codes, f.area_m2) for f in find_overlaps(["a", "b"], np.array([a, b]), min_area_m2=1)]
[('overlap', ('a', 'b'), 10.0)]
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import shapely

__all__ = [
    "DEFAULT_MIN_AREA_M2",
    "Finding",
    "find_gaps",
    "find_holes",
    "find_orphans",
    "find_outside_parent",
    "find_overlaps",
    "find_oversized",
]

#: Gaps and overlaps smaller than this are floating-point dust, not slivers.
DEFAULT_MIN_AREA_M2 = 1.0
#: ... and so are those narrower than this: files from different sources (one in Gauss-Krüger
#: metres, one in degrees rounded to 1e-7) disagree by millimetres along every shared edge,
#: which adds up to m² along a long edge without being a gap anyone could stand in.
DEFAULT_MIN_WIDTH_M = 0.05

ToMetric = Callable[[shapely.Geometry], shapely.Geometry]


def _identity(geom: shapely.Geometry) -> shapely.Geometry:
    return geom


@dataclass(frozen=True)
class Finding:
    """One problem found in a boundary layer."""

    kind: str  # gap | overlap | outside_parent | orphan | oversized
    level: str
    codes: tuple[str, ...]
    area_m2: float
    location: tuple[float, float] | None  # (x, y) of a point inside the problem
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _point(geom: shapely.Geometry) -> tuple[float, float]:
    p = shapely.point_on_surface(geom)
    return (round(p.x, 6), round(p.y, 6))


def _parts_over(
    geom: shapely.Geometry, min_area_m2: float, min_width_m: float, to_metric: ToMetric
) -> list[tuple[shapely.Geometry, float]]:
    """(part, area in m²) of the polygon parts at least ``min_area_m2`` large and ``min_width_m`` wide."""
    found = []
    for part in shapely.get_parts(geom):
        if part.geom_type != "Polygon" or part.is_empty:
            continue
        metric = to_metric(part)
        if metric.area < min_area_m2:
            continue
        if min_width_m > 0 and shapely.buffer(metric, -min_width_m / 2).is_empty:
            continue
        found.append((part, float(metric.area)))
    return found


def find_overlaps(
    codes: Sequence[str], geoms: np.ndarray, *, min_area_m2: float,
    min_width_m: float = DEFAULT_MIN_WIDTH_M, level: str = "", to_metric: ToMetric = _identity,
) -> list[Finding]:
    """Pairs of siblings whose interiors overlap by at least ``min_area_m2``.

    Each pair is reported once, lower code first.
    """
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    shared = shapely.intersection(geoms[left], geoms[right])
    findings = []
    for i, j, geom in zip(left.tolist(), right.tolist(), shared, strict=True):
        parts = _parts_over(geom, min_area_m2, min_width_m, to_metric)
        if not parts:
            continue
        area = sum(a for _, a in parts)
        a, b = sorted((codes[i], codes[j]))
        findings.append(Finding("overlap", level, (a, b), round(area, 2), _point(parts[0][0]),
                                f"{a} 与 {b} 重叠 {area:.1f} m²"))
    return sorted(findings, key=lambda f: f.codes)


def find_gaps(
    parent_code: str,
    parent_geom: shapely.Geometry,
    child_geoms: np.ndarray,
    *,
    min_area_m2: float,
    min_width_m: float = DEFAULT_MIN_WIDTH_M,
    level: str = "",
    to_metric: ToMetric = _identity,
) -> list[Finding]:
    """Parts of the parent that no child covers (children must tile their parent).

    >>> parent = shapely.box(0, 0, 10, 10)
    >>> [f.area_m2 for f in find_gaps("p", parent, np.array([shapely.box(0, 0, 10, 8)]), min_area_m2=1)]
    [20.0]
    """
    covered = shapely.union_all(child_geoms) if len(child_geoms) else shapely.Polygon()
    gaps = _parts_over(shapely.difference(parent_geom, covered), min_area_m2, min_width_m, to_metric)
    return [
        Finding("gap", level, (parent_code,), round(area, 2), _point(g),
                f"{parent_code} 内有 {area:.1f} m² 未被任何下级覆盖")
        for g, area in gaps
    ]


def find_holes(
    codes: Sequence[str], geoms: np.ndarray, *, min_area_m2: float,
    min_width_m: float = DEFAULT_MIN_WIDTH_M, level: str = "", to_metric: ToMetric = _identity,
) -> list[Finding]:
    """Gaps enclosed between siblings that have no parent to compare with (the top level)."""
    union = shapely.union_all(geoms)
    tree = shapely.STRtree(geoms)
    findings = []
    for poly in shapely.get_parts(union):
        for ring in poly.interiors:
            hole = shapely.Polygon(ring)
            for _, area in _parts_over(hole, min_area_m2, min_width_m, to_metric):
                near = sorted(codes[i] for i in tree.query(hole, predicate="touches"))
                findings.append(Finding("gap", level, tuple(near), round(area, 2), _point(hole),
                                        f"{', '.join(near)} 之间有 {area:.1f} m² 的空隙"))
    return findings


def find_outside_parent(
    code: str, geom: shapely.Geometry, parent_code: str, parent_geom: shapely.Geometry,
    *, min_area_m2: float, min_width_m: float = DEFAULT_MIN_WIDTH_M, level: str = "",
    to_metric: ToMetric = _identity,
) -> list[Finding]:
    """Parts of a child that stick out of its parent."""
    out = _parts_over(shapely.difference(geom, parent_geom), min_area_m2, min_width_m, to_metric)
    return [
        Finding("outside_parent", level, (code, parent_code), round(area, 2), _point(g),
                f"{code} 有 {area:.1f} m² 超出上级 {parent_code}")
        for g, area in out
    ]


def find_orphans(
    codes: Sequence[str], parent_codes: Sequence[str | None], known_parents: set[str], *, level: str = ""
) -> list[Finding]:
    """Children whose parent code is missing from the parent level."""
    return [
        Finding("orphan", level, (code,), 0.0, None, f"{code} 的上级 {parent or '（空）'} 不存在")
        for code, parent in zip(codes, parent_codes, strict=True)
        if parent is None or parent not in known_parents
    ]


def find_oversized(
    codes: Sequence[str], areas_m2: Sequence[float] | np.ndarray, geoms: np.ndarray,
    *, max_area_m2: float, level: str = "",
) -> list[Finding]:
    """Features larger than ``max_area_m2`` (a grid too big for one worker to patrol)."""
    return [
        Finding("oversized", level, (code,), round(float(area), 2), _point(geom),
                f"{code} 面积 {area / 1e6:.3f} km²，超过上限 {max_area_m2 / 1e6:.3f} km²")
        for code, area, geom in zip(codes, areas_m2, geoms, strict=True)
        if area > max_area_m2
    ]


def group_by_parent(parent_codes: Sequence[str | None]) -> dict[str, list[int]]:
    """Indices of children grouped by their parent code."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, parent in enumerate(parent_codes):
        if parent is not None:
            groups[parent].append(i)
    return groups
