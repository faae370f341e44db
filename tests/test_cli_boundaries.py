"""The `gridmap` CLI against a fresh database per test: loads, refusals that change nothing, checks, exports."""

import json
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from tests import geometries as g
from webmap.cli import main


@pytest.fixture
def cli(fresh_db):
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(main, list(args), env={"DATABASE_URL": fresh_db}, catch_exceptions=False)

    return run


@pytest.fixture
def query(fresh_db):
    engine = create_engine(fresh_db)

    def run(sql: str):
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()

    yield run
    engine.dispose()


def _counts(query) -> dict[str, int]:
    return {t: query(f"SELECT count(*) FROM {t}")[0][0] for t in ("boundary", "boundary_version", "boundary_piece")}


def _load_upper_levels(cli, tmp_path: Path) -> None:
    """District (GeoJSON), streets (Gauss-Krüger shapefile), communities (GeoPackage)."""
    district = g.write(g.frame("district", parent_field=None), tmp_path / "district.geojson")
    assert cli("boundaries", "load", str(district), "--level", "district").exit_code == 0
    streets = g.write(g.frame("street", parent_field="parent").to_crs("EPSG:4548"), tmp_path / "streets_gk.shp")
    assert cli("boundaries", "load", str(streets), "--level", "street", "--parent-field", "parent").exit_code == 0
    communities = g.write(g.frame("community", code_field="社区编码", name_field="社区名称", parent_field="街道编码"),
                          tmp_path / "communities.gpkg", layer="社区")
    result = cli("boundaries", "load", str(communities), "--level", "community", "--layer", "社区",
                 "--code-field", "社区编码", "--name-field", "社区名称", "--parent-field", "街道编码")
    assert result.exit_code == 0, result.output


def _gbk_grids(tmp_path: Path) -> Path:
    frame = g.frame("grid", code_field="网格编码", name_field="网格名称", parent_field="社区编码")
    path = g.write(frame, tmp_path / "grids.shp", encoding="GBK")
    path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def test_gbk_shapefile_with_chinese_fields_loads(cli, query, tmp_path):
    _load_upper_levels(cli, tmp_path)
    result = cli("boundaries", "load", str(_gbk_grids(tmp_path)), "--level", "grid", "--encoding", "gbk",
                 "--code-field", "网格编码", "--name-field", "网格名称", "--parent-field", "社区编码")
    assert result.exit_code == 0, result.output
    assert "已加载 8 个 grid" in result.output
    rows = dict(query("SELECT code, name FROM boundary WHERE level = 'grid'"))
    assert rows["110101002002001"] == "网格002001"


def test_gauss_kruger_shapefile_is_stored_in_wgs84(cli, query, tmp_path):
    _load_upper_levels(cli, tmp_path)
    [(crs, xmin, ymax)] = query(
        "SELECT v.source_crs, ST_XMin(ST_Extent(b.geom)), ST_YMax(ST_Extent(b.geom)) FROM boundary b "
        "JOIN boundary_version v ON v.id = b.version_id WHERE b.level = 'street' GROUP BY v.source_crs")
    assert crs == "EPSG:4548"
    assert xmin == pytest.approx(g.X0, abs=1e-7) and ymax == pytest.approx(g.Y1, abs=1e-7)


def test_geopackage_layer_loads_with_parents_from_field(cli, query, tmp_path):
    _load_upper_levels(cli, tmp_path)
    rows = query("SELECT code, parent_code FROM boundary WHERE level = 'community' ORDER BY code")
    assert rows[-1] == ("110101002002", "110101002")


def test_parents_by_containment_when_no_parent_field(cli, query, tmp_path):
    _load_upper_levels(cli, tmp_path)
    path = g.write(g.frame("grid", parent_field=None), tmp_path / "grids.geojson")
    assert cli("boundaries", "load", str(path), "--level", "grid").exit_code == 0
    assert query("SELECT parent_code FROM boundary WHERE code = '110101001002002'") == [("110101001002",)]


