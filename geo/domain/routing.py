"""Routing by the duty list (责任清单): which department leads a case and who assists.

Rules are (category, scope, lead department, co-departments, time limit). The most specific
rule wins: a department's jurisdiction polygon (辖区) > a boundary code prefix (longer is more
specific: grid > community > street > district) > citywide. When a rule names a department
with units (e.g. 公安 with its 派出所), the unit whose jurisdiction contains the point is
chosen. No rule: the street handles it (属地兜底).

This is pure logic shared by the one-case path (PostGIS facts) and the bulk path (STRtree
facts), so both give the same answer.

>>> rule = DutyRule("0101", "citywide", "", "CGW", ("CGZF",), None)
>>> assign([rule], Placement("110101001001001", "110101001001", "110101001", "110101"), Coverage()).lead
'CGW'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from geo.domain.placement import Placement

__all__ = ["Assignment", "Coverage", "DutyRule", "assign", "choose_rule", "longest_scopes"]

SCOPE_KINDS = ("citywide", "boundary", "jurisdiction")
#: Ranks a jurisdiction rule above any boundary prefix (codes are at most 32 characters).
_JURISDICTION_RANK = 1000


@dataclass(frozen=True)
class DutyRule:
    category: str
    scope_kind: str  # citywide | boundary | jurisdiction
    scope: str  # "" | a boundary code prefix | a department code
    lead: str
    co: tuple[str, ...]
    resolve_limit_hours: float | None

    @property
    def rank(self) -> int:
        if self.scope_kind == "jurisdiction":
            return _JURISDICTION_RANK
        return len(self.scope) if self.scope_kind == "boundary" else 0

    @property
    def label(self) -> str:
        return self.scope_kind if self.scope_kind == "citywide" else f"{self.scope_kind}:{self.scope}"


@dataclass(frozen=True)
class Coverage:
    """Departments whose jurisdiction polygons contain the point.

    ``units`` maps a department to its unit covering the point (the lowest code when several
    do); ``departments`` holds every covering department and the parents of covering units.
    """

    departments: frozenset[str] = field(default_factory=frozenset)
    units: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str | None]]) -> Coverage:
        """From (department code, parent code) pairs of covering jurisdictions."""
        departments: set[str] = set()
        units: dict[str, str] = {}
        for code, parent in sorted(pairs, key=lambda p: p[0]):
            departments.add(code)
            if parent:
                departments.add(parent)
                units.setdefault(parent, code)
        return cls(frozenset(departments), units)


@dataclass(frozen=True)
class Assignment:
    lead: str | None  # None: the street handles it (属地兜底)
    co: tuple[str, ...]
    rule: str
    resolve_limit_hours: float | None


def choose_rule(rules: Iterable[DutyRule], placement: Placement, coverage: Coverage) -> DutyRule | None:
    """The most specific rule that applies at ``placement`` (ties: lowest scope, then lead code)."""
    best: DutyRule | None = None
    for rule in rules:
        if rule.scope_kind == "jurisdiction":
            applies = rule.scope in coverage.departments
        elif rule.scope_kind == "boundary":
            applies = placement.grid.startswith(rule.scope)
        else:
            applies = True
        if applies and (best is None or (-rule.rank, rule.scope, rule.lead) < (-best.rank, best.scope, best.lead)):
            best = rule
    return best


def assign(rules: Iterable[DutyRule], placement: Placement, coverage: Coverage) -> Assignment:
    """Lead and co-departments for a case of the rules' category at ``placement``."""
    rule = choose_rule(rules, placement, coverage)
    if rule is None:
        return Assignment(None, (), f"fallback_street:{placement.street or ''}", None)
    lead = coverage.units.get(rule.lead, rule.lead)
    co = tuple(dict.fromkeys(coverage.units.get(c, c) for c in rule.co if c != rule.lead))
    return Assignment(lead, co, rule.label, rule.resolve_limit_hours)


def longest_scopes(rules: Iterable[DutyRule], grids: np.ndarray) -> np.ndarray:
    """Per grid code (a numpy str array), the longest boundary scope among ``rules`` that it starts
    with ('' when none). ``choose_rule`` picks the same rule for two grids with the same longest
    scope and the same coverage: every boundary scope that applies to a grid is a prefix of it, so
    a prefix of the longest one. Bulk routing therefore decides once per such class, not per grid.

    >>> rules = [DutyRule("0101", "boundary", "110101", "A", (), None),
    ...          DutyRule("0101", "boundary", "110101001", "B", (), None)]
    >>> longest_scopes(rules, np.array(["110101001001", "110101002001", "110102001001"])).tolist()
    ['110101001', '110101', '']
    """
    out = np.full(len(grids), "", dtype=object)
    best = np.full(len(grids), -1)
    for rule in rules:
        if rule.scope_kind == "boundary":
            hit = np.char.startswith(grids, rule.scope) & (len(rule.scope) > best)
            out[hit], best[hit] = rule.scope, len(rule.scope)
    return out
