"""The map as a workplace (issue 17): the case list (scope, sort, pages), the search (cases by number and
ticket number within scope, boundaries, gazetteer addresses), placing cases by address (API and import),
`gridmap addresses load`, the offline MBTiles basemap, and the overdue rule's SQL twin."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.domain import addresses as address_rules
from geo.domain.statuses import STATUSES, overdue_by
from geo.services import addresses as address_service
from geo.store.vocabulary import overdue_seconds_sql
from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from webmap.cli import main

#: Door plates inside the tiny district (tests/geometries.py): west street 110101001, east street 110101002.
PLATES = [("东华门大街1号", 116.3025, 39.9025), ("东华门大街2号", 116.3030, 39.9030),
          ("景山前街10号", 116.3175, 39.9025), ("景山前街11号", 116.3180, 39.9170)]


def _gazetteer(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "addresses.csv"
    pd.DataFrame(PLATES, columns=["标准地址", "经度", "纬度"]).to_csv(path, index=False)
    address_service.load_addresses(session, path)


def _case(client, lon: float, lat: float, category: str = "0101", **extra) -> dict:
    resp = client.post("/api/cases", json={"lon": lon, "lat": lat, "category": category, **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _age(session: Session, case_id: str, **due: datetime | None) -> None:
    sets = ", ".join(f"{k} = :{k}" for k in due)
    session.execute(text(f"UPDATE cases SET {sets} WHERE case_no = :id"), {**due, "id": case_id})


# --- the overdue rule's SQL twin ----------------------------------------------------------------


@pytest.mark.parametrize("status", [s.code for s in STATUSES])
def test_overdue_seconds_sql_agrees_with_the_python_rule(session, status):
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    due = {"dispatch": now - timedelta(hours=5), "respond": now - timedelta(hours=2),
           "resolve": now + timedelta(days=1)}
    sql = overdue_seconds_sql("c", ":now").replace("c.", "")
    got = session.execute(text(
        f"SELECT {sql} FROM (SELECT CAST(:status AS text) AS status, CAST(:d AS timestamptz) AS dispatch_due, "
        "CAST(:r AS timestamptz) AS respond_due, CAST(:v AS timestamptz) AS resolve_due) c"),
        {"status": status, "d": due["dispatch"], "r": due["respond"], "v": due["resolve"], "now": now}).scalar()
    expected = overdue_by(status, due, now=now)
    assert (None if got is None else float(got)) == expected


# --- the case list ------------------------------------------------------------------------------


def test_the_list_sorts_overdue_first_by_how_much_and_pages_with_a_total(client_as, routed):
    leader = client_as("street_leader", "110101")
    ids = [_case(leader, 116.3025 + i * 0.001, 39.9025)["id"] for i in range(5)]
    now = datetime.now(UTC)
    _age(routed, ids[1], dispatch_due=now - timedelta(days=3))   # 3 days late
    _age(routed, ids[3], dispatch_due=now - timedelta(hours=2))  # 2 hours late
    body = leader.get("/api/cases?sort=overdue&page=1&limit=2").get_json()
    assert body["total"] == 5 and body["pages"] == 3
    assert [f["id"] for f in body["features"]] == [ids[1], ids[3]]
    first = body["features"][0]["properties"]
    assert first["overdue"] and first["overdue_step"] == "dispatch" and abs(first["overdue_seconds"] - 3 * 86400) < 60
    rest = leader.get("/api/cases?sort=overdue&page=2&limit=2").get_json()["features"]
    assert [f["id"] for f in rest] == [ids[4], ids[2]]  # not overdue: newest first
    assert all(f["properties"]["overdue_seconds"] is None for f in rest)


def test_the_list_sorts_by_due_time_status_and_category(client_as, routed):
    leader = client_as("street_leader", "110101")
    a = _case(leader, 116.3025, 39.9025, "0602")["id"]
    b = _case(leader, 116.3030, 39.9025, "0101")["id"]
    now = datetime.now(UTC)
    _age(routed, a, dispatch_due=now + timedelta(hours=1))
    _age(routed, b, dispatch_due=now + timedelta(hours=9))
    assert leader.post(f"/api/cases/{b}/actions", json={"action": "dispatch"}).status_code == 200

    def order(sort: str) -> list[str]:
        return [f["id"] for f in leader.get(f"/api/cases?sort={sort}").get_json()["features"]]

    assert order("due") == [a, b]            # 1 hour before b's next deadline
    assert order("status") == [a, b]         # received before dispatched
    assert order("category") == [b, a]       # 0101 before 0602
    assert leader.get("/api/cases?sort=fastest").status_code == 422


def test_the_list_follows_the_view_and_the_scope(client_as, routed):
    city = client_as("street_leader", "110101")
    west = _case(city, 116.3025, 39.9025)["id"]
    east = _case(city, 116.3175, 39.9025)["id"]
    east_leader = client_as("street_leader", "110101002")
    body = east_leader.get("/api/cases?sort=newest&page=1").get_json()
    assert [f["id"] for f in body["features"]] == [east] and body["total"] == 1
    view = city.get("/api/cases?sort=newest&bbox=116.300,39.900,116.310,39.910").get_json()
    assert [f["id"] for f in view["features"]] == [west] and view["total"] == 1
    staff = client_as("department_staff", department="HBJ")  # leads no 0101 case
    assert staff.get("/api/cases?sort=overdue").get_json()["total"] == 0


def test_my_reports_are_the_cases_i_reported(client_as, routed):
    me = client_as("grid_worker", "110101002001")
    other = client_as("street_leader", "110101")
    mine = _case(me, 116.3175, 39.9025)["id"]
    _case(other, 116.3180, 39.9025)
    body = me.get("/api/cases?sort=newest&mine=true").get_json()
    assert [f["id"] for f in body["features"]] == [mine]
    counts = me.get("/api/cases/map?zoom=16&mine=true&bbox=116.30,39.90,116.32,39.92").get_json()
    assert [f["id"] for f in counts["features"]] == [mine]


# --- search -------------------------------------------------------------------------------------


def test_search_finds_a_case_by_number_and_by_ticket_number_only_within_scope(client_as, routed):
    hotline = client_as("hotline", "110101")
    west = _case(hotline, 116.3025, 39.9025, external_id="12345-0001")
    east = _case(hotline, 116.3175, 39.9025, external_id="12345-0002")
    by_number = hotline.get(f"/api/search?q={west['id']}").get_json()["cases"]
    assert [c["id"] for c in by_number] == [west["id"]]
    by_ticket = hotline.get("/api/search?q=12345-000").get_json()["cases"]
    assert {c["external_id"] for c in by_ticket} == {"12345-0001", "12345-0002"}
    east_leader = client_as("street_leader", "110101002")
    assert [c["id"] for c in east_leader.get("/api/search?q=12345-000").get_json()["cases"]] == [east["id"]]
    assert east_leader.get(f"/api/search?q={west['id']}").get_json()["cases"] == []


def test_search_finds_boundaries_and_addresses_fuzzily(client_as, routed, tmp_path):
    _gazetteer(routed, tmp_path)
    leader = client_as("street_leader", "110101002")
    body = leader.get("/api/search?q=景山").get_json()
    assert ("street", "110101002") in [(b["level"], b["code"]) for b in body["boundaries"]]
    assert body["addresses"][0]["address"] in ("景山前街10号", "景山前街11号")
    typo = leader.get("/api/search?q=景山前街 １０ 号").get_json()["addresses"]  # spaces, full-width digits
    assert typo[0]["address"] == "景山前街10号" and typo[0]["score"] == 1.0
    assert leader.get("/api/search?q=完全不相干的地方").get_json() == {"cases": [], "boundaries": [], "addresses": []}


# --- placing a case by its address --------------------------------------------------------------


def test_a_case_posted_with_an_address_and_no_coordinates_lands_there_and_keeps_the_match(client_as, routed,
                                                                                          tmp_path):
    _gazetteer(routed, tmp_path)
    leader = client_as("street_leader", "110101")
    case = leader.post("/api/cases", json={"address": "东城区 景山前街10号", "category": "0101"}).get_json()
    props = case["properties"]
    assert case["geometry"]["coordinates"] == pytest.approx([116.3175, 39.9025])
    assert props["grid_code"] == "110101002001002" and props["address"] == "景山前街10号"
    assert props["orig_crs"] == "wgs84"


@pytest.mark.parametrize("address", ["景山前街99号", "景山前街", "长安街1号"])
def test_an_address_the_gazetteer_cannot_place_is_422_naming_the_field(client_as, routed, tmp_path, address):
    _gazetteer(routed, tmp_path)
    leader = client_as("street_leader", "110101")
    resp = leader.post("/api/cases", json={"address": address, "category": "0101"})
    error = resp.get_json()["error"]
    assert resp.status_code == 422 and error["field"] == "address" and error["code"] == "address_not_found"
    assert routed.execute(text("SELECT count(*) FROM cases")).scalar() == 0


def test_no_coordinates_and_no_address_names_the_missing_field(client_as, routed):
    resp = client_as("street_leader", "110101").post("/api/cases", json={"lon": 116.31, "category": "0101"})
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "lat"


def test_choose_refuses_an_ambiguous_address():
    far = [address_rules.Candidate(1, "甲路5号", 116.30, 39.90, 0.7),
           address_rules.Candidate(2, "乙路5号", 116.32, 39.92, 0.7)]
    assert address_rules.choose("路5号", far) is None
    assert address_rules.choose("甲路5号", far).id == 1


# --- CLI: addresses load, cases import with an address column -----------------------------------


@pytest.fixture
def cli_db(fresh_db, tmp_path):
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "boundaries")
        load_tiny_reference(session, tmp_path / "reference")
    yield fresh_db, engine
    engine.dispose()


def _cli(url: str, *args: str):
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": url}, catch_exceptions=False)


def _stored(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(text("SELECT address, round(ST_X(geom)::numeric, 5)::float, "
                                 "round(ST_Y(geom)::numeric, 5)::float, grid_code FROM address ORDER BY address")).all()


def test_addresses_load_reads_a_gbk_csv_with_chinese_headers_and_writes_rejects(cli_db, tmp_path):
    url, engine = cli_db
    path = tmp_path / "门牌.csv"
    rows = [("东华门大街1号", "116.3025", "39.9025"), ("", "116.31", "39.91"), ("无坐标", "", ""),
            ("东华门大街1号", "116.3", "39.9")]
    pd.DataFrame(rows, columns=["门牌地址", "经度", "纬度"]).to_csv(path, index=False, encoding="gbk")
    result = _cli(url, "addresses", "load", str(path), "--rejects", str(tmp_path / "r.csv"))
    assert result.exit_code == 0, result.output
    assert "新增地址 1" in result.output and "拒绝 3" in result.output
    assert _stored(engine) == [("东华门大街1号", 116.3025, 39.9025, "110101001001001")]
    rejects = pd.read_csv(tmp_path / "r.csv", encoding="utf-8-sig")
    assert rejects[["line", "reason"]].values.tolist() == [[3, "missing_address"], [4, "missing_coordinates"],
                                                          [5, "duplicate"]]


@pytest.mark.parametrize("swap", [False, True])
def test_addresses_load_converts_a_projected_crs_even_with_x_as_northing(cli_db, tmp_path, swap):
    from pyproj import Transformer

    url, engine = cli_db
    east, north = Transformer.from_crs("EPSG:4326", "EPSG:4548", always_xy=True).transform(116.3175, 39.9025)
    x, y = (north, east) if swap else (east, north)  # Chinese survey tables write X for the northing
    path = tmp_path / "plates.xlsx"
    pd.DataFrame([("景山前街10号", x, y)], columns=["地址", "X", "Y"]).to_excel(path, index=False)
    result = _cli(url, "addresses", "load", str(path), "--crs", "EPSG:4548")
    assert result.exit_code == 0, result.output
    assert _stored(engine) == [("景山前街10号", 116.3175, 39.9025, "110101002001002")]
    assert ("X/Y 按测量习惯对调" in result.output) == swap


def test_addresses_load_reads_gcj02_points_from_a_geopackage(cli_db, tmp_path):
    import geopandas as gpd
    import shapely

    from geo.domain.coordinates import wgs84_to_gcj02

    url, engine = cli_db
    gx, gy = wgs84_to_gcj02(pd.Series([116.3025]).to_numpy(), pd.Series([39.9175]).to_numpy())
    frame = gpd.GeoDataFrame({"标准地址": ["东华门大街8号"]}, geometry=[shapely.Point(gx[0], gy[0])], crs="EPSG:4326")
    path = tmp_path / "plates.gpkg"
    frame.to_file(path, layer="门牌")
    assert _cli(url, "addresses", "load", str(path), "--crs", "gcj02").exit_code == 0
    assert _stored(engine) == [("东华门大街8号", 116.3025, 39.9175, "110101001002001")]


def test_cases_import_places_rows_by_address_and_rejects_unknown_addresses(cli_db, tmp_path):
    url, engine = cli_db
    plates = tmp_path / "plates.csv"
    pd.DataFrame(PLATES, columns=["地址", "经度", "纬度"]).to_csv(plates, index=False)
    assert _cli(url, "addresses", "load", str(plates)).exit_code == 0
    tickets = tmp_path / "tickets.csv"
    pd.DataFrame([("A-1", "2026-11-01 08:00", "0101", "东门垃圾", "116.3025", "39.9025", ""),
                  ("A-2", "2026-11-01 09:00", "0101", "按地址", "", "", "景山前街 10号"),
                  ("A-3", "2026-11-01 10:00", "0101", "地址不对", "", "", "景山前街99号")],
                 columns=["工单编号", "受理时间", "问题分类", "诉求内容", "经度", "纬度", "事发地址"]
                 ).to_csv(tickets, index=False, encoding="gbk")
    result = _cli(url, "cases", "import", str(tickets), "--crs", "cgcs2000", "--source", "12345",
                  "--rejects", str(tmp_path / "rejects.csv"))
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT external_id, grid_code, address, orig_crs FROM cases ORDER BY 1")).all()
    assert [tuple(r) for r in rows] == [("A-1", "110101001001001", None, "cgcs2000"),
                                        ("A-2", "110101002001002", "景山前街10号", "wgs84")]
    rejects = pd.read_csv(tmp_path / "rejects.csv", encoding="utf-8-sig", dtype=str)
    assert rejects[["line", "reason"]].values.tolist() == [["4", "address_not_found"]]
    # Running it again adds nothing: the address row is the same ticket.
    again = _cli(url, "cases", "import", str(tickets), "--crs", "cgcs2000", "--source", "12345")
    assert "导入 0，已存在跳过 2" in again.output


# --- the offline basemap ------------------------------------------------------------------------


def _mbtiles(path: Path) -> Path:
    from scripts.make_sample_mbtiles import make_mbtiles

    return make_mbtiles(path, zooms=(0, 1))


def test_mbtiles_tiles_are_served_with_the_tms_row_flipped_and_cached(app, client, tmp_path):
    path = _mbtiles(tmp_path / "base.mbtiles")
    app.config["GRIDMAP_BASEMAP"] = str(path)
    with sqlite3.connect(path) as conn:  # XYZ row 0 at zoom 1 is TMS row 1
        stored = conn.execute("SELECT tile_data FROM tiles WHERE zoom_level=1 AND tile_column=0 AND tile_row=1"
                              ).fetchone()[0]
    resp = client.get("/tiles/1/0/0")
    assert resp.status_code == 200 and resp.mimetype == "image/png" and resp.data == bytes(stored)
    assert "max-age=86400" in resp.headers["Cache-Control"] and resp.headers["ETag"]
    assert client.get("/tiles/0/1/0/0").data == resp.data  # the first file, by its number
    again = client.get("/tiles/1/0/0", headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/tiles/5/3/3").status_code == 204  # inside the pyramid, no tile in the file
    assert client.get("/tiles/1/2/0").status_code == 404  # x beyond 2^z
    assert client.get("/tiles/1/0/0/0/0").status_code == 404  # no second file


def test_the_map_page_offers_the_mbtiles_and_the_configured_basemaps_in_its_switcher(app, client, loaded, tmp_path):
    path = _mbtiles(tmp_path / "离线底图.mbtiles")
    app.config["GRIDMAP_BASEMAP"] = f"{path},http://10.1.2.3/t/{{z}}/{{x}}/{{y}}.png"
    html = client.get("/").get_data(as_text=True)
    assert "/tiles/0/{z}/{x}/{y}" in html and "http://10.1.2.3/t/{z}/{x}/{y}.png" in html
    assert '"basemaps": ["示例离线底图", "底图 2"]' in html


@pytest.mark.parametrize("setting", ["/nowhere/base.mbtiles", "ftp://tiles"])
def test_a_bad_basemap_setting_is_refused_naming_it(app, client, loaded, setting):
    app.config["GRIDMAP_BASEMAP"] = setting
    resp = client.get("/")
    assert resp.status_code == 422 and "GRIDMAP_BASEMAP" in resp.get_data(as_text=True)


def test_the_demo_loads_the_sample_door_plates_four_inside_every_grid(fresh_db):
    result = _cli(fresh_db, "demo", "--if-empty")
    assert result.exit_code == 0, result.output
    sample = pd.read_csv(Path(__file__).parent.parent / "data/addresses/门牌地址.csv", dtype=str, encoding="utf-8-sig")
    engine = create_engine(fresh_db)
    with engine.connect() as conn:
        stored = set(conn.execute(text("SELECT address FROM address")).scalars())
        per_grid = conn.execute(text(
            "SELECT count(a.id) AS n FROM boundary b "
            "JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
            "LEFT JOIN address a ON a.grid_code = b.code WHERE b.level = 'grid' GROUP BY b.code")).scalars().all()
    engine.dispose()
    assert stored == set(sample["标准地址"])
    assert len(per_grid) >= 400 and set(per_grid) == {4}
