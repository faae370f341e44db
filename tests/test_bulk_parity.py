"""The bulk import's quick mode (bench/bulk_import.py at test size): the COPY path and the naive
geopandas path (to_postgis + UPDATE … ST_Contains) route every ticket to the same grid, and the
rows it writes are what the single-case path would write (events, numbers)."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.domain.coordinates import gcj02_to_wgs84, wgs84_to_gcj02
from tests import geometries as g
from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from webmap.cli import main

N = 600


@pytest.fixture
def db(fresh_db, tmp_path):
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "boundaries")
        load_tiny_reference(session, tmp_path / "reference")
    yield engine
    engine.dispose()


def _tickets(path: Path) -> pd.DataFrame:
    rng = np.random.default_rng(14)
    margin = 0.002  # some tickets fall outside the district and are refused
    lon = rng.uniform(g.X0 - margin, g.X1 + margin, N)
    lat = rng.uniform(g.Y0 - margin, g.Y1 + margin, N)
    lon[:20], lat[:20] = g.XM, rng.uniform(g.Y0, g.Y1, 20)  # on the street edge: the lowest code wins
    x, y = wgs84_to_gcj02(lon, lat)
    times = pd.Timestamp("2026-11-01 08:00") + pd.to_timedelta(rng.integers(0, 3 * 86_400, N), unit="s")
    frame = pd.DataFrame({
        "工单编号": [f"Q-{i:04d}" for i in range(N)], "受理时间": times.strftime("%Y/%m/%d %H:%M:%S"),
        "问题分类": rng.choice(["0101", "0602", "0503", "暴露垃圾"], N), "诉求内容": "",
        "经度": np.round(x, 6), "纬度": np.round(y, 6)})
    frame.to_csv(path, index=False)
    return frame


def _naive(engine, path: Path) -> dict[str, str | None]:
    frame = pd.read_csv(path, dtype={"工单编号": str, "问题分类": str})
    lon, lat = gcj02_to_wgs84(frame["经度"].to_numpy(), frame["纬度"].to_numpy())
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326").assign(grid_code=None)
    gdf.to_postgis("naive_tickets", engine, if_exists="replace", index=False)
    with engine.begin() as conn:
        conn.execute(text("""
            UPDATE naive_tickets t SET grid_code = g.code
            FROM boundary g JOIN boundary_version v ON v.id = g.version_id AND v.valid_to IS NULL
            WHERE g.level = 'grid' AND ST_Contains(g.geom, t.geometry)"""))
        return dict(conn.execute(text('SELECT "工单编号", grid_code FROM naive_tickets')).all())


@pytest.mark.parametrize("load", ["batches", "bulk"])
def test_the_copy_path_and_the_naive_path_route_every_ticket_alike(db, fresh_db, tmp_path, load):
    path = tmp_path / "tickets.csv"
    tickets = _tickets(path)
    result = CliRunner().invoke(main, ["cases", "import", str(path), "--crs", "gcj02", "--source", "12345",
                                       "--load", load],
                                env={"DATABASE_URL": fresh_db}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    naive = _naive(db, path)
    with db.connect() as conn:
        product = dict(conn.execute(text("SELECT external_id, grid_code FROM cases")).all())
        on_edge = set(conn.execute(text("""
            SELECT DISTINCT t."工单编号" FROM naive_tickets t JOIN boundary g ON g.level = 'grid'
            AND ST_DWithin(ST_Boundary(g.geom), t.geometry, 1e-9)""")).scalars())
    differ = [i for i in tickets["工单编号"] if product.get(i) != naive[i]]
    assert set(differ) <= on_edge  # on a shared edge ST_Contains says neither; the product picks the lowest code
    assert {i for i, code in naive.items() if code} - on_edge <= set(product)
    assert 400 < len(product) < N and len(differ) < 25


def test_the_copy_path_writes_what_the_one_case_path_writes(db, fresh_db, tmp_path):
    path = tmp_path / "tickets.csv"
    _tickets(path)
    CliRunner().invoke(main, ["cases", "import", str(path), "--crs", "gcj02", "--source", "12345"],
                       env={"DATABASE_URL": fresh_db}, catch_exceptions=False)
    with db.connect() as conn:
        events = conn.execute(text("""
            SELECT count(*), count(*) FILTER (WHERE e.at = c.reported_at AND e.lon = ST_X(c.geom)
                   AND e.lat = ST_Y(c.geom) AND e.action = 'receive' AND e.to_status = 'received'
                   AND e.details = jsonb_build_object('source', '12345', 'routing_rule', c.routing_rule,
                                                      'import', true))
            FROM cases c JOIN case_event e ON e.case_id = c.id""")).one()
        cases = conn.execute(text("SELECT count(*) FROM cases")).scalar_one()
        numbering = conn.execute(text("""
            SELECT district_code, to_char(reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYYMMDD') AS day,
                   array_agg(split_part(case_no, '-', 3)::int ORDER BY split_part(case_no, '-', 3)::int),
                   bool_and(case_no LIKE district_code || '-' || to_char(reported_at AT TIME ZONE 'Asia/Shanghai',
                                                                          'YYYYMMDD') || '-%')
            FROM cases GROUP BY 1, 2""")).all()
        counters = dict(((d, t.strftime("%Y%m%d")), n) for d, t, n in conn.execute(
            text("SELECT district_code, day, last FROM case_counter")).all())
    assert events == (cases, cases)  # one receive event per case, as the single create writes it
    for district, day, sequence, dated in numbering:
        assert dated and sequence == list(range(1, len(sequence) + 1))  # dense, from 1, per district-day
        assert counters[(district, day)] == len(sequence)


@pytest.mark.parametrize("units", [3, 70])  # bits of one int64, or codes past 62 units
def test_covering_units_are_found_alike_with_few_and_many_units(units):
    from types import SimpleNamespace

    import shapely

    from geo.services.bulk_routing import coverage_keys as _coverage_keys
    from geo.services.bulk_routing import units_of as _units_of

    boxes = [shapely.box(i, 0, i + 2, 1) for i in range(units)]  # unit i covers x in [i, i + 2]
    context = SimpleNamespace(unit_codes=[f"U{i}" for i in range(units)], unit_tree=shapely.STRtree(boxes))
    lon, lat = np.array([0.5, 1.5, 1.5, 2.5, -5.0]), np.full(5, 0.5)
    keys = _coverage_keys(context, lon, lat)
    assert keys[1] == keys[2] and len(set(keys.tolist())) == 4
    assert _units_of(context, keys, np.arange(5), lon, lat) == [(0,), (0, 1), (0, 1), (1, 2), ()]


def test_the_copy_path_writes_points_as_shapely_does():
    import shapely

    from geo.store.case_copy import _ewkb_hex

    lon, lat = np.array([116.3, -0.0, 180.0, 116.123456789]), np.array([39.9, 0.0, -90.0, 1e-9])
    points = shapely.set_srid(shapely.points(lon, lat), 4326)
    assert _ewkb_hex(lon, lat).to_pylist() == shapely.to_wkb(points, hex=True, include_srid=True).tolist()
