"""Reading and preparing boundary files: encodings, fields, codes, CRS, repair, parents (no database)."""

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.domain.boundaries import ParentLayer, assign_parents, prepare_layer
from geo.domain.boundary_files import read_boundary_file
from geo.domain.errors import BoundaryFileError, InvalidInput
from tests import geometries as g

# --- reading ----------------------------------------------------------------------------------


def _gbk_grid_shapefile(tmp_path, *, with_cpg=False):
    frame = g.frame("grid", code_field="网格编码", name_field="网格名称", parent_field="社区编码")
    path = g.write(frame, tmp_path / "网格.shp", encoding="GBK")
    if not with_cpg:
        path.with_suffix(".cpg").unlink(missing_ok=True)
    return path


def test_gbk_shapefile_without_cpg_reads_with_explicit_encoding(tmp_path):
    path = _gbk_grid_shapefile(tmp_path)
    assert not path.with_suffix(".cpg").exists()
    frame = read_boundary_file(path, encoding="gbk")
    assert {"网格编码", "网格名称", "社区编码"} <= set(frame.columns)
    assert "网格001001" in set(frame["网格名称"])


def test_gbk_shapefile_without_cpg_is_sniffed_not_garbled(tmp_path):
    frame = read_boundary_file(_gbk_grid_shapefile(tmp_path))
    assert "网格名称" in frame.columns


def test_wrong_encoding_is_refused_with_the_fix(tmp_path):
    with pytest.raises(BoundaryFileError) as err:
        read_boundary_file(_gbk_grid_shapefile(tmp_path), encoding="utf-8")
    assert err.value.code == "bad_encoding" and err.value.field == "encoding"
    assert "gbk" in err.value.message


def test_unknown_encoding_name_is_refused(tmp_path):
    with pytest.raises(BoundaryFileError) as err:
        read_boundary_file(_gbk_grid_shapefile(tmp_path), encoding="klingon")
    assert err.value.code == "bad_encoding"


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(BoundaryFileError) as err:
        read_boundary_file(tmp_path / "nope.shp")
    assert err.value.code == "file_not_found"


def test_not_a_geodata_file_is_refused(tmp_path):
    path = tmp_path / "notes.geojson"
    path.write_text("this is not json", encoding="utf-8")
    with pytest.raises(BoundaryFileError) as err:
        read_boundary_file(path)
    assert err.value.code == "unreadable_file"


def test_geopackage_with_two_layers_needs_layer(tmp_path):
    path = tmp_path / "b.gpkg"
    g.write(g.frame("street"), path, layer="streets")
    g.write(g.frame("community"), path, layer="communities")
    with pytest.raises(BoundaryFileError) as err:
        read_boundary_file(path)
    assert err.value.code == "ambiguous_layer" and "communities" in err.value.message
    assert len(read_boundary_file(path, layer="communities")) == 4
    with pytest.raises(BoundaryFileError) as err:
        read_boundary_file(path, layer="grids")
    assert err.value.code == "missing_layer" and "streets" in err.value.message


# --- preparing --------------------------------------------------------------------------------


def test_fields_are_found_by_their_usual_chinese_names():
    frame = g.frame("grid", code_field="网格编码", name_field="网格名称", parent_field=None)
    layer = prepare_layer(frame, "grid")
    assert layer.codes[0] == "110101001001001" and layer.names[0] == "网格001001"


def test_missing_field_lists_the_fields_the_file_has():
    with pytest.raises(BoundaryFileError) as err:
        prepare_layer(g.frame("street"), "street", code_field="街道编码")
    assert err.value.code == "missing_field" and err.value.field == "code_field"
    assert "code" in err.value.message and "parent_code" in err.value.message


def test_no_recognisable_code_field_asks_for_code_field():
    frame = g.frame("street", code_field="bianhao")
    with pytest.raises(BoundaryFileError) as err:
        prepare_layer(frame, "street")
    assert "--code-field" in err.value.message and "bianhao" in err.value.message


def test_duplicate_codes_are_listed():
    frame = g.frame("street")
    frame.loc[1, "code"] = "110101001"
    with pytest.raises(BoundaryFileError) as err:
        prepare_layer(frame, "street")
    assert err.value.code == "duplicate_code" and "110101001" in err.value.message


def test_empty_code_is_refused():
    frame = g.frame("street")
    frame.loc[0, "code"] = None
    with pytest.raises(BoundaryFileError) as err:
        prepare_layer(frame, "street")
    assert err.value.code == "missing_code"


def test_non_numeric_code_is_refused():
    frame = g.frame("street")
    frame.loc[0, "code"] = "XC-001"
    with pytest.raises(BoundaryFileError) as err:
        prepare_layer(frame, "street")
    assert err.value.code == "bad_code" and "XC-001" in err.value.message


def test_numeric_code_columns_become_strings():
    frame = g.frame("street")
    frame["code"] = [110101001.0, 110101002.0]
    assert prepare_layer(frame, "street").codes == ["110101001", "110101002"]


