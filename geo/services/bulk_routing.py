"""Routing a bulk import: placement and duty-list assignment for a million rows without Python
per row, and without Python per (category, grid) either.

The rules stay in geo.domain (placement, routing.assign); this module only decides how seldom to
ask them. A case's assignment depends on its category, on which of the category's boundary scopes
its grid falls in (``routing.longest_scopes``: grids in the same class get the same rule), on the
jurisdiction units covering its point, and — only when no rule applies (属地兜底) — on its street.
So ``assign`` runs once per distinct (category, scope class, covering units), a few hundred to a
few thousand for a year of tickets, and once more per street for the classes that fall back; the
answers are spread to the rows with numpy indexing. bench/README.md ("the COPY path") measured the
per-(category, grid, units) version at 0.9 s per 10⁵ rows, because those keys grow with the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from geo.domain.placement import Placement, PlacementIndex
from geo.domain.routing import Assignment, Coverage, DutyRule, assign, longest_scopes
from geo.services import placement as placement_service
from geo.store import reference as reference_store

__all__ = ["RoutingContext", "coverage_keys", "place_and_route", "routing_context", "units_of"]

#: Up to this many jurisdiction units, a point's covering units are one int64 of bits.
_MASK_UNITS = 62


@dataclass
class RoutingContext:
    """Everything routing needs, read from PostGIS once per import."""

    index: PlacementIndex
    version_id: int
    unit_codes: list[str]
    unit_parents: list[str | None]
    unit_tree: shapely.STRtree | None
    rules: dict[str, list[DutyRule]]
    categories: dict[str, dict[str, Any]]
    #: (category, scope class, covering units, street or None) → assignment, kept across batches
    assignments: dict[tuple[str, str, tuple[int, ...], str | None], Assignment] = field(default_factory=dict)


def routing_context(session: Session) -> RoutingContext:
    index, version_id = placement_service.current_index(session)
    unit_codes, unit_parents, unit_geoms = reference_store.jurisdictions(session)
    return RoutingContext(
        index=index, version_id=version_id, unit_codes=unit_codes, unit_parents=unit_parents,
        unit_tree=shapely.STRtree(unit_geoms) if len(unit_geoms) else None,
        rules=reference_store.all_duty_rules(session), categories=reference_store.all_categories(session),
    )


def coverage_keys(context: RoutingContext, lon: np.ndarray, lat: np.ndarray,
                  points: np.ndarray | None = None) -> np.ndarray:
    """Per point, the jurisdictions covering it as one integer: a bit per unit (vectorised) when
    there are at most 62 units, else a factorized code of the sorted unit tuple."""
    n_units = len(context.unit_codes)
    keys = np.zeros(len(lon), dtype=np.int64)
    if context.unit_tree is None or not len(lon):
        return keys
    points = shapely.points(lon, lat) if points is None else points
    point_idx, unit_idx = context.unit_tree.query(points, predicate="intersects")
    if n_units <= _MASK_UNITS:
        np.bitwise_or.at(keys, point_idx, np.left_shift(np.int64(1), unit_idx.astype(np.int64)))
        return keys
    lists: list[list[int]] = [[] for _ in range(len(lon))]
    for p, u in zip(point_idx.tolist(), unit_idx.tolist(), strict=True):
        lists[p].append(u)
    return pd.factorize(pd.Series([tuple(sorted(k)) for k in lists], dtype=object))[0].astype(np.int64)


def units_of(context: RoutingContext, keys: np.ndarray, rows: np.ndarray, lon: np.ndarray,
             lat: np.ndarray) -> list[tuple[int, ...]]:
    """The unit indices behind each of ``keys`` (taken at ``rows``): from the bits, or again from
    the tree for a representative point when the keys are codes."""
    if len(context.unit_codes) <= _MASK_UNITS:
        return [tuple(i for i in range(len(context.unit_codes)) if int(k) >> i & 1) for k in keys]
    out = []
    for r in rows:
        found = context.unit_tree.query(shapely.points(lon[r], lat[r]), predicate="intersects") \
            if context.unit_tree is not None else []
        out.append(tuple(sorted(int(u) for u in found)))
    return out


def place_and_route(context: RoutingContext, rows: pd.DataFrame, lon: np.ndarray, lat: np.ndarray,
                    points: np.ndarray | None = None) -> None:
    """Parents and departments per row (``category_code``, ``grid_code`` and the point given),
    written into ``rows``: community_code, street_code, district_code, lead_department,
    co_departments, routing_rule, rule_hours. ``points``: the points as shapely geometries, if made."""
    n = len(rows)
    cat_idx, cats = pd.factorize(rows["category_code"].to_numpy(dtype=object))
    grid_idx, grids = pd.factorize(rows["grid_code"].to_numpy(dtype=object))
    places = [context.index.place(g) for g in grids]
    for column, attr in (("community_code", "community"), ("street_code", "street"),
                         ("district_code", "district_code")):
        rows[column] = np.array([getattr(p, attr) for p in places], dtype=object)[grid_idx] if n else []
    # the scope class of each (category, grid), then of each row
    grid_text = np.asarray(grids, dtype=str)
    scope_names: list[np.ndarray] = []
    scope_idx = np.zeros((len(cats), len(grids)), dtype=np.int64)
    for ci, category in enumerate(cats):
        codes, names = pd.factorize(longest_scopes(context.rules.get(category, []), grid_text))
        scope_idx[ci] = codes
        scope_names.append(np.asarray(names, dtype=object))
    scope = scope_idx[cat_idx, grid_idx]
    unit_idx, unit_keys = pd.factorize(coverage_keys(context, lon, lat, points))
    representative = np.zeros(len(unit_keys), dtype=np.int64)  # a row per distinct coverage
    representative[unit_idx[::-1]] = np.arange(n)[::-1]
    unit_tuples = units_of(context, np.asarray(unit_keys), representative, lon, lat)
    key = (cat_idx.astype(np.int64) * (len(grids) + 1) + scope) * max(len(unit_keys), 1) + unit_idx
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    results = [_assignment(context, cats[cat_idx[r]], scope_names[cat_idx[r]][scope[r]], unit_tuples[unit_idx[r]],
                           places[grid_idx[r]], None) for r in first]
    lead = np.array([a.lead for a in results], dtype=object)[group]
    co = _objects([a.co for a in results])[group]
    rule = np.array([a.rule for a in results], dtype=object)[group]
    hours = np.array([a.resolve_limit_hours for a in results], dtype=object)[group]
    falls_back = np.array([a.lead is None for a in results], dtype=bool)[group] if n else np.zeros(0, bool)
    if falls_back.any():  # 属地兜底: the street's own rule label, once per (class, street)
        street_idx, _ = pd.factorize(rows["street_code"].to_numpy(dtype=object), use_na_sentinel=False)
        sub = np.flatnonzero(falls_back)
        pair = group[sub].astype(np.int64) * (street_idx.max() + 1) + street_idx[sub]
        _, pair_first, pair_group = np.unique(pair, return_index=True, return_inverse=True)
        labels = [_assignment(context, cats[cat_idx[r]], scope_names[cat_idx[r]][scope[r]],
                              unit_tuples[unit_idx[r]], places[grid_idx[r]], places[grid_idx[r]].street).rule
                  for r in sub[pair_first]]
        rule[sub] = np.array(labels, dtype=object)[pair_group]
    rows["lead_department"], rows["co_departments"], rows["routing_rule"], rows["rule_hours"] = lead, co, rule, hours


def _objects(values: list[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)  # 1-D even when the values are tuples
    out[:] = [list(v) for v in values]
    return out


def _assignment(context: RoutingContext, category: str, scope: str, units: tuple[int, ...], placement: Placement,
                street: str | None) -> Assignment:
    """``assign`` for one class (cached across batches); ``street`` set only for a fallback class,
    whose rule label names the street."""
    key = (category, scope, units, street)
    if key not in context.assignments:
        coverage = Coverage.from_pairs((context.unit_codes[i], context.unit_parents[i]) for i in units)
        context.assignments[key] = assign(context.rules.get(category, []), placement, coverage)
    return context.assignments[key]
