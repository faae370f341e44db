"""Hotspots: Gi* on hand-built lattices, H3 bins, heat points, density, change, recurring problems;
then the services against the real PostGIS with a few cases in the tiny hierarchy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import h3
import numpy as np
import pandas as pd
import pytest
import shapely
from scipy import stats
from sqlalchemy.orm import Session

from geo.domain import getis_ord, hotspots
from geo.domain.errors import InvalidInput
from geo.services import hotspots as service
from geo.services.cases import NewCase, create_case

SIDE = 20
BLOCK = [(r, c) for r in range(8, 11) for c in range(8, 11)]  # a 3×3 block in the middle


@pytest.fixture(scope="session")
def warm() -> None:
    """Compile esda's kernels once for the whole session (≈ 16 s)."""
    getis_ord.warm_gistar()


def lattice(side: int = SIDE) -> list[shapely.Polygon]:
    """Unit squares, row by row from the south-west corner: cell (r, c) is index r * side + c."""
    return [shapely.box(c, r, c + 1, r + 1) for r in range(side) for c in range(side)]


def far_from_block(r: int, c: int) -> bool:
    """No cell of the block within two steps (so not even a neighbour's neighbour)."""
    return min(max(abs(r - br), abs(c - bc)) for br, bc in BLOCK) >= 3


def run_gistar(counts: np.ndarray, seed: int = 7) -> pd.DataFrame:
    return getis_ord.gistar(counts, getis_ord.queen_contiguity(lattice()), permutations=999, seed=seed)


# --- Gi* ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("background", ["flat", "poisson"])
def test_gistar_finds_a_constructed_cluster(warm, background):
    rng = np.random.default_rng(11)
    counts = np.full(SIDE * SIDE, 2.0) if background == "flat" else rng.poisson(2, SIDE * SIDE).astype(float)
    for r, c in BLOCK:
        counts[r * SIDE + c] = 20
    result = run_gistar(counts)
    block = [r * SIDE + c for r, c in BLOCK]
    assert (result["bin"].iloc[block] >= 2).all(), result.iloc[block]
    assert set(result["class"].iloc[block]) <= {"hot_99", "hot_95"}
    assert result["label"].iloc[block[4]] in ("热点 99%", "热点 95%")
    far = [r * SIDE + c for r in range(SIDE) for c in range(SIDE) if far_from_block(r, c)]
    assert len(far) > 300
    significant_far = int((result["bin"].iloc[far] != 0).sum())
    # FDR 10 % over ~30 true discoveries admits ~3 false ones; a flat background admits none.
    assert significant_far <= (0 if background == "flat" else 3)
    assert (result["class"].iloc[far][result["bin"].iloc[far] == 0] == "not_significant").all()


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("mean", [3.0, 0.3])
def test_gistar_finds_nothing_in_poisson_noise(warm, seed, mean):
    counts = np.random.default_rng(seed).poisson(mean, SIDE * SIDE).astype(float)
    result = run_gistar(counts, seed=seed)
    # Without FDR about 10 % of 400 cells would pass at 90 %; with it, at most a stray one.
    assert int((result["bin"] != 0).sum()) <= 1
    assert int((result["p"] <= 0.10).sum()) > 0  # the raw p-values do fire: the correction matters


def test_gistar_ties_in_sparse_counts_are_not_cold_spots(warm):
    """All-zero neighbourhoods in sparse data are ordinary, not 'significantly low'."""
    counts = np.zeros(SIDE * SIDE)
    counts[[5, 77, 150, 233, 390]] = 1
    result = run_gistar(counts)
    assert (result["bin"] == 0).all()


