"""Generate a SYNTHETIC sample boundary hierarchy for central Beijing.

Writes four files into ``data/boundaries/`` (or ``--out DIR``):

* ``district.geojson``  1 district (110102 西城区), WGS84 (EPSG:4326)
* ``streets.geojson``   8 streets (街道), WGS84
* ``communities.gpkg``  43 communities (社区), layer ``communities``, EPSG:4490
* ``grids.shp``         514 grids (网格), EPSG:4548, dBASE in GBK, no .cpg

Geometry is invented (seeded Voronoi cells, NOT official boundaries), names are
borrowed. Each level tiles its parent; the hierarchy is one noded coverage (a
parent is the exact union of its children), so shared edges survive reprojection.
Deterministic (fixed seed); verifies itself and exits 1 if any check fails.
"""
import argparse
import math
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Polygon

SEED = 20240601
METRIC_CRS, GEO_CRS, CGCS_GEO_CRS = 4548, 4326, 4490
GRID_SIZE = 0.01           # metric precision (m)
GEO_DECIMALS = 7           # degree precision
DISTRICT_CENTER = (116.366, 39.913)   # lon, lat
DISTRICT_RADII = (2000.0, 3800.0)     # semi-axes (m) east-west, north-south
DISTRICT_VERTICES = 13
N_STREETS = 8
COMMUNITIES_PER_STREET = (5, 7)
GRIDS_PER_COMMUNITY = (9, 14)
GRID_TARGET_AREA = 32_000.0  # m2; grid count follows community size, within the range above
MAX_ATTEMPTS = 500
DISTRICT = ("110102", "西城区")
STREET_NAMES = ["德胜街道", "什刹海街道", "展览路街道", "新街口街道",     # in code order (N->S, W->E),
                "西长安街街道", "月坛街道", "金融街街道", "大栅栏街道"]   # loosely like the real layout
COMMUNITY_NAMES = ["百花", "三里河", "真武庙", "福绥境", "白塔寺", "西四北", "砖塔", "大觉", "赵登禹", "官园", "北礼士路", "黄瓜园", "车公庄", "展览馆", "榆树馆", "百万庄", "新华里", "德宝", "六铺炕", "裕中", "双旗杆", "新康", "松树街", "柳荫街", "西海", "前海北沿", "护国寺", "大石碑", "兴华", "丰盛", "太平桥", "二龙路", "文昌", "受水河", "钓鱼台", "木樨地", "南礼士路", "复兴门北", "西便门", "儒福里", "宣武门", "新文化街", "石碑胡同", "灵境", "前门西河沿", "煤市街", "铁树斜街", "延寿寺", "大栅栏西街", "观音寺", "樱桃斜街", "笤帚胡同", "西交民巷", "佟麟阁", "闹市口", "府右街"]


def district_outline(rng):
    """Irregular star-shaped polygon (metric) around the district centre."""
    to_metric = Transformer.from_crs(GEO_CRS, METRIC_CRS, always_xy=True)
    cx, cy = to_metric.transform(*DISTRICT_CENTER)
    base = np.linspace(0, 2 * math.pi, DISTRICT_VERTICES, endpoint=False)
    angles = base + rng.uniform(-0.15, 0.15, DISTRICT_VERTICES)
    scale = rng.uniform(0.78, 1.0, DISTRICT_VERTICES)
    xs = cx + DISTRICT_RADII[0] * scale * np.cos(angles)
    ys = cy + DISTRICT_RADII[1] * scale * np.sin(angles)
    return shapely.set_precision(Polygon(np.column_stack([xs, ys])), GRID_SIZE)


def random_points(parent, n, rng):
    """``n`` uniform random points inside ``parent`` (rejection sampling)."""
    minx, miny, maxx, maxy = parent.bounds
    xy = rng.uniform((minx, miny), (maxx, maxy), size=(50 * n, 2))
    return list(shapely.points(xy[shapely.contains_xy(parent, xy[:, 0], xy[:, 1])][:n]))


def voronoi_cells(parent, points):
    vor = shapely.voronoi_polygons(MultiPoint(points), extend_to=parent)
    cells = [c.intersection(parent) for c in vor.geoms]
    return [c for c in cells if not c.is_empty]


