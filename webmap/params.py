"""Parse query parameters into typed values, refusing bad ones with the field named."""

from __future__ import annotations

import math

from geo.domain.errors import InvalidInput

__all__ = ["parse_bbox", "parse_float", "parse_int"]


def parse_bbox(text: str | None, *, field: str = "bbox") -> tuple[float, float, float, float] | None:
    """``minlon,minlat,maxlon,maxlat`` in WGS84 → tuple; absent → None.

    >>> parse_bbox("116.3,39.8,116.5,40.0")
    (116.3, 39.8, 116.5, 40.0)
    """
    if text is None or not text.strip():
        return None
    parts = text.split(",")
    fix = "格式为 最小经度,最小纬度,最大经度,最大纬度（WGS84），例如 116.30,39.85,116.45,39.95。"
    if len(parts) != 4:
        raise InvalidInput(f"bbox 需要 4 个数字。{fix}", field=field, code="bad_bbox")
    try:
        x0, y0, x1, y1 = (float(p) for p in parts)
    except ValueError as exc:
        raise InvalidInput(f"bbox 含有非数字。{fix}", field=field, code="bad_bbox") from exc
    values = (x0, y0, x1, y1)
    if not all(math.isfinite(v) for v in values):
        raise InvalidInput(f"bbox 含有非有限数。{fix}", field=field, code="bad_bbox")
    if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
        raise InvalidInput(f"bbox 超出范围或最小值不小于最大值。{fix}", field=field, code="bad_bbox")
    return values


def parse_float(text: str | None, *, field: str, low: float, high: float) -> float | None:
    if text is None or not text.strip():
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise InvalidInput(f"{field} 应为数字。", field=field, code="bad_number") from exc
    if not (math.isfinite(value) and low <= value <= high):
        raise InvalidInput(f"{field} 应在 {low} 到 {high} 之间。", field=field, code="out_of_range")
    return value


def parse_int(text: str | None, *, field: str, low: int, high: int, default: int) -> int:
    if text is None or not text.strip():
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise InvalidInput(f"{field} 应为整数。", field=field, code="bad_number") from exc
    if not low <= value <= high:
        raise InvalidInput(f"{field} 应在 {low} 到 {high} 之间。", field=field, code="out_of_range")
    return value
