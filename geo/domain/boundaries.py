"""Boundary layers: read the files districts hand over and turn them into clean WGS84 layers.

Four levels nest: district (区) ⊃ street (街道/乡镇) ⊃ community (社区/村) ⊃ grid (网格).
A child's code starts with its parent's code. Files arrive as Shapefile (often GBK without a
.cpg), GeoPackage or GeoJSON, with Chinese field names, in WGS84, CGCS2000 or Gauss-Krüger.

The pipeline, each step pure except the first:

    boundary_files.read_boundary_file → prepare_layer → assign_parents → (store)

>>> import geopandas as gpd, shapely
>>> frame = gpd.GeoDataFrame({"编码": ["110102"], "名称": ["西城区"]},
...                          geometry=[shapely.box(116.3, 39.8, 116.4, 39.9)], crs=4326)
>>> layer = prepare_layer(frame, "district")
>>> layer.codes, layer.names, layer.geoms[0].geom_type
(['110102'], ['西城区'], 'MultiPolygon')
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from pyproj import CRS

from geo.domain.crs import WGS84, check_in_china, crs_label, parse_crs, reproject
from geo.domain.errors import BoundaryFileError, preview

__all__ = [
    "CODE_LENGTH",
    "LEVELS",
    "PARENT_LEVEL",
    "BoundaryLayer",
    "ParentLayer",
    "Repair",
    "assign_parents",
    "check_level",
    "prepare_layer",
]

LEVELS = ("district", "street", "community", "grid")
PARENT_LEVEL = {"district": None, "street": "district", "community": "street", "grid": "community"}
LEVEL_NAMES = {"district": "区", "street": "街道", "community": "社区", "grid": "网格"}
#: Standard code lengths (DOMAIN.md): district 6, then +3 digits per level.
CODE_LENGTH = {"district": 6, "street": 9, "community": 12, "grid": 15}

_GENERIC_CODE_FIELDS = ("code", "编码", "代码", "区划代码", "行政区划代码", "adcode", "gb")
_GENERIC_NAME_FIELDS = ("name", "名称", "mc")
_LEVEL_CODE_FIELDS = {
    "district": ("district_code", "区编码", "区县编码", "区代码", "区县代码"),
    "street": ("street_code", "街道编码", "街道代码", "街乡编码", "乡镇编码", "乡镇街道编码"),
    "community": ("community_code", "社区编码", "社区代码", "村居编码", "社区村编码"),
    "grid": ("grid_code", "网格编码", "网格代码", "网格号", "单元网格编码"),
}
_LEVEL_NAME_FIELDS = {
    "district": ("district_name", "区名称", "区县名称", "区名"),
    "street": ("street_name", "街道名称", "街乡名称", "乡镇名称", "街道名"),
    "community": ("community_name", "社区名称", "村居名称", "社区名"),
    "grid": ("grid_name", "网格名称", "网格名"),
}


class _Missing:
    """Marker for 'no value' in a code column."""


@dataclass(frozen=True)
class Repair:
    """A feature whose geometry was invalid and was repaired with make_valid."""

    code: str
    reason: str


@dataclass(frozen=True)
class BoundaryLayer:
    """One level's features, clean and in WGS84, ready to store."""

    level: str
    codes: list[str]
    names: list[str]
    parent_codes: list[str | None]
    geoms: np.ndarray  # MultiPolygon, EPSG:4326
    source_crs: str
    repairs: list[Repair] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.codes)


@dataclass(frozen=True)
class ParentLayer:
    """The current features of the level above, for parent checks and spatial assignment."""

    level: str
    codes: list[str]
    geoms: np.ndarray  # EPSG:4326


# ---------------------------------------------------------------------------------------------
# prepare