@pytest.mark.parametrize("pvalue", getis_ord.PVALUE_KINDS)
def test_gistar_islands_are_not_significant(warm, pvalue):
    polygons = [*lattice(), shapely.box(100, 100, 101, 101)]
    counts = np.full(len(polygons), 1.0)
    counts[-1] = 60  # z ≈ 15 on its own: only the island rule keeps it out
    counts[[r * SIDE + c for r, c in BLOCK]] = 20
    result = getis_ord.gistar(counts, getis_ord.queen_contiguity(polygons), seed=3, pvalue=pvalue)
    island = result.iloc[-1]
    assert island["z"] > 10
    assert island["neighbours"] == 0 and island["bin"] == 0 and island["p"] == 1.0
    if pvalue != "permutation":  # 999 draws cannot pass FDR here (see the floor test)
        assert result["bin"].iloc[9 * SIDE + 9] > 0


def test_gistar_exact_p_by_hand(warm):
    """Three squares in a row, counts 0 1 0: the counts are 0 (2/3) or 1 (1/3).
    An end square's one neighbour holds 1: P(≥ 1) = 1/3, two-sided 2/3, high side.
    The middle square's two neighbours hold 0: P(≤ 0) = (2/3)² = 4/9, two-sided 8/9, low side."""
    row = [shapely.box(x, 0, x + 1, 1) for x in range(3)]
    result = getis_ord.gistar([0, 1, 0], getis_ord.queen_contiguity(row), permutations=99, seed=1)
    assert result["p"].tolist() == pytest.approx([2 / 3, 8 / 9, 2 / 3])
    assert result["p_fdr"].tolist() == pytest.approx([8 / 9] * 3)


def test_permutation_p_has_a_floor_the_exact_p_has_not(warm):
    counts = np.full(SIDE * SIDE, 2.0)
    counts[[r * SIDE + c for r, c in BLOCK]] = 20
    exact = run_gistar(counts)
    permuted = getis_ord.gistar(counts, getis_ord.queen_contiguity(lattice()), seed=7, pvalue="permutation")
    centre = 9 * SIDE + 9
    assert permuted["p"].min() == pytest.approx(2 / 1000)
    assert exact["p"].iloc[centre] < 1e-6
    assert (permuted["p_fdr"] > 0.05).all()  # 999 draws are too few for 95 % after FDR here


def test_gistar_same_seed_same_answer(warm):
    counts = np.random.default_rng(5).poisson(2, SIDE * SIDE).astype(float)
    a, b = run_gistar(counts, seed=42), run_gistar(counts, seed=42)
    assert a["p_sim"].tolist() == b["p_sim"].tolist()


def test_gistar_without_variation_is_all_not_significant():
    result = getis_ord.gistar(np.full(9, 4.0), getis_ord.queen_contiguity(lattice(3)))
    assert result["label"].tolist() == ["不显著"] * 9
    assert result["neighbours"].tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]


def test_cold_spot_is_found(warm):
    counts = np.full(SIDE * SIDE, 10.0)
    counts += np.random.default_rng(9).poisson(1, SIDE * SIDE)
    for r, c in BLOCK:
        counts[r * SIDE + c] = 0
    result = run_gistar(counts)
    centre = 9 * SIDE + 9
    assert result["bin"].iloc[centre] <= -2
    assert result["label"].iloc[centre].startswith("冷点")


def test_benjamini_hochberg_by_hand():
    # sorted 0.01, 0.03, 0.04, 0.5 → ×4/rank: 0.04, 0.06, 0.0533, 0.5 → running min from the top
    adjusted = getis_ord.benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert adjusted == pytest.approx([0.04, 0.16 / 3, 0.16 / 3, 0.5])


def test_benjamini_hochberg_agrees_with_scipy():
    p = np.random.default_rng(0).uniform(0, 0.2, 300)
    assert getis_ord.benjamini_hochberg(p) == pytest.approx(stats.false_discovery_control(p, method="bh"))


def test_queen_contiguity_counts_corners_and_tolerates_hairline_gaps():
    grid = lattice(3)
    assert getis_ord.queen_contiguity(grid).cardinality.tolist() == [3, 5, 3, 5, 8, 5, 3, 5, 3]
    hairline = [shapely.box(0, 0, 1, 1), shapely.box(1 + 1e-9, 0, 2, 1), shapely.box(2.001, 0, 3, 1)]
    assert getis_ord.queen_contiguity(hairline).cardinality.tolist() == [1, 1, 0]


