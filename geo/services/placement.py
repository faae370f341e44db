"""Where points fall: the current grids as a placement index (geo.domain.placement) for every path
that places many points at once (bulk import and re-routing), and the preview of one point a
reporter is about to submit ("将上报到：…网格（…社区）")."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from geo.domain.cases import outside_message, wgs84_position
from geo.domain.coordinates import normalize_crs_name
from geo.domain.errors import Forbidden, InvalidInput
from geo.domain.permissions import User, area_name, check_can_report
from geo.domain.placement import PlacementIndex
from geo.store import boundaries as boundary_store
from geo.store import cases as case_store

__all__ = ["current_index", "preview"]

#: The levels a preview names, finest first.
_LEVELS = ("grid", "community", "street", "district")


def current_index(session: Session) -> tuple[PlacementIndex, int]:
    """(index, grid version id) of the current grid boundaries; refuses when none are loaded."""
    codes, pieces, version_id = case_store.grid_pieces(session)
    if version_id is None:
        raise InvalidInput("还没有加载网格边界，无法定位案件。请先 gridmap boundaries load … --level grid。",
                           field="level", code="no_grids")
    return PlacementIndex.build(codes, pieces, case_store.grid_chain(session)), version_id


def preview(session: Session, user: User, lon: Any, lat: Any, crs: str | None = None) -> dict[str, Any]:
    """Where a case reported at (lon, lat) would go, before it is sent: each level's code and name,
    whether ``user`` may report there (and why not, in words), and the line the form shows.

    Placed by the same query as intake (``case_store.point_facts``: lowest grid code on shared
    edges), so the preview and the stored case never disagree. ``outside_area`` (422) when the
    point is in no grid, with the same message intake gives.
    """
    crs_name = normalize_crs_name(crs)
    x, y = wgs84_position(lon, lat, crs_name)
    placement = case_store.point_facts(session, x, y, "", "", None).placement
    if placement is None:
        raise InvalidInput(outside_message(x, y, crs_name), field="lon", code="outside_area")
    codes = dict(zip(_LEVELS, (placement.grid, placement.community, placement.street, placement.district_code),
                     strict=True))
    names = boundary_store.names_of(session, [c for c in (*codes.values(), user.scope) if c])
    reason = None
    try:
        check_can_report(user, placement.grid, names)
    except Forbidden as exc:
        reason = exc.message
    grid, community = area_name(placement.grid, names), area_name(codes["community"] or "", names)
    return {
        "lon": x, "lat": y,
        **{level: {"code": code, "name": names.get(code or "", code)} for level, code in codes.items()},
        "may_report": reason is None, "reason": reason,
        "label": f"将上报到：{grid}（{community}）" if codes["community"] else f"将上报到：{grid}",
    }
