"""Loading boundaries into PostGIS and reading them back (real database, rolled back per test)."""

import itertools
import json

import pytest
import shapely
from sqlalchemy import text

from geo.domain.errors import BoundaryFileError
from geo.services.boundaries import (
    boundary_layer_geojson,
    check_boundaries,
    load_boundaries,
    map_extent,
    search_boundaries,
)
from tests import geometries as g


def _count(session, table, where="true"):
    return session.execute(text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one()


def test_hierarchy_loads_with_codes_parents_and_areas(loaded):
    rows = loaded.execute(text(
        "SELECT level, count(*), min(area_m2), max(area_m2) FROM boundary GROUP BY level")).all()
    by_level = {r[0]: r[1:] for r in rows}
    assert {k: v[0] for k, v in by_level.items()} == {"district": 1, "street": 2, "community": 4, "grid": 8}
    # The district box is ~1.707 km × 2.220 km; a grid is an eighth of it.
    district_area = by_level["district"][1]
    assert 3.75e6 < district_area < 3.83e6
    assert by_level["grid"][1] == pytest.approx(district_area / 8, rel=1e-3)
    parents = dict(loaded.execute(text("SELECT code, parent_code FROM boundary WHERE level = 'grid'")).all())
    assert parents["110101002002001"] == "110101002002"


def test_geometry_is_stored_as_multipolygon_in_4326(loaded):
    row = loaded.execute(text(
        "SELECT GeometryType(geom), ST_SRID(geom) FROM boundary WHERE code = '110101001'")).one()
    assert tuple(row) == ("MULTIPOLYGON", 4326)


def test_subdivided_pieces_cover_each_boundary(loaded):
    assert _count(loaded, "boundary_piece") >= 15
    mismatch = loaded.execute(text("""
        SELECT count(*) FROM boundary b
        JOIN (SELECT boundary_id, ST_Union(geom) AS g FROM boundary_piece GROUP BY boundary_id) p
          ON p.boundary_id = b.id
        WHERE abs(ST_Area(p.g) - ST_Area(b.geom)) > 1e-12""")).scalar_one()
    assert mismatch == 0


def test_point_lookup_uses_the_pieces(loaded):
    code = loaded.execute(text("""
        SELECT p.code FROM boundary_piece p
        JOIN boundary_version v ON v.id = p.version_id AND v.valid_to IS NULL
        WHERE p.level = 'grid' AND ST_Intersects(p.geom, ST_SetSRID(ST_MakePoint(116.318, 39.918), 4326))
        """)).scalar_one()
    assert code == "110101002002002"


def test_loading_a_level_again_makes_a_new_version(loaded, tmp_path):
    path = g.write(g.frame("street"), tmp_path / "v2" / "street.geojson")
    report = load_boundaries(loaded, path, "street", parent_field="parent_code")
    assert report.replaced_version_id is not None
    versions = loaded.execute(text(
        "SELECT id, valid_to IS NULL FROM boundary_version WHERE level = 'street' ORDER BY id")).all()
    assert [current for _, current in versions] == [False, True]
    assert _count(loaded, "boundary", "level = 'street'") == 4  # both versions kept
    current = loaded.execute(text(
        "SELECT count(*) FROM boundary b JOIN boundary_version v ON v.id = b.version_id "
        "WHERE v.valid_to IS NULL AND b.level = 'street'")).scalar_one()
    assert current == 2


def test_refused_load_changes_nothing(loaded, tmp_path):
    before = {t: _count(loaded, t) for t in ("boundary", "boundary_version", "boundary_piece")}
    frame = g.frame("grid")
    frame.loc[0, "parent_code"] = "999999999999"
    path = g.write(frame, tmp_path / "bad" / "grid.geojson")
    with pytest.raises(BoundaryFileError):
        load_boundaries(loaded, path, "grid", parent_field="parent_code")
    assert {t: _count(loaded, t) for t in before} == before


def test_clean_hierarchy_has_no_findings(loaded):
    assert check_boundaries(loaded) == []


def test_check_finds_a_gap_and_an_overlap(session, tmp_path):
    from tests.conftest import load_tiny_hierarchy

    load_tiny_hierarchy(session, tmp_path)
    frame = g.frame("grid")
    # Shrink one grid (a gap in its community) and widen another (overlap with its neighbour).
    frame.loc[0, "geometry"] = shapely.box(g.X0, g.Y0, g.X0 + 0.004, g.YM)
    frame.loc[2, "geometry"] = shapely.box(g.X0, g.YM, g.X0 + 0.006, g.Y1)
    load_boundaries(session, g.write(frame, tmp_path / "v2" / "grid.geojson"), "grid", parent_field="parent_code")
    kinds = {(f.kind, f.codes) for f in check_boundaries(session, levels=("grid",))}
    assert ("gap", ("110101001001",)) in kinds
    assert ("overlap", ("110101001002001", "110101001002002")) in kinds


def test_geojson_layer_is_rfc7946(loaded):
    body = json.loads(boundary_layer_geojson(loaded, "street"))
    assert body["type"] == "FeatureCollection" and body["truncated"] is False
    feature = body["features"][0]
    assert feature["properties"]["name"] == "东华门街道"
    ring = feature["geometry"]["coordinates"][0][0]
    # Right-hand rule: exterior rings counter-clockwise (positive shoelace area).
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert area2 > 0


def test_geojson_bbox_and_limit(loaded):
    east = json.loads(boundary_layer_geojson(loaded, "grid", bbox=(116.316, 39.901, 116.319, 39.904)))
    assert [f["id"] for f in east["features"]] == ["110101002001002"]
    capped = json.loads(boundary_layer_geojson(loaded, "grid", limit=3))
    assert len(capped["features"]) == 3 and capped["truncated"] is True


def test_extent_and_search(loaded):
    assert map_extent(loaded) == pytest.approx((g.X0, g.Y0, g.X1, g.Y1))
    assert [r["code"] for r in search_boundaries(loaded, "景山")] == ["110101002"]
    assert [r["code"] for r in search_boundaries(loaded, "1101010010")][:2] == ["110101001001", "110101001002"]
    assert search_boundaries(loaded, "100%") == []