def test_contiguity_cache_builds_once_per_key():
    cache = getis_ord.ContiguityCache(maxsize=1)
    built = []

    def build():
        built.append(1)
        return getis_ord.queen_contiguity(lattice(2))

    assert cache.get("v1", build)[1] is False
    assert cache.get("v1", build)[1] is True
    cache.get("v2", build)
    assert cache.get("v1", build)[1] is False  # evicted by v2
    assert len(built) == 3


# --- H3 and heat ----------------------------------------------------------------------------------


def test_h3_point_lands_in_its_cell_with_lon_lat_order():
    cell = h3.latlng_to_cell(39.905, 116.305, 9)
    lat, lng = h3.cell_to_latlng(cell)
    bins = hotspots.h3_bins([lng], [lat], resolution=9)
    assert bins["cell"].tolist() == [cell]
    hexagon = bins.geometry.iloc[0]
    assert hexagon.contains(shapely.Point(lng, lat))
    assert 116.2 < hexagon.bounds[0] < 116.4 and 39.8 < hexagon.bounds[1] < 40.0  # lon first, not lat


def test_h3_counts_sum_to_the_points_and_each_point_is_in_its_hexagon():
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(116.30, 116.32, 2000), rng.uniform(39.90, 39.92, 2000)
    bins = hotspots.h3_bins(lon, lat, resolution=8)
    assert int(bins["count"].sum()) == 2000
    assert bins["count"].is_monotonic_decreasing
    points = shapely.points(lon, lat)
    inside = [int(shapely.contains(hexagon, points).sum()) for hexagon in bins.geometry]
    assert inside == bins["count"].tolist()


def test_h3_bad_resolution_is_refused():
    with pytest.raises(InvalidInput) as err:
        hotspots.h3_bins([116.3], [39.9], resolution=16)
    assert err.value.field == "resolution"


def test_heat_points_by_hand():
    # bbox 0..2 × 0..1 with 2 cells: the left cell holds two points, the right one.
    heat = hotspots.heat_points([0.2, 0.4, 1.5, 5.0], [0.5, 0.7, 0.5, 0.5], bbox=(0, 0, 2, 1), max_points=2)
    assert heat["count"].tolist() == [2, 1]
    assert heat["weight"].tolist() == [1.0, 0.5]
    assert heat["lon"].tolist() == pytest.approx([0.3, 1.5])
    assert heat["lat"].tolist() == pytest.approx([0.6, 0.5])


def test_heat_points_stay_few_whatever_the_case_count():
    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(116.25, 116.50, 200_000), rng.uniform(39.85, 40.00, 200_000)
    heat = hotspots.heat_points(lon, lat, max_points=1000)
    assert 500 < len(heat) <= 1000
    assert int(heat["count"].sum()) == 200_000
    assert heat["weight"].max() == 1.0


# --- density, change, recurring --------------------------------------------------------------------


def test_density_per_square_kilometre_by_hand():
    frame = pd.DataFrame({"count": [3, 0, 5], "area_m2": [500_000.0, 2_000_000.0, 0.0]})
    out = hotspots.density(frame)
    assert out["area_km2"].tolist() == [0.5, 2.0, 0.0]
    assert out["density"].iloc[0] == 6.0 and out["density"].iloc[1] == 0.0
    assert pd.isna(out["density"].iloc[2])


def test_period_change_by_hand_with_zero_base():
    out = hotspots.period_change(pd.Series({"g1": 4, "g2": 0, "g3": 5}), pd.Series({"g1": 6, "g2": 3}))
    assert out["count_b"].tolist() == [6, 3, 0]
    assert out["change"].tolist() == [2, 3, -5]
    assert out.loc["g1", "ratio"] == 1.5 and out.loc["g1", "pct_change"] == 50.0
    assert out.loc["g3", "ratio"] == 0.0 and out.loc["g3", "pct_change"] == -100.0
    assert pd.isna(out.loc["g2", "ratio"]) and pd.isna(out.loc["g2", "pct_change"])


