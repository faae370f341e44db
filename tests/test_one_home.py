"""One home per rule: the status vocabulary is defined once (geo/domain/statuses.py), and every
other place derives from it or is pinned to it here."""

from __future__ import annotations

import importlib.util
import itertools
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from geo.domain import statuses
from geo.store.models import CASE_FACT_RECORD_SQL
from geo.store.vocabulary import next_due_sql, overdue_sql, overdue_step_sql

ROOT = Path(__file__).resolve().parent.parent
HOME = ROOT / "geo/domain/statuses.py"
#: The newest migration that froze a copy of the record expression; the comparison keeps it honest.
FROZEN = ROOT / "geo/store/migrations/versions/0022_fold.py"


def test_the_record_numbering_of_statuses_is_pinned():
    """case_fact.record stores the status as this number: renumbering would misread every stored row."""
    assert statuses.NUMBERS == {
        "received": 1, "dispatched": 2, "signed": 3, "responded": 4, "in_progress": 5, "resolved": 6,
        "checked": 7, "closed": 8, "returned": 9, "suspended": 10, "void": 11,
    }
    assert max(statuses.NUMBERS.values()) < 256  # eight bits in the record


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).replace("( ", "(").replace(" )", ")").strip()


def _migration(path: Path):
    """A migration module, loaded from its file (the versions folder is not a package)."""
    spec = importlib.util.spec_from_file_location(f"migration_{path.stem}", path)
    assert spec and spec.loader
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    return migration


def test_the_frozen_record_expression_of_the_newest_migration_is_the_one_the_vocabulary_builds():
    assert _normalise(_migration(FROZEN).RECORD_SQL) == _normalise(CASE_FACT_RECORD_SQL)


def test_the_next_deadline_frozen_by_the_counters_migration_is_the_one_the_vocabulary_builds():
    """case_count's trigger and ix_cases_next_due (0021) key counts by it: a vocabulary change needs a migration."""
    frozen = _migration(ROOT / "geo/store/migrations/versions/0021_counters.py").NEXT_DUE_SQL
    assert _normalise(frozen) == _normalise(next_due_sql(""))


_CODES = ("", "0", "0101", "101", "01010", "12345678901234567", "123456789012345678", "A12", "12a", "１２", " 12",
          "12 ", "12\n", "-12", "+12", "1.5", None)


def test_the_record_reads_codes_as_the_expression_migration_0015_froze(connection):
    """Migration 0022 reads "1–17 digits" without a regular expression: the same record for
    every kind of code (empty, too long, signs, spaces, full-width digits, NULL)."""
    old = _migration(ROOT / "geo/store/migrations/versions/0015_record.py").RECORD_SQL
    rows = ", ".join(f"(:c{i}, :k{i})" for i in range(len(_CODES)))
    params = {f"c{i}": code for i, code in enumerate(_CODES)}
    params |= {f"k{i}": code[:4] if code else code for i, code in enumerate(_CODES)}
    fact = ("SELECT c AS grid_code, c AS community_code, c AS street_code, c AS district_code, k AS category_code, "
            "'CGW' AS lead_department, 'received' AS status, now() AS reported_at, NULL::timestamptz AS dispatch_due, "
            + ", ".join(f"NULL::timestamptz AS {t}" for t in ("dispatched_at", "responded_at", "respond_clock_at",
                                                              "respond_clock_due", "clock_at", "respond_due",
                                                              "resolve_due", "resolved_at"))
            + ", NULL::boolean AS callback_contacted, NULL::boolean AS callback_solved, "
            "NULL::boolean AS callback_satisfied, false AS is_repeat "
            f"FROM (VALUES {rows}) v(c, k)")
    same = f"({old}) IS NOT DISTINCT FROM ({CASE_FACT_RECORD_SQL})"
    differ = connection.execute(text(f"SELECT count(*) FILTER (WHERE NOT {same}), count(*) FROM ({fact}) f"),
                                params).one()
    assert tuple(differ) == (0, len(_CODES))


_T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
_CHOICES = (None, _T0 - timedelta(hours=1), _T0 + timedelta(hours=1))


