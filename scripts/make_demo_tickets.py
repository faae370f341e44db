"""Generate data/demo/hotline_12345.csv: a synthetic 12345 hotline export for the demo.

2,000 tickets inside the sample district, coordinates in GCJ-02 (as AMap-based hotline systems
export them), GBK-encoded with the Chinese column names real exports use. Deterministic (seeded).
Run: .venv/bin/python scripts/make_demo_tickets.py
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.domain.coordinates import wgs84_to_gcj02

ROOT = Path(__file__).resolve().parent.parent
COUNT = 2000
SEED = 12345
START = datetime(2026, 9, 1, 8, 0)
DAYS = 85
CATEGORIES = {
    "暴露垃圾": "{place}附近垃圾桶满溢，垃圾散落一地，气味很大。",
    "道路不洁": "{place}路面有大量落叶和泥土，长时间没人清扫。",
    "乱堆物堆料": "{place}楼道口堆放建筑垃圾和旧家具，影响通行。",
    "非法小广告": "{place}电线杆和墙面贴满小广告。",
    "施工扰民": "{place}工地夜间施工，噪音太大影响休息。",
    "路面塌陷": "{place}路面出现塌陷坑，车辆经过很危险。",
    "供水管道破裂": "{place}地面冒水，疑似水管破裂。",
    "占道经营": "{place}商户把货架摆到人行道上。",
    "机动车乱停放": "{place}车辆长期占用消防通道。",
    "非机动车乱停放": "{place}共享单车堆积堵住出入口。",
    "供暖问题": "{place}家中暖气不热，室温只有十几度。",
    "噪声扰民": "{place}饭馆排风扇噪声很大，晚上也不停。",
}
WEIGHTS = np.array([14, 10, 9, 6, 8, 1, 2, 9, 12, 10, 8, 11], dtype=float)
PLACES = ["小区东门", "胡同口", "公交站", "菜市场", "学校门口", "社区服务站", "地铁站出口", "便利店旁"]


def main() -> None:
    rng = np.random.default_rng(SEED)
    district = gpd.read_file(ROOT / "data" / "boundaries" / "district.geojson").geometry.iloc[0]
    minx, miny, maxx, maxy = district.bounds
    # Hotspots make the demo's hotspot layers meaningful: half the tickets cluster near a few places.
    centres = np.column_stack([rng.uniform(minx, maxx, 5), rng.uniform(miny, maxy, 5)])
    lon, lat = [], []
    while len(lon) < COUNT:
        if rng.random() < 0.5:
            cx, cy = centres[rng.integers(len(centres))]
            x, y = rng.normal(cx, 0.002), rng.normal(cy, 0.0015)
        else:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if district.contains(shapely.Point(x, y)):
            lon.append(x)
            lat.append(y)
    glon, glat = wgs84_to_gcj02(np.array(lon), np.array(lat))
    names = list(CATEGORIES)
    picks = rng.choice(len(names), size=COUNT, p=WEIGHTS / WEIGHTS.sum())
    times = [START + timedelta(minutes=int(m)) for m in np.sort(rng.integers(0, DAYS * 24 * 60, COUNT))]
    frame = pd.DataFrame({
        "工单编号": [f"BJ12345-{t:%Y%m%d}-{i:05d}" for i, t in enumerate(times, start=1)],
        "受理时间": [f"{t:%Y/%m/%d %H:%M:%S}" for t in times],
        "问题分类": [names[p] for p in picks],
        "诉求内容": [CATEGORIES[names[p]].format(place=PLACES[rng.integers(len(PLACES))]) for p in picks],
        "经度": np.round(glon, 6),
        "纬度": np.round(glat, 6),
    })
    out = ROOT / "data" / "demo" / "hotline_12345.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, index=False, encoding="gbk")
    print(f"wrote {len(frame)} tickets to {out}")


if __name__ == "__main__":
    main()