def test_reloading_a_level_reports_the_replaced_version(cli, query, tmp_path):
    _load_upper_levels(cli, tmp_path)
    path = g.write(g.frame("street"), tmp_path / "again.geojson")
    result = cli("boundaries", "load", str(path), "--level", "street", "--parent-field", "parent_code")
    assert "替换版本" in result.output
    assert query("SELECT count(*) FROM boundary_version WHERE level = 'street' AND valid_to IS NULL") == [(1,)]


# --- refusals ---------------------------------------------------------------------------------

BadFile = Callable[[Path], tuple[Path, list[str]]]


def _missing_field(tmp: Path):
    return g.write(g.frame("grid"), tmp / "a.geojson"), ["--code-field", "网格编码"]


def _duplicate_codes(tmp: Path):
    frame = g.frame("grid")
    frame.loc[1, "code"] = frame.loc[0, "code"]
    return g.write(frame, tmp / "a.geojson"), ["--parent-field", "parent_code"]


def _unknown_parent(tmp: Path):
    frame = g.frame("grid")
    frame.loc[0, ["code", "parent_code"]] = ["110101009009001", "110101009009"]
    return g.write(frame, tmp / "a.geojson"), ["--parent-field", "parent_code"]


def _code_not_under_parent(tmp: Path):
    frame = g.frame("grid")
    frame.loc[0, "parent_code"] = "110101002002"
    return g.write(frame, tmp / "a.geojson"), ["--parent-field", "parent_code"]


def _not_polygons(tmp: Path):
    frame = g.frame("grid")
    frame["geometry"] = frame.geometry.boundary  # rings as lines
    return g.write(frame, tmp / "a.geojson"), []


def _empty(tmp: Path):
    frame = gpd.GeoDataFrame({"code": [], "name": []}, geometry=[], crs="EPSG:4326")
    return g.write(frame, tmp / "a.geojson"), []


def _unreadable_encoding(tmp: Path):
    return _gbk_grids(tmp), ["--encoding", "utf-8"]


def _no_crs(tmp: Path):
    path = g.write(g.frame("grid", parent_field=None), tmp / "a.shp")
    path.with_suffix(".prj").unlink()
    return path, []


def _wrong_crs(tmp: Path):
    path = g.write(g.frame("grid", parent_field=None).to_crs("EPSG:4548"), tmp / "a.shp")
    return path, ["--crs", "wgs84"]


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (_missing_field, "missing_field"),
        (_duplicate_codes, "duplicate_code"),
        (_unknown_parent, "unknown_parent"),
        (_code_not_under_parent, "code_not_under_parent"),
        (_not_polygons, "not_polygon"),
        (_empty, "empty_file"),
        (_unreadable_encoding, "bad_encoding"),
        (_no_crs, "missing_crs"),
        (_wrong_crs, "crs_mismatch"),
    ],
)
def test_bad_file_is_refused_and_changes_nothing(cli, query, tmp_path, make: BadFile, code: str):
    _load_upper_levels(cli, tmp_path)
    before = _counts(query)
    bad = tmp_path / "bad"
    bad.mkdir()
    path, options = make(bad)
    result = cli("boundaries", "load", str(path), "--level", "grid", *options)
    assert result.exit_code == 1
    assert f"[{code}]" in result.output and "数据库没有任何改动" in result.output
    assert _counts(query) == before


def test_loading_a_child_before_its_parent_level_is_refused(cli, query, tmp_path):
    path = g.write(g.frame("grid"), tmp_path / "grids.geojson")
    result = cli("boundaries", "load", str(path), "--level", "grid")
    assert result.exit_code == 1 and "[parent_level_missing]" in result.output
    assert _counts(query) == {"boundary": 0, "boundary_version": 0, "boundary_piece": 0}


# --- check and export -------------------------------------------------------------------------


