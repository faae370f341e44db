"""Pure topology tests on tiny metric geometries, with the answers written out."""

import numpy as np
import pytest
import shapely

from geo.domain.topology import (
    find_gaps,
    find_holes,
    find_orphans,
    find_outside_parent,
    find_overlaps,
    find_oversized,
)

PARENT = shapely.box(0, 0, 100, 100)


def test_exact_tiling_has_no_gaps_or_overlaps():
    kids = np.array([shapely.box(0, 0, 50, 100), shapely.box(50, 0, 100, 100)])
    assert find_gaps("p", PARENT, kids, min_area_m2=1) == []
    assert find_overlaps(["a", "b"], kids, min_area_m2=1) == []


def test_gap_reported_with_area_and_a_point_inside_it():
    kids = np.array([shapely.box(0, 0, 50, 100), shapely.box(60, 0, 100, 100)])
    [gap] = find_gaps("p", PARENT, kids, min_area_m2=1, level="grid")
    assert (gap.kind, gap.codes, gap.area_m2, gap.level) == ("gap", ("p",), 1000.0, "grid")
    assert shapely.box(50, 0, 60, 100).contains(shapely.Point(gap.location))


def test_overlap_reported_once_with_its_area():
    kids = np.array([shapely.box(0, 0, 55, 100), shapely.box(50, 0, 100, 100)])
    [overlap] = find_overlaps(["b", "a"], kids, min_area_m2=1)
    assert overlap.codes == ("a", "b")
    assert overlap.area_m2 == 500.0


def test_sliver_overlap_is_reported():
    # 0.2 m wide, 100 m long: a real digitising sliver (20 m²), wider than reprojection noise.
    kids = np.array([shapely.box(0, 0, 50.2, 100), shapely.box(50, 0, 100, 100)])
    [overlap] = find_overlaps(["a", "b"], kids, min_area_m2=1)
    assert overlap.area_m2 == pytest.approx(20.0)


@pytest.mark.parametrize("width", [0.001, 0.01])
def test_millimetre_noise_along_an_edge_is_not_a_gap(width):
    # 1 km of edge off by millimetres is over 1 m² but nothing anyone could stand in.
    parent = shapely.box(0, 0, 1000, 1000)
    kids = np.array([shapely.box(0, 0, 500, 1000), shapely.box(500 + width, 0, 1000, 1000)])
    assert find_gaps("p", parent, kids, min_area_m2=1, min_width_m=0.05) == []


def test_tiny_gap_below_area_threshold_is_ignored():
    kids = np.array([shapely.box(0, 0, 50, 100), shapely.box(50, 0, 100, 99.995)])
    assert find_gaps("p", PARENT, kids, min_area_m2=1) == []


def test_parent_without_children_is_one_big_gap():
    [gap] = find_gaps("p", PARENT, np.array([], dtype=object), min_area_m2=1)
    assert gap.area_m2 == 10000.0


def test_child_sticking_out_of_parent():
    [out] = find_outside_parent("c", shapely.box(90, 0, 120, 10), "p", PARENT, min_area_m2=1)
    assert (out.kind, out.codes, out.area_m2) == ("outside_parent", ("c", "p"), 200.0)


def test_holes_between_top_level_siblings():
    ring = shapely.box(0, 0, 30, 30).difference(shapely.box(10, 10, 20, 20))
    others = shapely.box(30, 0, 40, 30)
    [hole] = find_holes(["a", "b"], np.array([ring, others]), min_area_m2=1, level="district")
    assert hole.area_m2 == 100.0 and hole.codes == ("a",)


def test_orphans_are_children_whose_parent_is_missing():
    found = find_orphans(["11a", "22b", "33c"], ["11", "22", None], {"11"})
    assert [f.codes for f in found] == [("22b",), ("33c",)]


def test_oversized_grids():
    geoms = np.array([shapely.box(0, 0, 10, 10)] * 2)
    found = find_oversized(["g1", "g2"], [500_000.0, 2_000_000.0], geoms, max_area_m2=1_000_000)
    assert [f.codes for f in found] == [("g2",)]