def prepare_layer(
    frame: gpd.GeoDataFrame,
    level: str,
    *,
    code_field: str | None = None,
    name_field: str | None = None,
    parent_field: str | None = None,
    crs: str | None = None,
) -> BoundaryLayer:
    """Check and clean a read file: fields, codes, geometry types, CRS, validity.

    Refuses (``BoundaryFileError``) rather than guesses: a missing field lists the file's
    fields, duplicate or empty codes are listed, non-polygons are listed. Invalid rings are
    repaired with make_valid and reported in ``repairs``.
    """
    _check_level(level)
    if len(frame) == 0:
        raise BoundaryFileError("文件里没有任何要素（空文件）。", field="path", code="empty_file")
    code_col = _pick_field(frame, code_field, level, "code")
    name_col = _pick_field(frame, name_field, level, "name")
    parent_col = _pick_field(frame, parent_field, level, "parent") if parent_field else None

    codes = _codes_column(frame[code_col], code_col, required=True)
    _check_unique(codes, code_col)
    names = _names_column(frame[name_col], codes)
    parent_codes: list[str | None] = [None] * len(codes)
    if parent_col is not None:
        parent_codes = list(_codes_column(frame[parent_col], parent_col, required=True, row_codes=codes))
    source_crs = _source_crs(frame.crs, crs)
    geoms = _polygonal_geoms(frame.geometry.values, codes)
    geoms = reproject(shapely.force_2d(geoms), source_crs, WGS84)
    check_in_china(tuple(shapely.total_bounds(geoms)), source_crs)
    geoms, repairs = _repair(geoms, codes)
    warnings = _code_length_warnings(codes, level)
    if parent_col is not None and level == "district":
        warnings.append("区是最高层级，已忽略上级编码字段。")
        parent_codes = [None] * len(codes)
    return BoundaryLayer(
        level=level,
        codes=codes,
        names=names,
        parent_codes=parent_codes,
        geoms=_to_multipolygons(geoms),
        source_crs=crs_label(source_crs),
        repairs=repairs,
        warnings=warnings,
    )


def _check_level(level: str) -> None:
    if level not in LEVELS:
        raise BoundaryFileError(
            f"层级 {level!r} 无效，应为 {', '.join(LEVELS)} 之一。", field="level", code="bad_level"
        )


def _pick_field(frame: gpd.GeoDataFrame, wanted: str | None, level: str, role: str) -> str:
    columns = [str(c) for c in frame.columns if c != frame.geometry.name]
    option = {"code": "--code-field", "name": "--name-field", "parent": "--parent-field"}[role]
    if wanted is not None:
        if wanted in columns:
            return wanted
        folded = {c.casefold(): c for c in columns}
        if wanted.casefold() in folded:
            return folded[wanted.casefold()]
        raise BoundaryFileError(
            f"文件中没有字段 {wanted!r}（{option}）。文件中的字段有：{', '.join(columns)}。",
            field=option.lstrip("-").replace("-", "_"),
            code="missing_field",
        )
    candidates = (
        _LEVEL_CODE_FIELDS[level] + _GENERIC_CODE_FIELDS
        if role == "code"
        else _LEVEL_NAME_FIELDS[level] + _GENERIC_NAME_FIELDS
    )
    folded = {c.casefold(): c for c in columns}
    for candidate in candidates:
        if candidate.casefold() in folded:
            return folded[candidate.casefold()]
    what = "编码" if role == "code" else "名称"
    raise BoundaryFileError(
        f"找不到{LEVEL_NAMES[level]}{what}字段，请用 {option} 指定。文件中的字段有：{', '.join(columns)}。",
        field=option.lstrip("-").replace("-", "_"),
        code="missing_field",
    )


def _normalize_code(value: Any) -> str | _Missing:
    """Codes are strings; numeric columns (110102.0) become '110102'."""
    if value is None:
        return _Missing()
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return _Missing()
        return str(int(value)) if float(value).is_integer() else str(value)
    text = str(value).strip()
    if text.endswith(".0") and text[:-2].isdigit():
        text = text[:-2]
    return text or _Missing()


