"""The map's counters (case_count, migration 0021): kept by triggers on ``cases``, they give the
street and community count views the same numbers as a scan, over a random history of creates,
dispatches, status and deadline changes, moves, deletes, multi-row writes, a re-routing and a
bulk import; a rebuild repairs them; the app's role cannot write them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.domain.filters import CaseFilters
from geo.domain.statuses import STATES
from geo.services import cases, workflow
from geo.services.accounts import create_user
from geo.services.boundaries import load_boundaries
from geo.services.reroute import reroute_cases
from geo.store import case_counts
from geo.store.case_map import map_aggregates
from tests import geometries as g
from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from tests.test_reroute import redrawn_grids
from webmap.cli import main

#: Filters the counters answer, and some they leave to the scan (dates, source, a grid).
SERVED = [CaseFilters(), CaseFilters(statuses=("received",)), CaseFilters(categories=("0101", "0602")),
          CaseFilters(area="110101002"), CaseFilters(area="110101002001"), CaseFilters(visible_area="110101"),
          CaseFilters(overdue=True), CaseFilters(overdue=False),
          CaseFilters(statuses=("received", "dispatched"), overdue=True, area="1101")]
SCANNED = [CaseFilters(area="110101002001002"), CaseFilters(source="api"),
           CaseFilters(reported_from=datetime(2026, 1, 1, tzinfo=UTC)), CaseFilters(departments=("CG",))]
CATEGORIES = ("0101", "0503", "0602", "0699")


def same_as_the_scan(session: Session) -> None:
    """Every view from the counters equals the scan's, and the counters equal a recount."""
    assert case_counts.differences(session) == []
    for level in ("street", "community"):
        for filters in SERVED:
            counted = case_counts.aggregates(session, filters, level=level)
            assert counted is not None, filters
            assert counted == map_aggregates(session, filters, level=level, counters=False), (level, filters)
        for filters in SCANNED:
            assert case_counts.aggregates(session, filters, level=level) is None


def _point(rng: random.Random) -> dict[str, float]:
    return {"lon": rng.uniform(g.X0 + 1e-4, g.X1 - 1e-4), "lat": rng.uniform(g.Y0 + 1e-4, g.Y1 - 1e-4)}


def _create(session: Session, rng: random.Random) -> None:
    cases.create_case(session, cases.NewCase(category=rng.choice(CATEGORIES), **_point(rng)))


def _dispatch(session: Session, rng: random.Random) -> None:
    received = session.execute(text("SELECT case_no, street_code FROM cases WHERE status = 'received' "
                                     "ORDER BY random() LIMIT 1")).first()
    if received is None:
        return
    leader = create_user(session, f"leader{rng.randrange(10**9)}", role="street_leader", scope=received[1],
                         password="x" * 12)
    workflow.act(session, leader, received[0], "dispatch")


def _restatus(session: Session, rng: random.Random) -> None:
    """A status change with deadlines around now: long past, earlier today, later today, to come."""
    now = datetime.now(UTC)
    due = [now - timedelta(days=3), now - timedelta(minutes=rng.randint(1, 60)),
           now + timedelta(minutes=rng.randint(1, 60)), now + timedelta(days=2), None]
    session.execute(text(
        "UPDATE cases SET status = :s, dispatch_due = :d, respond_due = :r, resolve_due = :v "
        "WHERE id IN (SELECT id FROM cases ORDER BY random() LIMIT :n)"),
        {"s": rng.choice(list(STATES)), "d": rng.choice(due), "r": rng.choice(due), "v": rng.choice(due),
         "n": rng.randint(1, 3)})


def _move(session: Session, rng: random.Random) -> None:
    """A reassignment to another grid, community and street (a corrected position)."""
    grid = rng.choice(sorted(g.GRIDS))
    session.execute(text("UPDATE cases SET grid_code = :g, community_code = :c, street_code = :s "
                         "WHERE id = (SELECT id FROM cases ORDER BY random() LIMIT 1)"),
                    {"g": grid, "c": grid[:12], "s": grid[:9]})


