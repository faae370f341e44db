"""The candidate of issue 15: the same table written by XlsxWriter in constant-memory mode (one row in
memory at a time, a reference on every row and cell). Kept for bench/xlsx_writers.py, which
measured it ≈ 3× slower than geo/domain/xlsx.py, so it did not replace it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter

__all__ = ["write_xlsx"]

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Number formats: text ("@", codes keep their leading zeros), percent, two decimals, integer.
_FORMATS = {"text": "@", "percent": "0.0%", "decimal": "0.00", "integer": "0"}
_OPTIONS = {"constant_memory": True, "strings_to_numbers": False, "strings_to_formulas": False,
            "strings_to_urls": False, "nan_inf_to_errors": False}


def _kind(name: str, values: pd.Series, text: set[str], percent: set[str]) -> str:
    if name in text or not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
        return "text" if name in text else "general_text"
    if name in percent:
        return "percent"
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "integer"
    return "decimal"


def _cells(values: pd.Series, kind: str) -> list[Any]:
    """The column's values as str or float, None for a missing (or infinite) value."""
    if kind in ("text", "general_text"):
        return [None if v is None or v != v else _ILLEGAL.sub("", str(v)) for v in values.astype(object).tolist()]
    floats = pd.to_numeric(values.astype("Int64") if kind == "integer" else values, errors="coerce")
    return [None if v is None or v != v or math.isinf(v) else float(v)
            for v in floats.astype(object).where(floats.notna(), None).tolist()]


def write_xlsx(frame: pd.DataFrame, path: str | Path, *, headers: Mapping[str, str] | None = None,
               text: Iterable[str] = (), percent: Iterable[str] = (), sheet: str = "Sheet1") -> int:
    """Write ``frame`` as one sheet: a bold header row (``headers`` renames columns), frozen and
    with an auto-filter; ``text`` columns stay text (codes keep leading zeros, never 1.1E+14),
    ``percent`` columns show as 0.0 %, integers as integers. Missing values are empty cells."""
    headers = headers or {}
    text, percent = set(text), set(percent)
    columns = list(frame.columns)
    kinds = [_kind(c, frame[c], text, percent) for c in columns]
    data = [_cells(frame[c], k) for c, k in zip(columns, kinds, strict=True)]
    workbook = xlsxwriter.Workbook(str(path), _OPTIONS)
    try:
        worksheet = workbook.add_worksheet(_ILLEGAL.sub("", sheet)[:31] or "Sheet1")
        header = workbook.add_format({"bold": True})
        formats = {k: workbook.add_format({"num_format": f}) for k, f in _FORMATS.items()}
        writers: list[Callable[..., Any]] = []
        styles = []
        for i, (name, kind) in enumerate(zip(columns, kinds, strict=True)):
            worksheet.set_column(i, i, _width(headers.get(name, name), kind == "text"))
            writers.append(worksheet.write_string if kind in ("text", "general_text") else worksheet.write_number)
            styles.append(formats.get(kind))
        for i, name in enumerate(columns):
            worksheet.write_string(0, i, _ILLEGAL.sub("", str(headers.get(name, name))), header)
        for r, row in enumerate(zip(*data, strict=True), start=1):
            for c, value in enumerate(row):
                if value is not None:
                    writers[c](r, c, value, styles[c])
        worksheet.freeze_panes(1, 0)
        worksheet.autofilter(0, 0, len(frame), max(len(columns) - 1, 0))
    finally:
        workbook.close()
    return len(frame)


def _width(header: str, is_text: bool) -> int:
    wide = sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(header))
    return max(wide + 2, 18 if is_text else 8)
