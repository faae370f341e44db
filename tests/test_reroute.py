"""Re-routing old cases to redrawn grids: an explicit command, audited, idempotent, nothing lost."""

import geopandas as gpd
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.services import accounts, cases
from geo.services.boundaries import load_boundaries
from geo.services.reroute import reroute_cases
from tests import geometries as g
from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from webmap.cli import main

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002 (east half of the south-east community)
NORTH_EAST = {"lon": 116.3175, "lat": 39.9075}  # the same old grid, in its northern half


def redrawn_grids(drop: str | None = None) -> gpd.GeoDataFrame:
    """Each community cut south/north instead of west/east: …001 is now the south half."""
    rows = []
    for community, (x0, y0, x1, y1) in g.COMMUNITIES.items():
        ym = (y0 + y1) / 2
        for suffix, box in (("001", (x0, y0, x1, ym)), ("002", (x0, ym, x1, y1))):
            code = community + suffix
            if code != drop:
                rows.append({"code": code, "name": f"新网格{code[-6:]}", "parent_code": community,
                             "geometry": shapely.box(*box)})
    return gpd.GeoDataFrame(rows, crs="EPSG:4326")


@pytest.fixture
def placed(routed, tmp_path):
    leader = accounts.create_user(routed, "rr_leader", role="street_leader", scope="110101002", password="x" * 12)
    first = cases.create_case(routed, cases.NewCase(category="0101", **EAST), user=leader)
    second = cases.create_case(routed, cases.NewCase(category="0101", **NORTH_EAST), user=leader)
    assert first["properties"]["grid_code"] == second["properties"]["grid_code"] == "110101002001002"
    return routed, first["id"], second["id"]


def codes(session, case_no):
    return session.execute(text("SELECT grid_code, community_code, street_code, boundary_version_id FROM cases "
                                "WHERE case_no = :n"), {"n": case_no}).one()


def test_redrawn_grids_move_old_cases_with_an_event_each(placed, tmp_path):
    session, first, second = placed
    load_boundaries(session, g.write(redrawn_grids(), tmp_path / "new.geojson"), "grid", parent_field="parent_code")
    before = codes(session, first)
    assert before.grid_code == "110101002001002"  # a case keeps its codes until the command runs
    dry = reroute_cases(session, dry_run=True)
    # The first case's point is now in …001 (the south half); the second's is still in a …002.
    assert (dry.checked, dry.moved, dry.same, dry.outside) == (2, 1, 1, 0)
    assert codes(session, first) == before
    report = reroute_cases(session)
    assert (report.checked, report.moved, report.same, report.outside) == (2, 1, 1, 0)
    after_first, after_second = codes(session, first), codes(session, second)
    assert after_first.grid_code == "110101002001001" and after_second.grid_code == "110101002001002"
    assert after_first.community_code == "110101002001" and after_first.street_code == "110101002"
    assert after_first.boundary_version_id == after_second.boundary_version_id == report.version_id
    assert report.version_id != before.boundary_version_id
    events = session.execute(text(
        "SELECT e.details FROM case_event e JOIN cases c ON c.id = e.case_id "
        "WHERE c.case_no = :n AND e.action = 'reroute'"), {"n": first}).scalars().all()
    assert len(events) == 1
    unchanged = session.execute(text(
        "SELECT count(*) FROM case_event e JOIN cases c ON c.id = e.case_id "
        "WHERE c.case_no = :n AND e.action = 'reroute'"), {"n": second}).scalar_one()
    assert unchanged == 0  # same codes: only the version moves, no event
    assert events[0]["from"]["grid_code"] == "110101002001002" and events[0]["to"]["grid_code"] == "110101002001001"
    again = reroute_cases(session)  # idempotent: nothing is on an old version any more
    assert (again.checked, again.moved) == (0, 0)


def test_a_case_in_no_new_grid_keeps_its_codes(placed, tmp_path):
    session, first, second = placed
    grids = redrawn_grids(drop="110101002001001")  # a hole where the first case lies
    # A gap is reported by `boundaries check`, not refused at load.
    load_boundaries(session, g.write(grids, tmp_path / "holey.geojson"), "grid", parent_field="parent_code")
    before = codes(session, first)
    report = reroute_cases(session)
    assert (report.checked, report.moved, report.same, report.outside) == (2, 0, 1, 1)
    assert codes(session, first) == before  # nothing lost: old codes and version kept
    assert codes(session, second).grid_code == "110101002001002"


def test_reroute_command(fresh_db, tmp_path):
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "b")
        load_tiny_reference(session, tmp_path / "r")
        leader = accounts.create_user(session, "rr", role="street_leader", scope="110101", password="x" * 12)
        case = cases.create_case(session, cases.NewCase(category="0101", **EAST), user=leader)["id"]
        load_boundaries(session, g.write(redrawn_grids(), tmp_path / "new.geojson"), "grid",
                        parent_field="parent_code")

    def run(*args):
        return CliRunner().invoke(main, ["cases", "reroute", *args], env={"DATABASE_URL": fresh_db})

    dry = run("--dry-run")
    assert dry.exit_code == 0 and "试运行" in dry.output and "改到新网格 1" in dry.output
    with Session(engine) as session:
        assert codes(session, case).grid_code == "110101002001002"
    done = run()
    assert done.exit_code == 0 and "改到新网格 1" in done.output
    with Session(engine) as session:
        assert codes(session, case).grid_code == "110101002001001"
    engine.dispose()


def test_statistics_follow_the_move(placed, tmp_path):
    from geo.services.stats import boundary_measures

    session, _, _ = placed
    counts = boundary_measures(session, "grid").set_index("code")["cases_total"]
    assert counts["110101002001002"] == 2 and counts["110101002001001"] == 0
    load_boundaries(session, g.write(redrawn_grids(), tmp_path / "new.geojson"), "grid", parent_field="parent_code")
    reroute_cases(session)
    counts = boundary_measures(session, "grid").set_index("code")["cases_total"]
    assert counts["110101002001002"] == 1 and counts["110101002001001"] == 1