def _load_all(cli, tmp_path: Path) -> None:
    _load_upper_levels(cli, tmp_path)
    assert cli("boundaries", "load", str(_gbk_grids(tmp_path)), "--level", "grid",
               "--parent-field", "社区编码").exit_code == 0


def test_check_clean_hierarchy_passes_strict(cli, tmp_path):
    _load_all(cli, tmp_path)
    result = cli("boundaries", "check", "--strict")
    assert result.exit_code == 0, result.output
    assert "共 0 个问题" in result.output


def test_check_reports_gap_as_json_and_strict_fails(cli, tmp_path):
    _load_all(cli, tmp_path)
    frame = g.frame("grid")
    frame = frame[frame["code"] != "110101002002002"]  # leave a hole in community 110101002002
    path = g.write(frame, tmp_path / "holey.geojson")
    assert cli("boundaries", "load", str(path), "--level", "grid", "--parent-field", "parent_code").exit_code == 0
    result = cli("boundaries", "check", "--level", "grid", "--format", "json", "--strict")
    assert result.exit_code == 1
    report = json.loads(result.output)
    [gap] = report["findings"]
    assert gap["kind"] == "gap" and gap["codes"] == ["110101002002"]
    assert gap["area_m2"] == pytest.approx(3.79e6 / 8, rel=0.02)
    lon, lat = gap["location"]
    assert 116.315 < lon < 116.32 and 39.91 < lat < 39.92


def test_check_flags_oversized_grids(cli, tmp_path, monkeypatch):
    _load_all(cli, tmp_path)
    monkeypatch.setenv("GRIDMAP_GRID_MAX_AREA_M2", "400000")
    result = cli("boundaries", "check", "--level", "grid", "--format", "json")
    kinds = {f["kind"] for f in json.loads(result.output)["findings"]}
    assert kinds == {"oversized"}


@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "csv"])
def test_export_reads_back_equal(cli, tmp_path, fmt):
    _load_all(cli, tmp_path)
    out = tmp_path / f"out.{fmt}"
    result = cli("boundaries", "export", "--level", "grid", "--format", fmt, "-o", str(out))
    assert result.exit_code == 0 and "已导出 8 个" in result.output
    if fmt == "csv":
        import pandas as pd

        table = pd.read_csv(out, dtype=str, encoding="utf-8-sig")
        assert list(table.columns[:4]) == ["code", "name", "parent_code", "level"]
        geoms = shapely.from_wkt(table["wkt"].tolist())
    else:
        table = pyogrio.read_dataframe(out)
        geoms = table.geometry.values
    expected = g.frame("grid")
    assert list(table["code"]) == list(expected["code"])
    assert list(table["name"]) == list(expected["name"])
    assert list(table["parent_code"]) == list(expected["parent_code"])
    assert all(a.geom_type == "MultiPolygon" and shapely.hausdorff_distance(a, b) < 1e-6
               for a, b in zip(geoms, expected.geometry, strict=True))
    assert all(abs(float(a) - 3.79e6 / 8) < 0.02 * 3.79e6 / 8 for a in table["area_m2"])


# --- db and demo ------------------------------------------------------------------------------


def test_db_upgrade_is_idempotent(cli):
    first, second = cli("db", "upgrade"), cli("db", "upgrade")
    assert first.exit_code == second.exit_code == 0
    from geo.store.migrate import head_revision

    assert head_revision() in second.output
    assert cli("db", "status").exit_code == 0


def test_demo_loads_the_sample_hierarchy_once(cli, query):
    result = cli("demo", "--if-empty")
    assert result.exit_code == 0, result.output
    counts = dict(query("SELECT level, count(*) FROM boundary GROUP BY level"))
    assert counts["district"] == 1 and counts["street"] >= 6
    assert counts["community"] >= 30 and counts["grid"] >= 400
    again = cli("demo", "--if-empty")
    assert "跳过" in again.output
    assert query("SELECT count(*) FROM boundary_version") == [(4,)]
    assert cli("boundaries", "check", "--strict").exit_code == 0