def _delete(session: Session, rng: random.Random) -> None:
    session.execute(text("DELETE FROM cases WHERE id = (SELECT id FROM cases c WHERE NOT EXISTS "
                         "(SELECT FROM case_event e WHERE e.case_id = c.id) ORDER BY random() LIMIT 1)"))


def _copy_rows(session: Session, rng: random.Random) -> None:
    """One statement writing many rows (as an import's INSERT … SELECT would)."""
    session.execute(text("""
        INSERT INTO cases (case_no, source, external_id, category_code, urgency, reported_at, geom, orig_x, orig_y,
                           orig_crs, grid_code, community_code, street_code, district_code, boundary_version_id,
                           routing_rule, status, dispatch_due, resolve_due)
        SELECT case_no || '-c' || :tag, 'copy', case_no || :tag, category_code, urgency, reported_at, geom, orig_x,
               orig_y, orig_crs, grid_code, community_code, street_code, district_code, boundary_version_id,
               routing_rule, status, dispatch_due, resolve_due FROM cases WHERE source <> 'copy'"""),
                    {"tag": str(rng.randrange(10**9))})


def _fold(session: Session, rng: random.Random) -> None:
    """The overdue_scan job's fold: deadline days gone by become one row per key."""
    case_counts.fold_past(session)
    assert not session.execute(text("SELECT EXISTS (SELECT FROM case_count WHERE due_day BETWEEN 1 AND "
                                    "floor(extract(epoch FROM now()) / 86400)::int - 1)")).scalar_one()


STEPS = (_create, _create, _create, _dispatch, _restatus, _restatus, _move, _delete, _copy_rows, _fold)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_counters_give_the_scan_numbers_through_a_random_history(routed, tmp_path, seed):
    rng = random.Random(seed)
    for _ in range(6):
        _create(routed, rng)
    same_as_the_scan(routed)
    for i in range(40):
        rng.choice(STEPS)(routed, rng)
        if i % 8 == 7:
            same_as_the_scan(routed)
    load_boundaries(routed, g.write(redrawn_grids(), tmp_path / "new.geojson"), "grid", parent_field="parent_code")
    reroute_cases(routed)  # boundary reload and re-placement
    same_as_the_scan(routed)


def test_a_deadline_earlier_today_is_overdue_and_one_later_today_is_not(routed):
    _create(routed, random.Random(7))
    routed.execute(text("UPDATE cases SET status = 'received', dispatch_due = now() + interval '1 second'"))
    before = case_counts.aggregates(routed, CaseFilters(), level="street")
    assert [r["overdue"] for r in before] == [0]
    # both deadlines fall on today's counter row: only the cases due before now are overdue
    routed.execute(text("UPDATE cases SET dispatch_due = now() - interval '1 second'"))
    after = case_counts.aggregates(routed, CaseFilters(), level="street")
    assert [r["overdue"] for r in after] == [1]
    assert after == map_aggregates(routed, CaseFilters(), level="street", counters=False)


def test_a_rebuild_repairs_counters_and_the_recount_command_reports_and_fixes(fresh_db, tmp_path):
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "boundaries")
        load_tiny_reference(session, tmp_path / "reference")
        rng = random.Random(5)
        for _ in range(5):
            _create(session, rng)
        session.execute(text("ALTER TABLE cases DISABLE TRIGGER case_count_insert"))
        _create(session, rng)  # written behind the counters' back (only the owner can do this)
        session.execute(text("ALTER TABLE cases ENABLE TRIGGER case_count_insert"))
    runner = CliRunner()
    env = {"DATABASE_URL": fresh_db}
    checked = runner.invoke(main, ["cases", "recount", "--check"], env=env)
    assert checked.exit_code == 1 and "1 个计数不符" in checked.output, checked.output
    fixed = runner.invoke(main, ["cases", "recount"], env=env)
    assert fixed.exit_code == 0, fixed.output
    assert runner.invoke(main, ["cases", "recount", "--check"], env=env).exit_code == 0
    with Session(engine) as session:
        assert case_counts.differences(session) == []
    engine.dispose()