def _codes_column(
    column: Any, name: str, *, required: bool, row_codes: list[str] | None = None
) -> list[str]:
    raw = [_normalize_code(v) for v in column.tolist()]
    where = (lambda i: f"{row_codes[i]}") if row_codes else (lambda i: f"第 {i + 1} 个要素")
    missing = [where(i) for i, v in enumerate(raw) if isinstance(v, _Missing)]
    if missing and required:
        raise BoundaryFileError(
            f"字段 {name!r} 有 {len(missing)} 个空值：{preview(missing)}。每个要素都要有编码。",
            field=name,
            code="missing_code",
        )
    codes = [v for v in raw if isinstance(v, str)]
    bad = [f"{where(i)}={v!r}" for i, v in enumerate(codes) if not v.isascii() or not v.isdigit()]
    if bad:
        raise BoundaryFileError(
            f"字段 {name!r} 中有不是纯数字的编码：{preview(bad)}。编码应为数字串（如 110102003）。",
            field=name,
            code="bad_code",
        )
    return codes


def _check_unique(codes: list[str], name: str) -> None:
    dupes = sorted(code for code, n in Counter(codes).items() if n > 1)
    if dupes:
        raise BoundaryFileError(
            f"字段 {name!r} 中有 {len(dupes)} 个重复编码：{preview(dupes)}。每个编码只能出现一次。",
            field=name,
            code="duplicate_code",
        )


def _names_column(column: Any, codes: list[str]) -> list[str]:
    names = []
    for value, code in zip(column.tolist(), codes, strict=True):
        text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)
        names.append(text.strip() or code)
    return names


def _source_crs(file_crs: CRS | None, override: str | None) -> CRS:
    if override:
        return parse_crs(override)
    if file_crs is None:
        raise BoundaryFileError(
            "文件没有坐标系信息（Shapefile 缺 .prj）。请用 --crs 指明，例如 --crs EPSG:4548 或 --crs cgcs2000。",
            field="crs",
            code="missing_crs",
        )
    return CRS.from_user_input(file_crs)


def _polygonal_geoms(geoms: Any, codes: list[str]) -> np.ndarray:
    arr = np.asarray(geoms, dtype=object)
    empty = [codes[i] for i, g in enumerate(arr) if g is None or shapely.is_empty(g)]
    if empty:
        raise BoundaryFileError(
            f"{len(empty)} 个要素没有几何：{preview(empty)}。", field="geometry", code="missing_geometry"
        )
    types = shapely.get_type_id(arr)
    polygonal = (types == shapely.GeometryType.POLYGON) | (types == shapely.GeometryType.MULTIPOLYGON)
    if not polygonal.all():
        bad = [f"{codes[i]}（{arr[i].geom_type}）" for i in np.flatnonzero(~polygonal)]
        raise BoundaryFileError(
            f"边界必须是面（Polygon/MultiPolygon），这些要素不是：{preview(bad)}。",
            field="geometry",
            code="not_polygon",
        )
    return arr


def _repair(geoms: np.ndarray, codes: list[str]) -> tuple[np.ndarray, list[Repair]]:
    invalid = np.flatnonzero(~shapely.is_valid(geoms))
    repairs: list[Repair] = []
    out = geoms.copy()
    for i in invalid:
        reason = shapely.is_valid_reason(geoms[i])
        fixed = _polygonal_part(shapely.make_valid(geoms[i]))
        if fixed is None:
            raise BoundaryFileError(
                f"要素 {codes[i]} 的几何无效（{reason}），修复后不剩任何面。请在 GIS 软件中修正后再加载。",
                field="geometry",
                code="unrepairable_geometry",
            )
        out[i] = fixed
        repairs.append(Repair(codes[i], reason))
    return out, repairs


def _polygonal_part(geom: shapely.Geometry) -> shapely.Geometry | None:
    parts = [p for p in shapely.get_parts(geom) if p.geom_type in ("Polygon", "MultiPolygon")]
    polys = [q for p in parts for q in shapely.get_parts(p)]
    polys = [p for p in polys if not p.is_empty and p.area > 0]
    return shapely.MultiPolygon(polys) if polys else None


