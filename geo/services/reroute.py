"""Re-routing old cases to the current grid boundaries (DOMAIN.md: "a case keeps the codes it was
routed to; re-routing old cases to new boundaries is an explicit command").

A case placed with an older grid version gets the grid, community, street and district the
current version gives its point — placed by geo.domain.placement, exactly as a bulk import places
it. Its departments and deadlines stay: they were decided
when it was dispatched. A case whose point lies in no current grid keeps its old codes and version
and is counted, so nothing is lost. Each moved case gets a ``reroute`` event with old and new codes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from geo.services import placement as placement_service
from geo.store import reroute as store

__all__ = ["RerouteReport", "outdated_count", "reroute_cases"]

_CODES = ("grid_code", "community_code", "street_code", "district_code")


@dataclass
class RerouteReport:
    checked: int = 0
    moved: int = 0  # codes changed
    same: int = 0  # same codes, now on the current version
    outside: int = 0  # in no current grid: left as they were
    version_id: int | None = None

    def line(self) -> str:
        return (f"检查旧边界版本上的案件 {self.checked} 个：改到新网格 {self.moved}，编码不变 {self.same}，"
                f"不在任何新网格内（保留原编码）{self.outside}。")


def outdated_count(session: Session) -> int:
    """Cases routed with another grid version than the current one (what reroute_cases checks)."""
    return store.count_outdated(session, placement_service.current_index(session)[1])


def reroute_cases(session: Session, *, dry_run: bool = False, batch: int = 50_000, actor_name: str = "gridmap",
                  progress: Callable[[int], object] | None = None) -> RerouteReport:
    """Move every case routed with an older grid version to the current one; ``dry_run`` only counts."""
    index, version_id = placement_service.current_index(session)
    report = RerouteReport(version_id=version_id)
    after = 0
    while True:
        cases = store.outdated_cases(session, version_id, after_id=after, limit=batch)
        if cases.empty:
            return report
        after = int(cases["id"].iloc[-1])
        grids = index.grid_codes(cases["lon"].to_numpy(), cases["lat"].to_numpy())
        inside = ~pd.isna(grids)
        moves = cases[inside].copy()
        placed = [index.place(g).codes() for g in grids[inside]]
        for column in _CODES:
            moves[f"new_{column}"] = [p[column] for p in placed]
        moves["changed"] = np.logical_or.reduce(
            [moves[c].astype(object).to_numpy() != moves[f"new_{c}"].astype(object).to_numpy() for c in _CODES])
        report.checked += len(cases)
        report.outside += int((~inside).sum())
        report.moved += int(moves["changed"].sum())
        report.same += int((~moves["changed"]).sum())
        if not dry_run:
            store.move_cases(session, moves, version_id, actor_name=actor_name)
        if progress is not None:
            progress(len(cases))
        if len(cases) < batch:
            return report