def test_period_bounds_make_dates_whole_local_days():
    start, end = hotspots.period_bounds(date(2026, 11, 1), date(2026, 11, 30))
    assert start == datetime(2026, 10, 31, 16, tzinfo=UTC)
    assert end == datetime(2026, 11, 30, 16, tzinfo=UTC)
    with pytest.raises(InvalidInput):
        hotspots.period_bounds(date(2026, 11, 2), date(2026, 11, 1))


def _cases(days: list[float], grid: str = "g1", category: str = "0101") -> pd.DataFrame:
    t0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
    return pd.DataFrame({"grid_code": grid, "category_code": category,
                         "reported_at": [t0 + timedelta(days=d) for d in days]})


@pytest.mark.parametrize(("days", "listed"), [
    ([0, 10], False),           # N - 1 within 30 days
    ([0, 10, 30], True),        # N, first and last exactly 30 days apart
    ([0, 15, 30.5], False),     # N spread over more than 30 days
    ([0, 15, 31, 46], False),   # every 30-day window holds two
])
def test_recurring_windows_by_hand(days, listed):
    found = hotspots.recurring(_cases(days), min_count=3, days=30)
    assert (len(found) == 1) is listed


def test_recurring_reports_the_densest_window():
    found = hotspots.recurring(_cases([0, 20, 40, 45]), min_count=3, days=30)
    row = found.iloc[0]
    assert (row["grid_code"], row["category_code"], row["count"], row["total"]) == ("g1", "0101", 3, 4)
    t0 = datetime(2026, 9, 1, 8, tzinfo=UTC)
    assert row["first"] == t0 + timedelta(days=20) and row["last"] == t0 + timedelta(days=45)


def test_recurring_needs_same_grid_and_same_category():
    mixed = pd.concat([_cases([0, 1]), _cases([2], category="0602"), _cases([3], grid="g2")])
    assert hotspots.recurring(mixed, min_count=3).empty
    assert hotspots.recurring(pd.concat([mixed, _cases([25])]), min_count=3)["grid_code"].tolist() == ["g1"]


# --- services against PostGIS -------------------------------------------------------------------------

A, B, C = "110101001001001", "110101001001002", "110101002002002"
CENTRES = {A: (116.3025, 39.905), B: (116.3075, 39.905), C: (116.3175, 39.915)}
#: A grid is 0.005° × 0.01° at 39.9 °N: 427.0 m × 1110.9 m.
GRID_KM2 = 0.005 * 111_320 * 0.76713 * 1110.9 / 1e6
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
CASES = [  # grid, category, local report time
    (A, "0101", "2026-11-01 09:00"), (A, "0101", "2026-11-05 09:00"), (A, "0101", "2026-11-20 09:00"),
    (B, "0602", "2026-11-03 09:00"), (B, "0101", "2026-10-10 09:00"),
    (C, "0503", "2026-10-15 09:00"), (C, "0503", "2026-11-10 09:00"),
]


@pytest.fixture
def with_cases(routed: Session) -> Session:
    for grid, category, when in CASES:
        lon, lat = CENTRES[grid]
        create_case(routed, NewCase(lon=lon, lat=lat, category=category, reported_at=when), now=NOW)
    return routed


NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