def split(parent, n, rng, lloyd_iters=3, share=(0.3, 3.0)):
    """Split ``parent`` into ``n`` even Voronoi cells, each a single valid Polygon.
    Point sets giving multi-part or badly sized cells are rejected and redrawn."""
    for _ in range(MAX_ATTEMPTS):
        points = random_points(parent, n, rng)
        for _ in range(lloyd_iters):                       # Lloyd relaxation
            points = [c.centroid for c in voronoi_cells(parent, points)]
        cells = voronoi_cells(parent, points)
        mean = parent.area / n
        if len(cells) == n and all(c.geom_type == "Polygon" and c.is_valid
                                   and share[0] < c.area / mean < share[1] for c in cells):
            return order_west_east_north_south(cells)
    raise RuntimeError(f"could not split parent into {n} polygons")


def order_west_east_north_south(cells):
    """Sort by row band of centroid northing (north first), then easting."""
    band = math.sqrt(sum(c.area for c in cells) / len(cells))
    top = max(c.centroid.y for c in cells)
    return sorted(cells, key=lambda c: (int((top - c.centroid.y) // band), c.centroid.x))


def build_hierarchy():
    """Top-down: district -> streets -> communities -> grids (metric geometry)."""
    rng = np.random.default_rng(SEED)
    district = district_outline(rng)
    streets, communities, grids = [], [], []
    names = iter(COMMUNITY_NAMES)
    for i, s_geom in enumerate(split(district, N_STREETS, rng, lloyd_iters=6, share=(0.6, 1.15)), 1):
        s_code = f"{DISTRICT[0]}{i:03d}"
        streets.append(dict(code=s_code, name=STREET_NAMES[i - 1], parent=DISTRICT[0], geom=s_geom))
        n_comm = int(rng.integers(COMMUNITIES_PER_STREET[0], COMMUNITIES_PER_STREET[1] + 1))
        for j, c_geom in enumerate(split(s_geom, n_comm, rng, lloyd_iters=4, share=(0.5, 2.0)), 1):
            c_code, c_name = f"{s_code}{j:03d}", next(names) + "社区"
            communities.append(dict(code=c_code, name=c_name, parent=s_code, geom=c_geom))
            n_grid = round(c_geom.area / GRID_TARGET_AREA) + int(rng.integers(-1, 2))
            n_grid = int(np.clip(n_grid, *GRIDS_PER_COMMUNITY))
            for k, g_geom in enumerate(split(c_geom, n_grid, rng, lloyd_iters=3, share=(0.5, 2.5)), 1):
                grids.append(dict(code=f"{c_code}{k:03d}", name=f"{c_name}第{k}网格",
                                  parent=c_code, geom=g_geom))
    return [dict(code=DISTRICT[0], name=DISTRICT[1], parent=None, geom=district)], streets, communities, grids


def node_grids(grids):
    """Snap-round all grid edges to GRID_SIZE and node them together, so that
    neighbouring grids (also across community borders) share identical vertices."""
    geoms = np.array([g["geom"] for g in grids])
    lines = shapely.union_all(shapely.boundary(geoms), grid_size=GRID_SIZE)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    tree = shapely.STRtree(geoms)
    owner = np.array([max(tree.query(f.point_on_surface(), predicate="intersects"),  # largest overlap
                          key=lambda i: geoms[i].intersection(f).area) for f in faces])
    for i, g in enumerate(grids):
        mine = faces[owner == i]
        g["geom"] = mine[0] if len(mine) == 1 else shapely.coverage_union_all(mine)


def rebuild_parents(children, parents):
    """Replace each parent geometry by the exact union of its children."""
    for p in parents:
        p["geom"] = shapely.coverage_union_all([c["geom"] for c in children if c["parent"] == p["code"]])


def rounder(transformer, decimals):
    """Vertex-wise transform + rounding: equal input vertices give equal output."""
    def f(xy):
        x, y = transformer.transform(xy[:, 0], xy[:, 1]) if transformer else (xy[:, 0], xy[:, 1])
        return np.round(np.column_stack([x, y]), decimals)
    return lambda geom: shapely.transform(geom, f)


# CGCS2000 -> WGS84 is a null ("ballpark") transformation in PROJ, so one
# transformer serves the EPSG:4326 and EPSG:4490 layers with identical numbers.
to_geo = rounder(Transformer.from_crs(METRIC_CRS, GEO_CRS, always_xy=True), GEO_DECIMALS)
to_metric = rounder(None, 2)
GEOJSON = dict(driver="GeoJSON", COORDINATE_PRECISION=GEO_DECIMALS, RFC7946=False)
OUTPUTS = [  # file, level index, (code, name, parent) fields, CRS, transform, writer options
    ("district.geojson", 0, ("code", "name"), GEO_CRS, to_geo, GEOJSON),
    ("streets.geojson", 1, ("code", "name", "parent_code"), GEO_CRS, to_geo, GEOJSON),
    ("communities.gpkg", 2, ("社区编码", "社区名称", "街道编码"), CGCS_GEO_CRS, to_geo,
     dict(driver="GPKG", layer="communities")),
    ("grids.shp", 3, ("网格编码", "网格名称", "社区编码"), METRIC_CRS, to_metric,
     dict(driver="ESRI Shapefile", encoding="GBK", DBF_DATE_LAST_UPDATE="2024-01-01")),
]


def write_all(levels, out):
    out.mkdir(parents=True, exist_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2024-01-01T00:00:00.000Z"})  # stable gpkg
    frames = {}
    for fname, level, fields, crs, transform, options in OUTPUTS:
        for old in out.glob(Path(fname).stem + ".*"):   # incl. stale grids.cpg etc.
            old.unlink()
        recs = levels[level]
        data = {fields[0]: [r["code"] for r in recs], fields[1]: [r["name"] for r in recs]}
        if len(fields) > 2:
            data[fields[2]] = [r["parent"] for r in recs]
        geoms = [transform(shapely.orient_polygons(r["geom"])) for r in recs]
        frames[fname] = gdf = gpd.GeoDataFrame(data, geometry=geoms, crs=crs)
        gdf.to_file(out / fname, engine="pyogrio", **options)
    (out / "grids.cpg").unlink(missing_ok=True)   # real hand-overs often lack it
    return frames


def tiling_errors(levels, label):
    """Children must tile their parent (gap/overlap < 1 m2) and extend its code."""
    errors, worst_gap, worst_overlap = [], 0.0, 0.0
    for parents, children in zip(levels[:-1], levels[1:]):
        for p in parents:
            kids = [c for c in children if c["parent"] == p["code"]]
            union = shapely.union_all([k["geom"] for k in kids])
            gap = p["geom"].difference(union).area + union.difference(p["geom"]).area
            overlap = sum(k["geom"].area for k in kids) - union.area
            worst_gap, worst_overlap = max(worst_gap, gap), max(worst_overlap, overlap)
            if not (gap < 1 and overlap < 1):
                errors.append(f"{label} {p['code']}: gap {gap:.3f} m2, overlap {overlap:.3f} m2")
            errors += [f"code {k['code']} is not a child of {p['code']}" for k in kids
                       if not (k["code"].startswith(p["code"]) and len(k["code"]) == len(p["code"]) + 3)]
    for lvl in levels:
        errors += [f"{label} bad geometry {r['code']}" for r in lvl
                   if not (r["geom"].geom_type == "Polygon" and r["geom"].is_valid and r["geom"].area > 0)]
    print(f"tiling ({label}): worst gap {worst_gap:.6f} m2, worst overlap {worst_overlap:.6f} m2")
    return errors


def summary_errors(levels):
    """Print counts and sizes per level; counts, codes and names must be as specified."""
    errors = []
    for name, recs in zip(["district", "street", "community", "grid"], levels):
        areas = np.array([r["geom"].area / 1e6 for r in recs])
        coverage = shapely.coverage_is_valid(np.array([r["geom"] for r in recs]))
        print(f"{name:10s} {len(recs):4d}  area km2 min {areas.min():.3f} mean {areas.mean():.3f} "
              f"max {areas.max():.3f}, vertices {sum(shapely.get_num_coordinates(r['geom']) for r in recs)}, "
              f"valid coverage {coverage}")
        errors += [] if coverage else [f"{name} layer is not a valid coverage (edges not shared exactly)"]
    grid_areas = np.array([g["geom"].area / 1e6 for g in levels[3]])
    print(f"grids within 0.02-0.2 km2: {np.mean((grid_areas >= 0.02) & (grid_areas <= 0.2)):.0%}")
    for key in ("code", "name"):
        values = [r[key] for lvl in levels for r in lvl]
        errors += [f"duplicate {key}s"] if len(set(values)) != len(values) else []
    counts = [len(lvl) for lvl in levels]
    if counts[:2] != [1, N_STREETS] or counts[2] < 40 or counts[3] < 450:
        errors.append("unexpected counts")
    return errors


def readback_errors(levels, frames, out):
    """Read every file back: attributes must round-trip, geographic layers must nest exactly."""
    errors, back = [], {}
    for fname, _, _, _, _, options in OUTPUTS:
        gdf = frames[fname]
        kw = {k: v for k, v in options.items() if k in ("layer", "encoding")}
        back[fname] = rb = gpd.read_file(out / fname, engine="pyogrio", **kw)
        same = len(rb) == len(gdf) and all((rb[c] == gdf[c]).all() for c in gdf.columns[:-1])
        if not (same and rb.is_valid.all() and rb.crs.to_epsg() == gdf.crs.to_epsg()):
            errors.append(f"read-back mismatch in {fname}")
        print(f"read back {fname:17s} {len(rb):4d} features, EPSG:{rb.crs.to_epsg()}, "
              f"valid={rb.is_valid.all()}, attributes equal={same}, e.g. {rb.iloc[-1, 1]}")
    if "网格".encode("gbk") not in (out / "grids.dbf").read_bytes() or (out / "grids.cpg").exists():
        errors.append("grids.dbf is not GBK-encoded or grids.cpg exists")
    geo = [back["district.geojson"].geometry, back["streets.geojson"].geometry,
           back["communities.gpkg"].geometry, back["grids.shp"].geometry.apply(to_geo)]
    bad = []
    for i in (1, 2, 3):
        index = {p["code"]: j for j, p in enumerate(levels[i - 1])}
        bad += [c["code"] for c, g in zip(levels[i], geo[i])
                if not geo[i - 1].iloc[index[c["parent"]]].covers(g)]
    errors += [f"{code} not covered by its parent after reprojection" for code in bad]
    coverage = [bool(shapely.coverage_is_valid(g.values)) for g in geo]
    errors += [] if all(coverage) else ["read-back layers are not valid coverages in lon/lat"]
    print(f"read-back layers in lon/lat: {len(bad)} children not covered by their parent, "
          f"valid coverage per level {coverage}")
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo_root = Path(__file__).resolve().parent.parent
    parser.add_argument("--out", type=Path, default=repo_root / "data" / "boundaries",
                        help="output directory (default: %(default)s)")
    args = parser.parse_args()
    levels = build_hierarchy()
    errors = tiling_errors(levels, "generated")
    generated = [g["geom"] for g in levels[3]]
    node_grids(levels[3])
    if not shapely.coverage_is_valid(np.array([g["geom"] for g in levels[3]])):
        sys.exit("ERROR: noded grids do not form a valid polygonal coverage")
    for i in (2, 1, 0):
        rebuild_parents(levels[i + 1], levels[i])
    shift = max(shapely.hausdorff_distance(a, g["geom"]) for a, g in zip(generated, levels[3]))
    print(f"noding/snap-rounding moved grid edges by at most {shift:.4f} m")
    errors += [f"noding moved geometry by {shift:.3f} m"] if shift > 2 * GRID_SIZE else []
    errors += tiling_errors(levels, "noded") + summary_errors(levels)
    frames = write_all(levels, args.out)
    errors += readback_errors(levels, frames, args.out)
    for f in sorted(args.out.iterdir()):
        print(f"{f.name:20s} {f.stat().st_size:9d} bytes")
    print("\n".join(f"ERROR: {e}" for e in errors) or "OK: all checks passed")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
