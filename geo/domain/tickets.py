"""12345 hotline exports: find the columns, validate rows vectorised, say why each refused row failed.

An export is a table (CSV in UTF-8 or GBK, or XLSX) with Chinese column names. Rows are checked
all at once with pandas; each refused row keeps its line number and a reason code:

    missing_id, duplicate, missing_coordinates, non_numeric_coordinates, nan_coordinates,
    out_of_range_coordinates, unknown_category, bad_time, bad_request_type, bad_phone,
    bad_requester_name, bad_email, outside_area (decided later, spatially), address_not_found (rows
    without coordinates whose address column the gazetteer does not know; decided later)

The requester columns (诉求人, 联系电话, 电子邮箱) and the request type (诉求类型) are optional; their
values are checked by the rules of geo.domain.requesters, the same the API applies one case at a time.

>>> cols = resolve_columns(["工单编号", "经度", "纬度", "问题分类", "诉求内容", "受理时间"], {})
>>> cols.id, cols.lon, cols.category, cols.time
('工单编号', '经度', '问题分类', '受理时间')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo.domain import requesters
from geo.domain.cases import DESCRIPTION_MAX, EARLIEST_TIME, EXTERNAL_ID_MAX, FUTURE_TOLERANCE
from geo.domain.errors import InvalidInput

__all__ = ["REASONS", "Columns", "ValidatedRows", "resolve_columns", "validate_rows"]

REASONS = {
    "missing_id": "缺少工单编号",
    "duplicate": "工单编号在文件中重复（保留第一次出现的行）",
    "missing_coordinates": "缺少经纬度",
    "non_numeric_coordinates": "经纬度不是数字",
    "nan_coordinates": "经纬度是 NaN 或无穷大",
    "out_of_range_coordinates": "经纬度超出范围（经度 ±180，纬度 ±90；是否写反？）",
    "unknown_category": "问题分类不存在",
    "bad_time": "时间无法识别、早于 2000 年或在将来",
    "bad_request_type": "诉求类型不是 " + "、".join(requesters.REQUEST_TYPES.values()) + " 之一（或其英文代码）",
    "bad_phone": "联系电话不是有效的大陆号码（11 位手机号或固定电话）",
    "bad_requester_name": f"诉求人姓名太长（最多 {requesters.NAME_MAX} 字）",
    "bad_email": "电子邮箱格式不对",
    "outside_area": "位置不在任何网格内",
    "address_not_found": "没有经纬度，地址在地址库中没有找到（或有多处同样相近）",
    "conflict": "这个来源的工单编号已被另一内容的案件占用（内容不同，未覆盖；请核对是否被冒用）",
}

_CANDIDATES = {
    "id": ("工单编号", "工单号", "案件编号", "编号", "诉求编号", "external_id", "ticket_id", "id"),
    "lon": ("经度", "lon", "lng", "longitude", "x", "坐标x"),
    "lat": ("纬度", "lat", "latitude", "y", "坐标y"),
    "category": ("问题分类", "诉求分类", "分类编码", "分类", "问题类型", "类别", "category"),
    "description": ("诉求内容", "问题描述", "描述", "内容", "来电内容", "description"),
    "time": ("受理时间", "来电时间", "上报时间", "创建时间", "发生时间", "reported_at", "time", "时间"),
    "urgency": ("紧急程度", "urgency"),
    "requester_name": ("诉求人", "诉求人姓名", "来电人", "来电人姓名", "联系人", "requester_name", "requester"),
    "requester_phone": ("联系电话", "诉求人电话", "来电号码", "联系方式", "电话", "手机", "requester_phone", "phone"),
    "requester_email": ("电子邮箱", "邮箱", "requester_email", "email"),
    "request_type": ("诉求类型", "诉求性质", "来电类型", "request_type"),
    "address": ("事发地址", "问题地址", "诉求地址", "详细地址", "地址", "标准地址", "address"),
}
_OPTIONS = {"id": "--id-field", "lon": "--lon-field", "lat": "--lat-field", "category": "--category-field",
            "description": "--description-field", "time": "--time-field", "urgency": "--urgency-field",
            "requester_name": "--requester-name-field", "requester_phone": "--requester-phone-field",
            "requester_email": "--requester-email-field", "request_type": "--request-type-field",
            "address": "--address-field"}
_REQUIRED = ("id", "lon", "lat", "category", "time")
_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d{2}:?\d{2})$")


@dataclass(frozen=True)
class Columns:
    id: str
    lon: str
    lat: str
    category: str
    time: str
    description: str | None
    urgency: str | None
    requester_name: str | None = None
    requester_phone: str | None = None
    requester_email: str | None = None
    request_type: str | None = None
    #: Rows without coordinates are placed by this address in the gazetteer (地址库).
    address: str | None = None


def resolve_columns(columns: list[str], given: dict[str, str | None]) -> Columns:
    """Each role's column: the one named on the command line, else a usual Chinese/English name."""
    folded = {c.casefold(): c for c in columns}
    found: dict[str, str | None] = {}
    for role, candidates in _CANDIDATES.items():
        wanted = given.get(role)
        if wanted:
            if wanted not in columns and wanted.casefold() not in folded:
                raise InvalidInput(f"文件中没有列 {wanted!r}（{_OPTIONS[role]}）。文件中的列有：{', '.join(columns)}。",
                                   field=_OPTIONS[role].lstrip("-").replace("-", "_"), code="missing_field")
            found[role] = wanted if wanted in columns else folded[wanted.casefold()]
            continue
        found[role] = next((folded[c.casefold()] for c in candidates if c.casefold() in folded), None)
        if found[role] is None and role in _REQUIRED:
            raise InvalidInput(f"找不到{_role_name(role)}列，请用 {_OPTIONS[role]} 指定。"
                               f"文件中的列有：{', '.join(columns)}。",
                               field=_OPTIONS[role].lstrip("-").replace("-", "_"), code="missing_field")
    return Columns(**found)  # type: ignore[arg-type]


