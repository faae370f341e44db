"""Case intake rules: validating what a grid worker, an API client or a hotline export sends.

Pure checks shared by the API, Open311 and bulk import, each refusing with the field named.

>>> check_point(116.39, 39.91)
(116.39, 39.91)
>>> check_point(39.91, 116.39)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
geo.domain.errors.InvalidInput: 纬度 lat=116.39 超出 -90 到 90。经纬度是否写反了？...
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from geo.domain.coordinates import GEOGRAPHIC_CRS, normalize_crs_name, point_to_wgs84
from geo.domain.errors import InvalidInput

__all__ = [
    "CASE_NO_DIGITS",
    "DESCRIPTION_MAX",
    "EXTERNAL_ID_MAX",
    "SOURCE_PATTERN",
    "case_number",
    "case_numbers",
    "check_category_code",
    "check_point",
    "check_text",
    "outside_message",
    "parse_time",
    "wgs84_position",
    "zone",
]

DESCRIPTION_MAX = 4000
EXTERNAL_ID_MAX = 128
SOURCE_PATTERN = re.compile(r"^[a-z0-9_-]{1,32}$")
#: A report may not be dated in the future by more than this (clocks drift).
FUTURE_TOLERANCE = timedelta(minutes=10)
#: The sane window's start (DOMAIN.md): an earlier time is a typo (1926 for 2026), refused.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
#: Readable case numbers (案件编号) are ``district-YYYYMMDD-sequence``, the sequence counted per
#: district and local day and written with at least this many digits (zero-padded): a busier day
#: gets more digits, never a truncated one, so two sequence numbers never share a case number.
CASE_NO_DIGITS = 6
_SWAP_HINT = "经纬度是否写反了？经度在前（如 116.39），纬度在后（如 39.91）。"


def check_point(lon: Any, lat: Any) -> tuple[float, float]:
    """Finite numbers in range; a swapped pair gets a hint."""
    values = []
    for name, value, bound in (("lon", lon, 180.0), ("lat", lat, 90.0)):
        number = _finite(value, name)
        if abs(number) > bound:
            label = _LABELS[name]
            raise InvalidInput(f"{label} {name}={number:g} 超出 -{bound:g} 到 {bound:g}。{_SWAP_HINT}",
                               field=name, code="out_of_range")
        values.append(number)
    return values[0], values[1]


def wgs84_position(x: Any, y: Any, crs: str | None) -> tuple[float, float]:
    """Any position a person sends (a report, a check-in, an action's place, a nearby search) as
    checked WGS84 lon/lat: finite numbers, in range (with the swapped-pair hint) when the CRS is
    geographic, and a finite point on the globe after conversion — a CRS that gives NaN or a point
    off the globe is refused, never stored.

    >>> wgs84_position(116.39, 39.91, "gcj02")[0] < 116.39
    True
    """
    name = normalize_crs_name(crs)
    if name in GEOGRAPHIC_CRS:
        x, y = check_point(x, y)
    else:
        x, y = _finite(x, "lon"), _finite(y, "lat")
    lon, lat = point_to_wgs84(x, y, name)
    if not (math.isfinite(lon) and math.isfinite(lat) and abs(lon) <= 180 and abs(lat) <= 90):
        raise InvalidInput(f"坐标 ({x:g}, {y:g}) 在坐标系 {name} 中换算不出地球上的位置：请检查坐标和 crs。",
                           field="lon", code="out_of_range")
    return lon, lat


_LABELS = {"lon": "经度", "lat": "纬度"}
#: Coordinate systems as people name them (the code stays in the API's ``crs`` field).
CRS_WORDS = {"wgs84": "GPS（WGS84）", "gcj02": "高德/腾讯（GCJ-02）", "bd09": "百度（BD-09）"}


def outside_message(lon: float, lat: float, crs: str) -> str:
    """Why a point is refused as ``outside_area``, in words a grid worker understands.

    >>> outside_message(100.0, 30.0, "gcj02")[:40]
    '所选位置（经度 100.000000，纬度 30.000000）不在任何网格内：'
    >>> outside_message(100.0, 30.0, "gcj02").endswith("（当前按高德/腾讯（GCJ-02）坐标）。")
    True
    """
    words = CRS_WORDS.get(crs, crs)
    return (f"所选位置（经度 {lon:.6f}，纬度 {lat:.6f}）不在任何网格内：请在本辖区网格范围内选点；"
            f"坐标来自其他地图时请确认坐标系（当前按{words}坐标）。")


def _finite(value: Any, name: str) -> float:
    """A finite number, or a refusal naming the coordinate (经度 lon / 纬度 lat)."""
    label = _LABELS[name]
    if isinstance(value, bool) or value is None:
        code = "missing" if value is None else "bad_number"
        raise InvalidInput(f"{label} {name} 必须是数字。", field=name, code=code)
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{label} {name}={value!r} 不是数字。", field=name, code="bad_number") from exc
    if not math.isfinite(number):
        raise InvalidInput(f"{label} {name} 不能是 NaN 或无穷大。", field=name, code="bad_number")
    return number


def check_category_code(code: Any, *, field: str = "category") -> str:
    text = str(code or "").strip()
    if not re.fullmatch(r"[0-9]{4}", text):
        raise InvalidInput(f"问题分类 {text!r} 应为 4 位数字编码，如 0101（暴露垃圾）。", field=field,
                           code="unknown_category")
    return text


def check_text(value: Any, *, field: str, max_length: int, required: bool = False) -> str:
    text = "" if value is None else str(value)
    text = text.replace("\x00", "").strip()
    if required and not text:
        raise InvalidInput(f"{field} 不能为空。", field=field, code="missing")
    if len(text) > max_length:
        raise InvalidInput(f"{field} 太长：{len(text)} 个字，最多 {max_length}。", field=field, code="too_long")
    return text


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"时区 {name!r} 无效，例如 Asia/Shanghai。", field="GRIDMAP_TIMEZONE",
                           code="bad_setting") from exc


def parse_time(value: Any, tz: ZoneInfo, *, now: datetime | None, field: str = "reported_at") -> datetime:
    """ISO 8601 or the usual Chinese export forms; naive times are in ``tz``; not after ``now``
    (give None for a time that may lie in the future, such as a filter bound).

    >>> from datetime import timezone
    >>> parse_time("2026/11/28 09:30", ZoneInfo("Asia/Shanghai"), now=datetime(2026, 11, 28, 3, tzinfo=timezone.utc))
    datetime.datetime(2026, 11, 28, 9, 30, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))
    """
    if isinstance(value, datetime):
        ts = value
    else:
        text = str(value or "").strip()
        if not text:
            raise InvalidInput("时间为空。", field=field, code="bad_time")
        normalized = re.sub(r"\s+", " ", text.replace("/", "-").replace("年", "-").replace("月", "-")
                            .replace("日", " ").replace("T", " ")).strip()
        if normalized.endswith("Z"):
            normalized = normalized[:-1] + "+00:00"
        try:
            ts = datetime.fromisoformat(normalized)
        except ValueError as exc:
            raise InvalidInput(f"时间 {text!r} 无法识别，请用 2026-11-28 09:30 或 ISO 8601 格式。", field=field,
                               code="bad_time") from exc
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=tz)
    if now is not None and ts > now + FUTURE_TOLERANCE:
        raise InvalidInput(f"时间 {ts.isoformat()} 在将来。", field=field, code="bad_time")
    if now is not None and ts < EARLIEST_TIME:
        raise InvalidInput(f"时间 {ts.isoformat()} 早于 2000 年，是否写错了年份？", field=field, code="bad_time")
    return ts


def case_number(district: str, day: date, sequence: int) -> str:
    """The readable number of the ``sequence``-th case (from 1) of ``district`` on local ``day``.

    >>> case_number("110102", date(2026, 11, 1), 42)
    '110102-20261101-000042'
    >>> case_number("110102", date(2026, 11, 1), 1_000_000)  # wider, never cut to 6 digits
    '110102-20261101-1000000'
    """
    if sequence < 1:
        raise ValueError(f"a case sequence starts at 1, not {sequence}")
    return f"{district}-{day:%Y%m%d}-{sequence:0{CASE_NO_DIGITS}d}"


def case_numbers(district: Any, day: Any, sequence: Any) -> np.ndarray:
    """:func:`case_number` for arrays (bulk import): districts, local days (dates or datetime64)
    and sequences of equal length, without a Python loop per row.

    >>> case_numbers(["110102", "110105"], np.array(["2026-11-01", "2026-11-02"], dtype="datetime64[D]"),
    ...              [7, 1_234_567]).tolist()
    ['110102-20261101-000007', '110105-20261102-1234567']
    """
    seq = np.asarray(sequence, dtype=np.int64)
    if seq.size and seq.min() < 1:
        raise ValueError("a case sequence starts at 1")
    ymd = np.char.replace(np.datetime_as_string(np.asarray(day, dtype="datetime64[D]"), unit="D"), "-", "")
    digits = np.char.zfill(seq.astype(str), CASE_NO_DIGITS)
    parts = np.char.add(np.char.add(np.asarray(district, dtype=str), "-"), ymd)
    return np.char.add(np.char.add(parts, "-"), digits).astype(object)
