"""The one-case path (PostGIS, one query) and the bulk path (STRtree in process) give the same
answer for every point: inside, outside, on shared edges and on vertices."""

import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from geo.domain.routing import assign
from geo.services import bulk_routing
from geo.store.cases import point_facts
from tests import geometries as g
from tests.conftest import _admin, _clone, load_tiny_hierarchy, load_tiny_reference

CATEGORIES = ("0101", "0503", "0602", "0699")
XS = sorted({v for box in g.GRIDS.values() for v in (box[0], box[2])})
YS = sorted({v for box in g.GRIDS.values() for v in (box[1], box[3])})


@pytest.fixture(scope="module")
def world(admin_url, template_db, tmp_path_factory):
    name, url = _clone(admin_url, template_db)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        folder = tmp_path_factory.mktemp("world")
        load_tiny_hierarchy(session, folder)
        load_tiny_reference(session, folder / "reference")
    with Session(engine) as session:
        context = bulk_routing.routing_context(session)
    yield engine, context
    engine.dispose()
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


inside_or_near = st.tuples(st.floats(g.X0 - 0.002, g.X1 + 0.002), st.floats(g.Y0 - 0.002, g.Y1 + 0.002))
on_vertical_edge = st.tuples(st.sampled_from(XS), st.floats(g.Y0, g.Y1))
on_horizontal_edge = st.tuples(st.floats(g.X0, g.X1), st.sampled_from(YS))
on_vertex = st.tuples(st.sampled_from(XS), st.sampled_from(YS))
points = st.one_of(inside_or_near, on_vertical_edge, on_horizontal_edge, on_vertex)


def _bulk(context, lon: float, lat: float, category: str):
    grid = context.index.grid_codes(np.array([lon]), np.array([lat]))[0]
    if grid is None:
        return None
    rows = pd.DataFrame({"category_code": [category], "grid_code": [grid]})
    bulk_routing.place_and_route(context, rows, np.array([lon]), np.array([lat]))
    r = rows.iloc[0]
    return (grid, r["community_code"], r["street_code"], r["district_code"], r["lead_department"],
            tuple(r["co_departments"]), r["routing_rule"])


def _single(engine, lon: float, lat: float, category: str):
    with Session(engine) as session:
        facts = point_facts(session, lon, lat, category, "test", None)
    if facts.placement is None:
        return None
    a = assign(facts.rules, facts.placement, facts.coverage)
    p = facts.placement
    return (p.grid, p.community, p.street, p.district, a.lead, a.co, a.rule)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(point=points, category=st.sampled_from(CATEGORIES))
def test_single_and_bulk_paths_agree(world, point, category):
    engine, context = world
    lon, lat = point
    assert _single(engine, lon, lat, category) == _bulk(context, lon, lat, category)


@pytest.mark.parametrize(("lon", "lat", "grid"), [
    (XS[1], g.Y0 + 0.001, "110101001001001"),  # edge between …001001 and …001002
    (g.XM, g.YM, "110101001001002"),  # the vertex shared by four grids of two streets
    (g.X0, g.Y0, "110101001001001"),  # the district's corner
])
def test_edges_go_to_the_lowest_code_in_both_paths(world, lon, lat, grid):
    engine, context = world
    assert _single(engine, lon, lat, "0101")[0] == grid
    assert _bulk(context, lon, lat, "0101")[0] == grid


def test_outside_every_grid_in_both_paths(world):
    engine, context = world
    assert _single(engine, g.X1 + 0.01, g.Y0, "0101") is None
    assert _bulk(context, g.X1 + 0.01, g.Y0, "0101") is None


def test_many_rows_at_once_route_as_each_row_alone(world):
    """The bulk path decides once per (category, scope class, coverage) and per street for the
    fallback: every row of a mixed batch still gets what assign gives that row on its own."""
    from geo.domain.routing import Coverage

    _engine, context = world
    rng = np.random.default_rng(3)
    n = 3000
    lon, lat = rng.uniform(g.X0, g.X1, n), rng.uniform(g.Y0, g.Y1, n)
    grids = context.index.grid_codes(lon, lat)
    rows = pd.DataFrame({"category_code": rng.choice(CATEGORIES, n), "grid_code": grids})
    bulk_routing.place_and_route(context, rows, lon, lat)
    tree = context.unit_tree
    for i in range(n):
        placement = context.index.place(grids[i])
        units = tree.query(shapely.Point(lon[i], lat[i]), predicate="intersects") if tree is not None else []
        coverage = Coverage.from_pairs((context.unit_codes[u], context.unit_parents[u]) for u in units)
        alone = assign(context.rules.get(rows["category_code"][i], []), placement, coverage)
        r = rows.iloc[i].map(lambda v: None if v is None or (np.ndim(v) == 0 and pd.isna(v)) else v)  # NaN: null
        assert (r["community_code"], r["street_code"], r["district_code"]) == (
            placement.community, placement.street, placement.district_code)
        assert (r["lead_department"], tuple(r["co_departments"]), r["routing_rule"], r["rule_hours"]) == (
            alone.lead, alone.co, alone.rule, alone.resolve_limit_hours)
    kinds = {r.split(":")[0] for r in rows["routing_rule"]}
    assert kinds >= {"citywide", "boundary", "jurisdiction", "fallback_street"}
    assert rows["street_code"][rows["routing_rule"].str.startswith("fallback")].nunique() == 2
