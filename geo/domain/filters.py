"""Which cases a reader asks for: the one case-filter type every layer shares.

The web layer parses a request into it, services narrow it to the reader's scope, storage turns
it into SQL. Pure: a frozen value, no I/O.

>>> CaseFilters(statuses=("received",), area="110102").area
'110102'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["SORTS", "CaseFilters"]

#: How a case list may be ordered, with the words the list shows: overdue first by how much, the next
#: deadline soonest first, workflow status, category, newest first.
SORTS: dict[str, str] = {"overdue": "超期优先", "due": "时限最近", "status": "状态", "category": "分类",
                         "newest": "最新受理"}


@dataclass(frozen=True)
class CaseFilters:
    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    area: str | None = None  # any boundary code prefix
    bbox: tuple[float, float, float, float] | None = None
    reported_from: datetime | None = None
    reported_to: datetime | None = None
    source: str | None = None
    visible_area: str | None = None  # the reader's scope (a boundary code prefix)
    departments: tuple[str, ...] | None = None  # department staff: cases these lead or assist
    overdue: bool | None = None
    reported_by: int | None = None  # "my reports": cases this user reported (their 'receive' event)
