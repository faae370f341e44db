"""Duty-list routing: precedence, units by jurisdiction, street fallback (pure)."""

from geo.domain.placement import Placement
from geo.domain.routing import Coverage, DutyRule, assign

GRID = Placement("110102003001001", "110102003001", "110102003", "110102")


def rule(scope_kind, scope, lead, co=(), hours=None):
    return DutyRule("0602", scope_kind, scope, lead, tuple(co), hours)


RULES = [
    rule("citywide", "", "HBJ", ["GA"]),
    rule("boundary", "110102", "HBJ", ["CGZF"]),
    rule("boundary", "110102003", "GA", ["HBJ"], 12),
    rule("jurisdiction", "PARK", "PARK", ["GA"]),
]


def test_jurisdiction_beats_street_beats_district_beats_citywide():
    assert assign(RULES, GRID, Coverage(frozenset({"PARK"}))).rule == "jurisdiction:PARK"
    assert assign(RULES, GRID, Coverage()).rule == "boundary:110102003"
    other_street = Placement("110102004001001", "110102004001", "110102004", "110102")
    assert assign(RULES, other_street, Coverage()).rule == "boundary:110102"
    other_district = Placement("110105001001001", "110105001001", "110105001", "110105")
    assert assign(RULES, other_district, Coverage()).lead == "HBJ"
    assert assign(RULES, other_district, Coverage()).rule == "citywide"


def test_rule_time_limit_travels_with_the_assignment():
    assert assign(RULES, GRID, Coverage()).resolve_limit_hours == 12


def test_unit_whose_jurisdiction_contains_the_point_is_chosen():
    coverage = Coverage.from_pairs([("GA-003", "GA"), ("GA-009", "GA")])
    got = assign(RULES, GRID, coverage)
    assert (got.lead, got.co) == ("GA-003", ("HBJ",))
    assert "GA" in coverage.departments


def test_co_departments_are_resolved_to_units_too():
    got = assign(RULES[:1], GRID, Coverage.from_pairs([("GA-003", "GA")]))
    assert (got.lead, got.co) == ("HBJ", ("GA-003",))


def test_no_rule_falls_back_to_the_street():
    got = assign([], GRID, Coverage())
    assert (got.lead, got.co, got.rule) == (None, (), "fallback_street:110102003")
