"""GCJ-02 / BD-09 conversions: exact inverses, vectorised, identity outside China."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.domain.coordinates import (
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalize_crs_name,
    to_wgs84,
    wgs84_to_gcj02,
)
from geo.domain.errors import InvalidInput

METRES_PER_DEGREE = 111_320.0

beijing = st.tuples(st.floats(115.4, 117.6), st.floats(39.4, 41.1))


def _metres(lon_a, lat_a, lon_b, lat_b):
    dx = (lon_a - lon_b) * METRES_PER_DEGREE * np.cos(np.radians(lat_b))
    return np.hypot(dx, (lat_a - lat_b) * METRES_PER_DEGREE)


def test_gcj02_shift_in_beijing_is_hundreds_of_metres():
    lon, lat = wgs84_to_gcj02(np.array([116.3912]), np.array([39.9075]))
    assert 300 < _metres(lon, lat, 116.3912, 39.9075)[0] < 700


@settings(max_examples=200, deadline=None)
@given(beijing)
def test_gcj02_round_trip_is_under_one_centimetre(point):
    lon, lat = np.array([point[0]]), np.array([point[1]])
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert _metres(*back, lon, lat)[0] < 0.01


@settings(max_examples=200, deadline=None)
@given(beijing)
def test_bd09_round_trip_is_under_one_centimetre(point):
    lon, lat = np.array([point[0]]), np.array([point[1]])
    back = bd09_to_wgs84(*gcj02_to_bd09(*wgs84_to_gcj02(lon, lat)))
    assert _metres(*back, lon, lat)[0] < 0.01


def test_vectorised_conversion_matches_one_by_one():
    rng = np.random.default_rng(7)
    lon, lat = rng.uniform(115.5, 117.5, 500), rng.uniform(39.5, 41, 500)
    all_at_once = gcj02_to_wgs84(lon, lat)
    singles = np.array([gcj02_to_wgs84(lon[i:i + 1], lat[i:i + 1]) for i in range(500)])[:, :, 0]
    assert np.allclose(np.column_stack(all_at_once), singles, atol=1e-12, rtol=0)


def test_outside_china_is_unshifted():
    lon, lat = wgs84_to_gcj02(np.array([2.35]), np.array([48.85]))
    assert (lon[0], lat[0]) == (2.35, 48.85)


@pytest.mark.parametrize(("given_name", "expected"), [
    ("GCJ-02", "gcj02"), ("gcj02", "gcj02"), ("BD-09", "bd09"), ("baidu", "bd09"), (None, "wgs84"),
    ("WGS84", "wgs84"), ("CGCS2000", "cgcs2000"), ("EPSG:4548", "EPSG:4548"),
])
def test_crs_names(given_name, expected):
    assert normalize_crs_name(given_name) == expected


def test_unknown_crs_names_the_field():
    with pytest.raises(InvalidInput) as err:
        normalize_crs_name("mars-2")
    assert err.value.field == "crs"


def test_to_wgs84_from_gauss_kruger():
    lon, lat = to_wgs84(np.array([500000.0]), np.array([4420000.0]), "EPSG:4548")
    assert lon[0] == pytest.approx(117.0) and 39.9 < lat[0] < 40.0