@pytest.mark.parametrize("status", list(statuses.STATES))
def test_the_overdue_sql_agrees_with_the_python_rule_for_every_status_and_clock(connection, status):
    combos = list(itertools.product(_CHOICES, repeat=3))
    values = ", ".join(f"(:s, CAST(:d{i} AS timestamptz), CAST(:r{i} AS timestamptz), CAST(:v{i} AS timestamptz))"
                       for i in range(len(combos)))
    params: dict[str, object] = {"s": status, "now": _T0}
    for i, (d, r, v) in enumerate(combos):
        params |= {f"d{i}": d, f"r{i}": r, f"v{i}": v}
    rows = connection.execute(text(
        f"SELECT {overdue_sql('c', 'CAST(:now AS timestamptz)')}, {overdue_step_sql('c', 'CAST(:now AS timestamptz)')},"
        f" {next_due_sql('c')} FROM (VALUES {values}) AS c(status, dispatch_due, respond_due, resolve_due)"),
        params).all()
    for (d, r, v), (overdue, step, due) in zip(combos, rows, strict=True):
        clocks = {"dispatch": d, "respond": r, "resolve": v}
        expected = statuses.overdue_step(status, clocks, now=_T0)
        assert step == expected, (status, clocks)
        assert bool(overdue) == (expected is not None), (status, clocks)
        assert due == statuses.next_due(status, clocks), (status, clocks)


# --- no second definition -------------------------------------------------------------------------

#: The vocabulary, the lifecycle's state table built on it, and the SQL derived from it.
_HOMES = {"geo/domain/statuses.py", "geo/domain/workflow.py", "geo/store/vocabulary.py"}
_SOURCES = [p for pattern in ("geo/**/*.py", "webmap/**/*.py", "webmap/static/**/*.js", "templates/**/*.html")
            for p in ROOT.glob(pattern)
            if "vendor" not in p.parts and "migrations" not in p.parts
            and p.relative_to(ROOT).as_posix() not in _HOMES]
_CODE = "|".join(statuses.STATES)
#: Two status codes side by side in a literal list, tuple or SQL IN (…): a status group typed by hand.
_GROUP = re.compile(rf"""['"]({_CODE})['"]\s*,\s*['"](?!\1['"])({_CODE})['"]""")
#: A status compared in SQL by hand.
_SQL = re.compile(rf"""status\s*(=|<>|!=)\s*'({_CODE})'""")


def _offences(pattern: re.Pattern[str]) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{n}: {line.strip()}" for p in _SOURCES
            for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
            if pattern.search(line) and "whistle" not in line]  # a whistle's own status is open/closed


def test_no_status_group_is_typed_outside_the_vocabulary():
    assert _offences(_GROUP) == []
    assert _offences(_SQL) == []


def test_no_status_label_is_typed_outside_the_vocabulary():
    labels = re.compile("|".join(re.escape(f"{q}{label}{q}") for label in statuses.STATES.values() for q in "\"'"))
    assert _offences(labels) == []


def test_the_roles_the_database_accepts_are_the_workflow_roles():
    """Migration 0010 froze the role list of the app_user check constraint."""
    from geo.domain.workflow import ROLES

    assert _migration(ROOT / "geo/store/migrations/versions/0010_roles.py").ROLES == ROLES


def test_the_request_types_the_database_accepts_are_the_vocabulary():
    """Migration 0011 froze the request-type codes of the cases check constraint."""
    from geo.domain.requesters import REQUEST_TYPES

    frozen = _migration(ROOT / "geo/store/migrations/versions/0011_requester.py").REQUEST_TYPES
    assert frozen == tuple(REQUEST_TYPES)



@pytest.mark.parametrize("sequence", [1, 42, 999_999, 1_000_000, 1_000_001, 123_456_789_012])
def test_the_case_number_sql_is_the_python_rule(connection, sequence):
    from datetime import date

    from geo.domain.cases import case_number, case_numbers
    from geo.store.cases import CASE_NO_SQL

    sql = CASE_NO_SQL.format(d="CAST(:d AS text)", day="CAST(:day AS date)", n="CAST(:n AS bigint)")
    day = date(2026, 11, 1)
    got = connection.execute(text(f"SELECT {sql}"), {"d": "110102", "day": day, "n": sequence}).scalar_one()
    assert got == case_number("110102", day, sequence)
    assert case_numbers(["110102"], [day], [sequence]).tolist() == [got]


def test_case_numbers_past_six_digits_never_collide():
    from datetime import date

    from geo.domain.cases import case_numbers

    sequences = [*range(99_990, 100_011), *range(999_990, 1_000_011), 10_000_000, 1_000_000]
    numbers = case_numbers(["110102"] * len(sequences), [date(2026, 11, 1)] * len(sequences), sequences)
    assert len(set(numbers.tolist())) == len(set(sequences))
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == sequences  # every number reads back as its sequence