def test_non_polygon_geometry_is_refused():
    frame = g.frame("street")
    frame.loc[0, "geometry"] = shapely.Point(116.31, 39.91)
    with pytest.raises(BoundaryFileError) as err:
        prepare_layer(frame, "street")
    assert err.value.code == "not_polygon" and "110101001（Point）" in err.value.message


def test_empty_file_is_refused():
    empty = gpd.GeoDataFrame({"code": [], "name": []}, geometry=[], crs="EPSG:4326")
    with pytest.raises(BoundaryFileError) as err:
        prepare_layer(empty, "district")
    assert err.value.code == "empty_file"


def test_missing_crs_is_refused_unless_given():
    frame = g.frame("district").set_crs(None, allow_override=True)
    with pytest.raises(BoundaryFileError) as err:
        prepare_layer(frame, "district")
    assert err.value.code == "missing_crs" and "--crs" in err.value.message
    assert prepare_layer(frame, "district", crs="wgs84").source_crs == "EPSG:4326"


def test_gauss_kruger_file_is_reprojected_to_wgs84():
    metric = g.frame("district").to_crs("EPSG:4548")
    layer = prepare_layer(metric, "district")
    assert layer.source_crs == "EPSG:4548"
    minx, miny, maxx, maxy = shapely.total_bounds(layer.geoms)
    assert (minx, miny, maxx, maxy) == pytest.approx((g.X0, g.Y0, g.X1, g.Y1), abs=1e-7)


def test_metres_declared_as_degrees_are_refused():
    metric = g.frame("district").to_crs("EPSG:4548").set_crs("EPSG:4326", allow_override=True)
    with pytest.raises(InvalidInput) as err:
        prepare_layer(metric, "district")
    assert err.value.code == "crs_mismatch"


def test_invalid_ring_is_repaired_and_listed():
    frame = g.frame("district")
    frame.loc[0, "geometry"] = g.bowtie(116.30, 39.90, 0.04)
    layer = prepare_layer(frame, "district")
    assert [r.code for r in layer.repairs] == ["110101"]
    assert "Self-intersection" in layer.repairs[0].reason
    assert layer.geoms[0].is_valid and layer.geoms[0].geom_type == "MultiPolygon"
    assert len(layer.geoms[0].geoms) == 2


def test_non_standard_code_length_is_a_warning_not_a_refusal():
    frame = g.frame("district")
    frame["code"] = ["110101000000"]
    layer = prepare_layer(frame, "district")
    assert layer.codes == ["110101000000"] and "6 位" in layer.warnings[0]


# --- parents ----------------------------------------------------------------------------------


def _parents(level):
    frame = g.frame(level)
    return ParentLayer(level, list(frame["code"]), np.asarray(frame.geometry.values))


def test_parent_from_field_is_kept():
    layer = prepare_layer(g.frame("community"), "community", parent_field="parent_code")
    done = assign_parents(layer, _parents("street"), metric_crs="EPSG:4548")
    assert done.parent_codes == ["110101001", "110101001", "110101002", "110101002"]


def test_parent_by_largest_overlap_when_no_field():
    frame = g.frame("community", parent_field=None)
    # Spill a little over into the eastern street: the western one still holds most of it.
    frame.loc[0, "geometry"] = shapely.box(g.X0, g.Y0, g.XM + 0.001, g.YM)
    layer = prepare_layer(frame, "community")
    done = assign_parents(layer, _parents("street"), metric_crs="EPSG:4548")
    assert done.parent_codes[0] == "110101001"


def test_parent_code_not_loaded_is_refused():
    frame = g.frame("community")
    frame.loc[0, "parent_code"] = "110101009"
    frame.loc[0, "code"] = "110101009001"
    layer = prepare_layer(frame, "community", parent_field="parent_code")
    with pytest.raises(BoundaryFileError) as err:
        assign_parents(layer, _parents("street"), metric_crs="EPSG:4548")
    assert err.value.code == "unknown_parent" and "110101009" in err.value.message


def test_code_not_starting_with_parent_code_is_refused():
    frame = g.frame("community")
    frame.loc[0, "parent_code"] = "110101002"
    layer = prepare_layer(frame, "community", parent_field="parent_code")
    with pytest.raises(BoundaryFileError) as err:
        assign_parents(layer, _parents("street"), metric_crs="EPSG:4548")
    assert err.value.code == "code_not_under_parent" and "110101001001" in err.value.message


def test_parent_level_not_loaded_is_refused():
    layer = prepare_layer(g.frame("grid"), "grid")
    with pytest.raises(BoundaryFileError) as err:
        assign_parents(layer, ParentLayer("community", [], np.empty(0, dtype=object)), metric_crs="EPSG:4548")
    assert err.value.code == "parent_level_missing"


def test_child_outside_every_parent_is_refused():
    frame = g.frame("street", parent_field=None)
    frame.loc[0, "geometry"] = shapely.box(116.50, 39.50, 116.51, 39.51)
    layer = prepare_layer(frame, "street")
    with pytest.raises(BoundaryFileError) as err:
        assign_parents(layer, _parents("district"), metric_crs="EPSG:4548")
    assert err.value.code == "missing_parent" and "110101001" in err.value.message