def _role_name(role: str) -> str:
    return {"id": "工单编号", "lon": "经度", "lat": "纬度", "category": "问题分类", "time": "受理时间"}[role]


@dataclass(frozen=True)
class ValidatedRows:
    """Rows that passed (with parsed values) and rows refused (line, reason)."""

    good: pd.DataFrame  # line, external_id, x, y, category_code, description, urgency, reported_at, requester_*,
    #                     request_type
    refused: pd.DataFrame  # line, reason


def validate_rows(
    frame: pd.DataFrame, cols: Columns, *, categories: dict[str, str], tz: ZoneInfo, now: datetime,
    first_line: int = 2,
) -> ValidatedRows:
    """Check every row at once. ``categories`` maps codes and names to codes."""
    n = len(frame)
    line = np.arange(first_line, first_line + n)
    reason = np.full(n, None, dtype=object)

    def refuse(mask: np.ndarray, why: str) -> None:
        reason[(reason == None) & mask] = why  # noqa: E711 - elementwise on an object array

    ids = frame[cols.id].fillna("").astype(str).str.strip().str.slice(0, EXTERNAL_ID_MAX)
    refuse((ids == "").to_numpy(), "missing_id")
    refuse((ids.duplicated(keep="first") & (ids != "")).to_numpy(), "duplicate")

    x, xr = _coordinate(frame[cols.lon], 180.0)
    y, yr = _coordinate(frame[cols.lat], 90.0)
    address = (frame[cols.address].fillna("").astype(str).str.replace("\x00", "", regex=False).str.strip()
               if cols.address else pd.Series([""] * n, index=frame.index))
    # No coordinates at all but an address: placed later by the gazetteer (or refused as address_not_found).
    by_address = (xr == "missing_coordinates") & (yr == "missing_coordinates") & (address != "").to_numpy()
    for why in ("missing_coordinates", "non_numeric_coordinates", "nan_coordinates", "out_of_range_coordinates"):
        refuse(((xr == why) | (yr == why)) & ~by_address, why)

    raw_cat = frame[cols.category].fillna("").astype(str).str.strip()
    cat = raw_cat.map(categories).astype(object)  # a dict lookup in C, not a Python call per row
    padded = cat.isna() & raw_cat.str.isdigit()  # "101" means 0101
    cat[padded] = raw_cat[padded].str.zfill(4).map(categories)
    refuse(cat.isna().to_numpy(), "unknown_category")

    times = _times(frame[cols.time], tz)
    refuse((times.isna() | (times > pd.Timestamp(now + FUTURE_TOLERANCE))
            | (times < pd.Timestamp(EARLIEST_TIME))).to_numpy(), "bad_time")

    # The optional requester columns, by geo.domain.requesters' rules; a column the file lacks costs nothing.
    requester: dict[str, np.ndarray] = {}
    for column, name, check, why in (
            ("request_type", cols.request_type, requesters.request_type_column, "bad_request_type"),
            ("requester_phone", cols.requester_phone, requesters.phone_column, "bad_phone"),
            ("requester_name", cols.requester_name, requesters.name_column, "bad_requester_name"),
            ("requester_email", cols.requester_email, requesters.email_column, "bad_email")):
        if name is None:
            requester[column] = np.full(n, None, dtype=object)
            continue
        values, bad = check(frame[name])
        refuse(bad.to_numpy(), why)
        requester[column] = values.to_numpy()

    description = (frame[cols.description].fillna("").astype(str).str.replace("\x00", "", regex=False)
                   .str.strip().str.slice(0, DESCRIPTION_MAX) if cols.description else pd.Series([""] * n))
    urgency = frame[cols.urgency].fillna("").astype(str).str.strip() if cols.urgency else pd.Series([""] * n)

    ok = reason == None  # noqa: E711
    good = pd.DataFrame({
        "line": line[ok], "external_id": ids.to_numpy()[ok], "x": x[ok], "y": y[ok],
        "category_code": cat.to_numpy()[ok], "description": description.to_numpy()[ok],
        "urgency": urgency.to_numpy()[ok],
        # the DatetimeArray itself: to_numpy() would make a Timestamp object per row (≈ 1 s per 10⁵)
        "reported_at": times.array[ok.astype(bool)],
        **{column: values[ok] for column, values in requester.items()},
        "address_text": address.to_numpy()[ok], "by_address": by_address[ok],
    })
    refused = pd.DataFrame({"line": line[~ok], "reason": reason[~ok]})
    return ValidatedRows(good, refused)


