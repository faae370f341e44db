"""Tiny hand-drawn boundary hierarchies shared by the tests (written-out answers live in the tests).

The district 110101 is the box 116.30–116.32 °E, 39.90–39.92 °N (grids ≈ 0.47 km²), cut in halves down the levels:

    streets       110101001 (west)            | 110101002 (east)
    communities   …001001 (south) …001002 (north) | …002001 (south) …002002 (north)
    grids         each community cut west/east into …001 (west) and …002 (east)
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely

X0, Y0, X1, Y1 = 116.30, 39.90, 116.32, 39.92
XM, YM = (X0 + X1) / 2, (Y0 + Y1) / 2

DISTRICT = "110101"
STREETS = {"110101001": (X0, Y0, XM, Y1), "110101002": (XM, Y0, X1, Y1)}


def _communities() -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for street, (x0, y0, x1, y1) in STREETS.items():
        out[street + "001"] = (x0, y0, x1, YM)
        out[street + "002"] = (x0, YM, x1, y1)
    return out


COMMUNITIES = _communities()


def _grids() -> dict[str, tuple[float, float, float, float]]:
    out = {}
    for community, (x0, y0, x1, y1) in COMMUNITIES.items():
        xm = (x0 + x1) / 2
        out[community + "001"] = (x0, y0, xm, y1)
        out[community + "002"] = (xm, y0, x1, y1)
    return out


GRIDS = _grids()

NAMES = {
    DISTRICT: "东城区",
    "110101001": "东华门街道",
    "110101002": "景山街道",
}


def name_of(code: str) -> str:
    if code in NAMES:
        return NAMES[code]
    return {12: f"社区{code[-3:]}", 15: f"网格{code[-6:]}"}[len(code)]


def frame(level: str, *, code_field: str = "code", name_field: str = "name",
          parent_field: str | None = "parent_code") -> gpd.GeoDataFrame:
    """One level of the hierarchy as a WGS84 GeoDataFrame with the given field names."""
    boxes = {"district": {DISTRICT: (X0, Y0, X1, Y1)}, "street": STREETS,
             "community": COMMUNITIES, "grid": GRIDS}[level]
    codes = sorted(boxes)
    data: dict[str, list[str]] = {code_field: codes, name_field: [name_of(c) for c in codes]}
    if parent_field:
        data[parent_field] = [c[:-3] for c in codes]
    return gpd.GeoDataFrame(data, geometry=[shapely.box(*boxes[c]) for c in codes], crs="EPSG:4326")


def write(frame_: gpd.GeoDataFrame, path: Path, **kwargs: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame_.to_file(path, engine="pyogrio", **kwargs)
    return path


def bowtie(x: float, y: float, size: float) -> shapely.Polygon:
    """A self-intersecting 'figure eight' ring: invalid, repairable into two triangles."""
    return shapely.Polygon([(x, y), (x + size, y + size), (x + size, y), (x, y + size), (x, y)])
