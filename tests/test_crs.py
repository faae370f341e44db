"""Pure CRS tests: parsing what users type, reprojection, metric areas, the China sanity check."""

import numpy as np
import pytest
import shapely

from geo.domain.crs import check_in_china, is_wgs84_equivalent, metric_areas, parse_crs, reproject
from geo.domain.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "epsg"),
    [("wgs84", 4326), ("WGS84", 4326), ("cgcs2000", 4490), ("EPSG:4548", 4548), ("epsg:4547", 4547), ("4490", 4490)],
)
def test_parse_crs_accepts_names_people_type(text, epsg):
    assert parse_crs(text).to_epsg() == epsg


def test_parse_crs_refuses_nonsense_naming_the_field():
    with pytest.raises(InvalidInput) as err:
        parse_crs("gauss-beijing", field="crs")
    assert err.value.field == "crs" and err.value.code == "unknown_crs"
    assert "EPSG:4548" in err.value.message


def test_cgcs2000_is_treated_as_wgs84():
    pt = np.array([shapely.Point(116.39, 39.91)])
    assert reproject(pt, "cgcs2000", "wgs84")[0].equals(pt[0])
    assert is_wgs84_equivalent(parse_crs("cgcs2000"))
    assert not is_wgs84_equivalent(parse_crs("EPSG:4548"))


def test_gauss_kruger_central_meridian_maps_to_117e():
    # On the central meridian (false easting 500 000 m) longitude is exactly 117°E.
    pt = reproject(np.array([shapely.Point(500000, 4420000)]), "EPSG:4548", "wgs84")[0]
    assert pt.x == pytest.approx(117.0, abs=1e-9)
    assert 39.9 < pt.y < 40.0


def test_round_trip_through_gauss_kruger_is_sub_millimetre():
    pt = np.array([shapely.Point(116.391, 39.907)])
    back = reproject(reproject(pt, "wgs84", "EPSG:4548"), "EPSG:4548", "wgs84")[0]
    assert abs(back.x - 116.391) < 1e-9 and abs(back.y - 39.907) < 1e-9


def test_metric_area_of_a_known_square():
    # A 1 km square drawn in Gauss-Krüger metres has 1 000 000 m² whichever way it travels.
    square = shapely.box(440000, 4420000, 441000, 4421000)
    wgs = reproject(np.array([square]), "EPSG:4548", "wgs84")
    assert metric_areas(wgs, "EPSG:4548")[0] == pytest.approx(1_000_000, rel=1e-6)


def test_check_in_china_accepts_beijing():
    check_in_china((116.3, 39.8, 116.5, 40.0), parse_crs("wgs84"))


def test_check_in_china_refuses_metres_read_as_degrees_with_a_hint():
    with pytest.raises(InvalidInput) as err:
        check_in_china((440000.0, 4420000.0, 441000.0, 4421000.0), parse_crs("wgs84"))
    assert err.value.code == "crs_mismatch"
    assert "EPSG:4548" in err.value.message and "--crs" in err.value.message
