"""The current grids as a placement index (geo.domain.placement), for every path that places many
points at once: bulk import and re-routing."""

from __future__ import annotations

from sqlalchemy.orm import Session

from geo.domain.errors import InvalidInput
from geo.domain.placement import PlacementIndex
from geo.store import cases as case_store

__all__ = ["current_index"]


def current_index(session: Session) -> tuple[PlacementIndex, int]:
    """(index, grid version id) of the current grid boundaries; refuses when none are loaded."""
    codes, pieces, version_id = case_store.grid_pieces(session)
    if version_id is None:
        raise InvalidInput("还没有加载网格边界，无法定位案件。请先 gridmap boundaries load … --level grid。",
                           field="level", code="no_grids")
    return PlacementIndex.build(codes, pieces, case_store.grid_chain(session)), version_id