def _to_multipolygons(geoms: np.ndarray) -> np.ndarray:
    out = np.empty(len(geoms), dtype=object)
    for i, g in enumerate(geoms):
        out[i] = g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g])
    return out


def _code_length_warnings(codes: list[str], level: str) -> list[str]:
    expected = CODE_LENGTH[level]
    odd = [c for c in codes if len(c) != expected]
    if not odd:
        return []
    return [f"{len(odd)} 个{LEVEL_NAMES[level]}编码不是标准的 {expected} 位：{preview(odd)}。"]


# ---------------------------------------------------------------------------------------------
# parents


def assign_parents(
    layer: BoundaryLayer, parent: ParentLayer | None, *, metric_crs: str
) -> BoundaryLayer:
    """Give every feature a parent code and check it.

    Parents come from the file's parent field when it had one, else from the parent feature
    with the largest overlap (computed in ``metric_crs``). Refuses parents that are not loaded
    and codes that do not start with their parent's code.
    """
    if layer.level == "district":
        return layer
    parent_level = PARENT_LEVEL[layer.level]
    assert parent_level is not None
    if parent is None or not parent.codes:
        raise BoundaryFileError(
            f"上级层级（{LEVEL_NAMES[parent_level]} {parent_level}）还没有加载。"
            f"请先加载{LEVEL_NAMES[parent_level]}边界，再加载{LEVEL_NAMES[layer.level]}。",
            field="level",
            code="parent_level_missing",
        )
    parent_codes = layer.parent_codes
    if any(p is None for p in parent_codes):
        parent_codes = _parents_by_overlap(layer, parent, metric_crs)
    _check_parent_codes(layer, parent_codes, set(parent.codes))
    return replace(layer, parent_codes=parent_codes)


def _parents_by_overlap(layer: BoundaryLayer, parent: ParentLayer, metric_crs: str) -> list[str | None]:
    children = reproject(layer.geoms, WGS84, metric_crs)
    parents = reproject(parent.geoms, WGS84, metric_crs)
    tree = shapely.STRtree(parents)
    child_idx, parent_idx = tree.query(children, predicate="intersects")
    overlap = shapely.area(shapely.intersection(children[child_idx], parents[parent_idx]))
    best: dict[int, tuple[float, int]] = {}
    for c, p, a in zip(child_idx.tolist(), parent_idx.tolist(), overlap.tolist(), strict=True):
        if a > 0 and (c not in best or a > best[c][0]):
            best[c] = (a, p)
    orphans = [layer.codes[i] for i in range(len(layer)) if i not in best]
    if orphans:
        raise BoundaryFileError(
            f"{len(orphans)} 个{LEVEL_NAMES[layer.level]}不在任何已加载的{LEVEL_NAMES[parent.level]}内："
            f"{preview(orphans)}。请检查坐标系，或用 --parent-field 指定上级编码字段。",
            field="parent_field",
            code="missing_parent",
        )
    return [parent.codes[best[i][1]] for i in range(len(layer))]


def _check_parent_codes(layer: BoundaryLayer, parent_codes: list[str | None], known: set[str]) -> None:
    unknown = sorted({p for p in parent_codes if p is not None and p not in known})
    if unknown:
        raise BoundaryFileError(
            f"{len(unknown)} 个上级编码没有加载：{preview(unknown)}。"
            f"请先加载包含它们的{LEVEL_NAMES[PARENT_LEVEL[layer.level] or 'district']}边界，或改正上级编码。",
            field="parent_field",
            code="unknown_parent",
        )
    mismatched = [
        f"{code}（上级 {p}）"
        for code, p in zip(layer.codes, parent_codes, strict=True)
        if p is not None and not (code.startswith(p) and len(code) > len(p))
    ]
    if mismatched:
        raise BoundaryFileError(
            f"{len(mismatched)} 个编码不以上级编码开头：{preview(mismatched)}。"
            "下级编码必须是上级编码加若干位数字。",
            field="code_field",
            code="code_not_under_parent",
        )


def check_level(level: str) -> str:
    """Validate a level name given by a user and return it."""
    _check_level(level)
    return level