def _coordinate(column: pd.Series, bound: float) -> tuple[np.ndarray, np.ndarray]:
    text = column.fillna("").astype(str).str.strip()
    values = pd.to_numeric(text.where(text != ""), errors="coerce").to_numpy(dtype=float)
    why = np.full(len(text), None, dtype=object)
    lowered = text.str.lower()
    nan_like = lowered.isin(["nan", "inf", "-inf", "+inf", "infinity", "-infinity"]).to_numpy()
    why[(text == "").to_numpy()] = "missing_coordinates"
    why[(why == None) & nan_like] = "nan_coordinates"  # noqa: E711
    why[(why == None) & np.isnan(values)] = "non_numeric_coordinates"  # noqa: E711
    with np.errstate(invalid="ignore"):
        why[(why == None) & ~np.isfinite(values)] = "nan_coordinates"  # noqa: E711
        why[(why == None) & (np.abs(values) > bound)] = "out_of_range_coordinates"  # noqa: E711
    return values, why


def _times(column: pd.Series, tz: ZoneInfo) -> pd.Series:
    """Parse ISO-like and Chinese date forms; naive times are local to ``tz``; result in UTC."""
    text = (column.fillna("").astype(str).str.strip()
            .str.replace("/", "-", regex=False).str.replace("年", "-", regex=False)
            .str.replace("月", "-", regex=False).str.replace("日", " ", regex=False)
            .str.replace("T", " ", regex=False).str.replace(r"\s+", " ", regex=True).str.strip())
    aware = text.str.contains(_TZ_SUFFIX)
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    if (~aware).any():
        naive = pd.to_datetime(text[~aware], format="ISO8601", errors="coerce")
        out[~aware] = naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], format="ISO8601", errors="coerce", utc=True)
    return out


def category_lookup(categories: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Codes and names (as exports write them) → code."""
    lookup = {code: code for code in categories}
    lookup.update({row["name"]: code for code, row in categories.items()})
    return lookup