def test_grid_density_through_postgis(with_cases):
    out = service.grid_density(with_cases, *NOVEMBER).set_index("code")
    assert len(out) == 8
    assert out["count"].to_dict() == {code: {A: 3, B: 1, C: 1}.get(code, 0) for code in out.index}
    assert out.loc[A, "area_km2"] == pytest.approx(GRID_KM2, rel=0.01)
    assert out.loc[A, "density"] == pytest.approx(3 / GRID_KM2, rel=0.01)
    assert out.loc[A, "name"] == "网格001001" and out.loc[A, "parent_code"] == "110101001001"
    assert out.geometry.iloc[0].geom_type == "MultiPolygon"


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"scope": "110101002"}, {C: 1}),
    ({"category": "01"}, {A: 3}),
    ({"category": ["0602", "0503"]}, {B: 1, C: 1}),
    ({"status": "closed"}, {}),
    ({"status": "open"}, {A: 3, B: 1, C: 1}),
])
def test_grid_counts_follow_the_filters(with_cases, kwargs, expected):
    out = service.grid_density(with_cases, *NOVEMBER, **kwargs)
    assert {k: v for k, v in zip(out["code"], out["count"], strict=True) if v} == expected
    if "scope" in kwargs:
        assert out["code"].str.startswith(kwargs["scope"]).all() and len(out) == 4


def test_period_change_through_postgis(with_cases):
    out = service.period_change(with_cases, *OCTOBER, *NOVEMBER).set_index("code")
    assert out.loc[A, ["count_a", "count_b", "change"]].tolist() == [0, 3, 3]
    assert pd.isna(out.loc[A, "pct_change"])
    assert out.loc[B, ["count_a", "count_b", "change", "pct_change"]].tolist() == [1, 1, 0, 0.0]


def test_h3_and_heat_through_postgis(with_cases):
    bins = service.h3_bins(with_cases, 9, *NOVEMBER)
    assert int(bins["count"].sum()) == 5
    assert bins["count"].iloc[0] == 3  # grid A's three cases share one point
    assert bins.geometry.iloc[0].contains(shapely.Point(*CENTRES[A]))
    heat = service.heat_points(with_cases, *NOVEMBER, bbox=(116.30, 39.90, 116.32, 39.92))
    assert int(heat["count"].sum()) == 5 and heat["weight"].max() == 1.0
    west = service.h3_bins(with_cases, 9, *NOVEMBER, bbox=(116.30, 39.90, 116.31, 39.92))
    assert int(west["count"].sum()) == 4


def test_recurring_through_postgis(with_cases):
    found = service.recurring(with_cases, min_count=3, days=30)
    assert found[["grid_code", "category_code", "count", "total"]].values.tolist() == [[A, "0101", 3, 3]]
    assert found["category_name"].tolist() == ["暴露垃圾"] and found["grid_name"].tolist() == ["网格001001"]
    assert found["first"].iloc[0] == datetime(2026, 11, 1, 1, tzinfo=UTC)  # 09:00 in Beijing
    assert service.recurring(with_cases, min_count=2, days=20, category="0503").empty  # 26 days apart


def test_gistar_through_postgis_caches_the_weights(with_cases, warm):
    getis_ord.CONTIGUITY_CACHE.clear()
    out = service.gistar(with_cases, *NOVEMBER, seed=1).set_index("code")
    assert len(out) == 8 and out.loc[A, "count"] == 3
    # 4 × 2 grids: the four corner grids touch 3 others, the middle ones 5.
    corners = {"110101001001001", "110101001002001", "110101002001002", "110101002002002"}
    assert out["neighbours"].to_dict() == {code: 3 if code in corners else 5 for code in out.index}
    assert set(out["label"]) <= {label for _, _, label in getis_ord.CLASSES}
    assert len(getis_ord.CONTIGUITY_CACHE._items) == 1
    service.gistar(with_cases, *NOVEMBER, seed=1)
    assert len(getis_ord.CONTIGUITY_CACHE._items) == 1


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"scope": "1101%"}, "scope"), ({"status": "pending"}, "status"), ({"category": "1"}, "category"),
])
def test_bad_arguments_are_refused(with_cases, kwargs, field):
    with pytest.raises(InvalidInput) as err:
        service.grid_density(with_cases, *NOVEMBER, **kwargs)
    assert err.value.field == field
