"""The address gazetteer (地址库): standard addresses and door plates (门牌) with a position, read from the
files districts hold, and the rule that says when a typed address *is* one of them.

Files: CSV (UTF-8 or GBK) or XLSX with an address column (地址, 标准地址, 门牌 …) and two coordinate
columns (经度/纬度, X/Y, lon/lat), or GeoJSON / GeoPackage / Shapefile with point geometries. Any
intake CRS: wgs84, cgcs2000, gcj02, bd09 or EPSG:n (projected metres included; Chinese survey tables
write X for northing, which is detected and swapped).

Matching: both sides are normalised (``normalize``: full-width to half-width, no spaces or
punctuation, lower case) and compared by their ``match_key`` (without 北京市 / …区 / …街道 in front);
PostGIS ranks candidates by pg_trgm word similarity of the keys and ``choose`` picks one — the exact
key, or the best candidate scoring at least ``MATCH_MIN`` whose door numbers agree with the query's
(a query that names 12号 never lands on 13号; one that names no number never lands on a door plate
that has one).

>>> normalize(" 西城区 新街口街道，西直门内大街１２号 ")
'西城区新街口街道西直门内大街12号'
>>> numbers("西直门内大街12号院3号楼")
('12', '3')
>>> choose("西直门内大街12号", [Candidate(1, "西城区西直门内大街12号", 116.37, 39.94, 0.8),
...                           Candidate(2, "西城区西直门内大街13号", 116.37, 39.94, 0.8)]).id
1
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.domain.boundary_files import read_boundary_file
from geo.domain.coordinates import GEOGRAPHIC_CRS, normalize_crs_name, to_wgs84
from geo.domain.crs import CHINA_BOUNDS, crs_label
from geo.domain.errors import InvalidInput
from geo.domain.tables import TABLE_SUFFIXES, read_table

__all__ = [
    "ADDRESS_COLUMNS",
    "ADDRESS_MAX",
    "MATCH_MIN",
    "SEARCH_MIN",
    "AddressFile",
    "Candidate",
    "choose",
    "match_key",
    "normalize",
    "numbers",
    "read_address_file",
]

#: Usual names of the address column, first match wins (case-insensitive).
ADDRESS_COLUMNS = ("标准地址", "地址", "门牌地址", "门牌", "详细地址", "地址名称", "名称", "address", "addr", "name")
_X_COLUMNS = ("经度", "lon", "lng", "longitude", "x", "x坐标", "坐标x", "东坐标")
_Y_COLUMNS = ("纬度", "lat", "latitude", "y", "y坐标", "坐标y", "北坐标")
#: Longest address kept (characters).
ADDRESS_MAX = 200
#: Lowest pg_trgm word similarity (0–1) at which a typed address is taken as a gazetteer entry
#: when a case is placed by its address (API, import).
MATCH_MIN = 0.6
#: Lowest similarity the map's search box lists (people pick from the list themselves).
SEARCH_MIN = 0.3
#: Two best candidates with the same score further apart than this (m) make an address ambiguous.
AMBIGUOUS_M = 100.0
_SPACE_PUNCT = re.compile(r"[\s,，、。．.;；:：'\"“”‘’()（）\[\]【】<>《》#＃\-—_/\\|·]+")
_DIGITS = re.compile(r"\d+")


def normalize(text: object) -> str:
    """The comparable form of an address: NFKC (full-width digits and letters to half-width), no
    spaces or punctuation, lower case, at most ``ADDRESS_MAX`` characters."""
    value = unicodedata.normalize("NFKC", str(text or "")).replace("\x00", "")
    return _SPACE_PUNCT.sub("", value).lower()[:ADDRESS_MAX]


#: Leading administrative parts an address may or may not carry (北京市, 西城区, 新街口街道 …): the match key
#: drops them, so "西城区新街口街道新街口1胡同12号" and "新街口1胡同12号" are the same key, and a prefix every
#: entry shares does not make every entry look alike to the trigram index.
_ADMIN_PREFIX = re.compile(r"^(?:北京市|北京)?(?:[\u4e00-\u9fff]{1,3}区)?(?:[\u4e00-\u9fff]{1,5}(?:街道|地区|镇|乡))?")


def match_key(text: object) -> str:
    """The part of a normalised address that is compared (the administrative prefix dropped).

    >>> match_key("北京市西城区新街口街道新街口1胡同12号")
    '新街口1胡同12号'
    """
    norm = normalize(text)
    key = _ADMIN_PREFIX.sub("", norm, count=1)
    return key or norm


def numbers(text: str) -> tuple[str, ...]:
    """The digit runs of an address, in order (door, building, unit numbers), without leading zeros."""
    return tuple(n.lstrip("0") or "0" for n in _DIGITS.findall(normalize(text)))


def _numbers_agree(query: tuple[str, ...], candidate: tuple[str, ...]) -> bool:
    """The query's numbers appear in the candidate's, in order; and a candidate with a number needs a
    query with one."""
    if candidate and not query:
        return False
    it = iter(candidate)
    return all(any(n == c for c in it) for n in query)


@dataclass(frozen=True)
class Candidate:
    """A gazetteer entry found for a query, with its similarity (0–1)."""

    id: int
    address: str
    lon: float
    lat: float
    score: float


def _metres(a: Candidate, b: Candidate) -> float:
    dx = (a.lon - b.lon) * 111_320.0 * math.cos(math.radians((a.lat + b.lat) / 2))
    dy = (a.lat - b.lat) * 110_540.0
    return math.hypot(dx, dy)


def choose(query: str, candidates: Sequence[Candidate], *, minimum: float = MATCH_MIN) -> Candidate | None:
    """The entry a typed address means, or None: the exact (normalised) text, else the best candidate
    scoring at least ``minimum`` whose numbers agree with the query's, unless another as good lies
    more than ``AMBIGUOUS_M`` away (then the address is ambiguous: None)."""
    wanted = match_key(query)
    if not wanted:
        return None
    exact = [c for c in candidates if match_key(c.address) == wanted]
    if exact:
        return exact[0]
    digits = numbers(wanted)
    good = sorted((c for c in candidates if c.score >= minimum and _numbers_agree(digits, numbers(c.address))),
                  key=lambda c: -c.score)
    if not good:
        return None
    best = good[0]
    if any(c.score >= best.score - 1e-9 and _metres(best, c) > AMBIGUOUS_M for c in good[1:]):
        return None
    return best


@dataclass(frozen=True)
class AddressFile:
    """What a gazetteer file holds once read: one row per usable address (``address``, ``lon``, ``lat``
    in WGS84, ``orig_x``, ``orig_y``), the source CRS, and the refused rows (line, reason)."""

    rows: pd.DataFrame
    crs: str
    refused: pd.DataFrame
    swapped: bool = False


def _pick(columns: Sequence[str], given: str | None, candidates: Sequence[str], option: str, what: str) -> str:
    folded = {c.casefold(): c for c in columns}
    if given:
        if given in columns:
            return given
        if given.casefold() in folded:
            return folded[given.casefold()]
        raise InvalidInput(f"文件中没有列 {given!r}（{option}）。文件中的列有：{', '.join(columns)}。",
                           field=option.lstrip("-").replace("-", "_"), code="missing_field")
    for name in candidates:
        if name.casefold() in folded:
            return folded[name.casefold()]
    raise InvalidInput(f"找不到{what}列，请用 {option} 指定。文件中的列有：{', '.join(columns)}。",
                       field=option.lstrip("-").replace("-", "_"), code="missing_field")


def read_address_file(path: str | Path, *, crs: str | None = None, encoding: str | None = None,
                      layer: str | None = None, address_field: str | None = None, x_field: str | None = None,
                      y_field: str | None = None) -> AddressFile:
    """Read a gazetteer file into WGS84 rows. Tables take their CRS from ``crs`` (default wgs84);
    spatial files from the file unless ``crs`` overrides it. Rows without an address or a usable
    position are refused with their line and reason; a CRS that puts the data outside China is refused."""
    path = Path(path)
    if path.suffix.lower() in TABLE_SUFFIXES:
        table = read_table(path, encoding=encoding)
        columns = [str(c) for c in table.columns]
        address_col = _pick(columns, address_field, ADDRESS_COLUMNS, "--address-field", "地址")
        x_col = _pick(columns, x_field, _X_COLUMNS, "--x-field", "经度（X）")
        y_col = _pick(columns, y_field, _Y_COLUMNS, "--y-field", "纬度（Y）")
        name = normalize_crs_name(crs)
        x = pd.to_numeric(table[x_col], errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(table[y_col], errors="coerce").to_numpy(dtype=float)
        text = table[address_col]
    else:
        frame = read_boundary_file(path, layer=layer, encoding=encoding)
        columns = [str(c) for c in frame.columns if c != "geometry"]
        address_col = _pick(columns, address_field, ADDRESS_COLUMNS, "--address-field", "地址")
        name = normalize_crs_name(crs) if crs else _file_crs(frame)
        points = _points(frame)
        x, y = shapely.get_x(points), shapely.get_y(points)
        text = frame[address_col]
    return _to_wgs84(text, x, y, name)


def _file_crs(frame: gpd.GeoDataFrame) -> str:
    if frame.crs is None:
        return "wgs84"
    epsg = frame.crs.to_epsg(min_confidence=70)
    if epsg is None:
        raise InvalidInput(f"文件的坐标系 {crs_label(frame.crs)} 没有 EPSG 编号，请用 --crs 指定。", field="crs",
                           code="unknown_crs")
    return normalize_crs_name(f"EPSG:{epsg}")


def _points(frame: gpd.GeoDataFrame) -> np.ndarray:
    """A point per feature: the point itself, else a point on the surface (a building outline)."""
    geoms = np.asarray(frame.geometry.values, dtype=object)
    empty = shapely.is_missing(geoms) | shapely.is_empty(np.where(shapely.is_missing(geoms), shapely.Point(), geoms))
    out = np.full(len(geoms), None, dtype=object)
    ok = ~empty
    out[ok] = shapely.point_on_surface(geoms[ok])
    out[empty] = shapely.Point(np.nan, np.nan)
    return out


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    minx, miny, maxx, maxy = CHINA_BOUNDS
    with np.errstate(invalid="ignore"):
        return np.isfinite(lon) & np.isfinite(lat) & (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)


def _to_wgs84(text: pd.Series, x: np.ndarray, y: np.ndarray, crs: str) -> AddressFile:
    n = len(text)
    line = np.arange(2, n + 2)
    address = text.fillna("").astype(str).str.replace("\x00", "", regex=False).str.strip().str.slice(0, ADDRESS_MAX)
    lon, lat = to_wgs84(x, y, crs)
    swapped = False
    finite = np.isfinite(x) & np.isfinite(y)
    if finite.any() and crs not in GEOGRAPHIC_CRS and not _in_china(lon[finite], lat[finite]).mean() > 0.5:
        # Chinese survey tables write X for the northing: try the other way round.
        lon2, lat2 = to_wgs84(y, x, crs)
        if _in_china(lon2[finite], lat2[finite]).mean() > 0.5:
            lon, lat, x, y, swapped = lon2, lat2, y, x, True
    if finite.any() and not _in_china(lon[finite], lat[finite]).mean() > 0.5:
        raise InvalidInput(f"按坐标系 {crs} 换算后，多数地址不在中国境内，坐标系多半写错了：请用 --crs 指明，"
                           "如 gcj02（高德）、bd09（百度）、EPSG:4548（北京 3° 带平面坐标）。", field="crs",
                           code="crs_mismatch")
    reason = np.full(n, None, dtype=object)
    reason[(address == "").to_numpy()] = "missing_address"
    reason[(reason == None) & ~finite] = "missing_coordinates"  # noqa: E711 - elementwise
    reason[(reason == None) & ~_in_china(lon, lat)] = "outside_china"  # noqa: E711
    ok = reason == None  # noqa: E711
    rows = pd.DataFrame({"line": line[ok], "address": address.to_numpy()[ok], "lon": lon[ok], "lat": lat[ok],
                         "orig_x": x[ok], "orig_y": y[ok]})
    rows["norm"] = rows["address"].map(normalize)
    rows["key"] = rows["address"].map(match_key)
    # The same address twice in a file: the first row wins.
    dup = rows["norm"].duplicated(keep="first").to_numpy()
    refused = pd.concat([pd.DataFrame({"line": line[~ok], "reason": reason[~ok]}),
                         pd.DataFrame({"line": rows["line"].to_numpy()[dup], "reason": "duplicate"})],
                        ignore_index=True)
    return AddressFile(rows[~dup].reset_index(drop=True), crs, refused, swapped)


#: Why a gazetteer row was refused (``gridmap addresses load``).
REASONS = {
    "missing_address": "缺少地址",
    "missing_coordinates": "缺少坐标或坐标不是数字",
    "outside_china": "换算后不在中国境内",
    "duplicate": "地址在文件中重复（保留第一次出现的行）",
}
