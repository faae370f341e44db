"""Generate the sample address gazetteer (synthetic door plates, CC0) for the sample boundaries.

    python scripts/make_sample_addresses.py            # writes data/addresses/门牌地址.csv

Each community of the sample grids gets a road (named after its street); each grid of
data/boundaries/grids.shp holds four door plates of it (numbers block×10+1 … +4) at points inside the grid (a fixed seed, so the file is reproducible). Columns: 标准地址, 经度, 纬度
(WGS84) — what `gridmap addresses load` reads without options.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.domain.boundary_files import read_boundary_file  # noqa: E402 - after the path is set

PLATES_PER_GRID = 4
ROAD_KINDS = ("大街", "胡同", "路", "巷", "北里", "南街")
SEED = 20261207


def main() -> None:
    grids = read_boundary_file(ROOT / "data/boundaries/grids.shp").to_crs("EPSG:4326")
    streets = gpd.read_file(ROOT / "data/boundaries/streets.geojson").set_index("code")["name"]
    rng = np.random.default_rng(SEED)
    rows = []
    for grid in grids.itertuples():
        code = str(grid.网格编码)
        community, block = int(code[9:12]), int(code[12:15])
        street = str(streets.get(code[:9], ""))
        # One road per community, named after its street; each grid holds the door numbers block*10+1 … +4.
        road = f"{street.removesuffix('街道')}{community}{ROAD_KINDS[community % len(ROAD_KINDS)]}"
        minx, miny, maxx, maxy = grid.geometry.bounds
        number = 1
        while number <= PLATES_PER_GRID:
            point = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
            if grid.geometry.contains(point):
                rows.append((f"北京市西城区{street}{road}{block * 10 + number}号", round(point.x, 6), round(point.y, 6)))
                number += 1
    out = ROOT / "data/addresses/门牌地址.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["标准地址", "经度", "纬度"]).to_csv(out, index=False, encoding="utf-8-sig")
    print(f"{len(rows)} 个门牌 → {out}")


if __name__ == "__main__":
    main()
