"""Reference data files: categories, departments (and their units' jurisdictions), the duty list.

Each parser takes a table already read (``geo.domain.tables.read_table`` or a GeoDataFrame) and
returns clean rows, or raises ``InvalidInput`` naming the row, the field and the fix.

Duty-list scopes are written as: empty or ``*`` (citywide), a boundary code prefix such as
``110102003`` (that street and below), or ``jurisdiction:CODE`` / ``辖区:CODE`` (inside the
jurisdiction polygons of department CODE or its units).

>>> import pandas as pd
>>> parse_scope("辖区:GA"), parse_scope("110102003"), parse_scope("*")
(('jurisdiction', 'GA'), ('boundary', '110102003'), ('citywide', ''))
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from geo.domain.deadlines import CLOCKS, URGENCIES
from geo.domain.errors import InvalidInput, preview
from geo.domain.routing import DutyRule

__all__ = [
    "CategoryRow",
    "DepartmentRow",
    "parse_calendar",
    "parse_categories",
    "parse_departments",
    "parse_duties",
    "parse_scope",
]

_CO_SPLIT = re.compile(r"[;；,，、|/\s]+")
_DEPARTMENT_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


@dataclass(frozen=True)
class CategoryRow:
    code: str
    name: str
    major_code: str
    major_name: str
    urgency: str
    resolve_limit_hours: float | None
    clock: str


@dataclass(frozen=True)
class DepartmentRow:
    code: str
    name: str
    parent_code: str | None
    jurisdiction: Any = None  # shapely MultiPolygon in WGS84, or None


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _require_columns(frame: pd.DataFrame, needed: tuple[str, ...], what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns))
        raise InvalidInput(f"{what}文件缺少列：{', '.join(missing)}。文件中的列有：{have}。",
                           field=missing[0], code="missing_field")


def _hours(value: Any, line: int, field: str) -> float | None:
    text = _text(value)
    if not text:
        return None
    try:
        hours = float(text)
    except ValueError as exc:
        raise InvalidInput(f"第 {line} 行 {field}={text!r} 不是数字（小时）。", field=field, code="bad_number") from exc
    if not math.isfinite(hours) or hours <= 0:
        raise InvalidInput(f"第 {line} 行 {field} 应为正数（小时）。", field=field, code="out_of_range")
    return hours


def parse_categories(frame: pd.DataFrame) -> list[CategoryRow]:
    """Columns: code, name, major_name (major_code derives from code), urgency, resolve_limit_hours, clock."""
    _require_columns(frame, ("code", "name"), "分类")
    rows, problems = [], []
    for i, rec in enumerate(frame.to_dict("records"), start=2):
        code, name = _text(rec.get("code")), _text(rec.get("name"))
        urgency = _text(rec.get("urgency")) or "general"
        clock = _text(rec.get("clock")) or "natural"
        if not re.fullmatch(r"[0-9]{4}", code):
            problems.append(f"第 {i} 行 code={code!r} 应为 4 位数字（2 位大类 + 2 位小类）")
        elif not name:
            problems.append(f"第 {i} 行缺少名称")
        elif urgency not in URGENCIES:
            problems.append(f"第 {i} 行 urgency={urgency!r} 应为 {'/'.join(URGENCIES)}")
        elif clock not in CLOCKS:
            problems.append(f"第 {i} 行 clock={clock!r} 应为 natural 或 working")
        else:
            rows.append(CategoryRow(code, name, code[:2], _text(rec.get("major_name")) or code[:2], urgency,
                                    _hours(rec.get("resolve_limit_hours"), i, "resolve_limit_hours"), clock))
    _refuse(problems, "分类")
    _refuse_duplicates([r.code for r in rows], "分类编码")
    return rows


def parse_departments(frame: pd.DataFrame) -> list[DepartmentRow]:
    """Columns: code, name, parent_code (a unit's department; empty for a department).

    A GeoDataFrame's geometry becomes the jurisdiction (辖区) of each row.
    """
    _require_columns(frame, ("code", "name"), "部门")
    geoms = list(frame.geometry.values) if hasattr(frame, "geometry") and "geometry" in frame.columns else None
    rows, problems = [], []
    for i, rec in enumerate(frame.drop(columns=["geometry"], errors="ignore").to_dict("records")):
        line = i + 2
        code, name, parent = _text(rec.get("code")), _text(rec.get("name")), _text(rec.get("parent_code")) or None
        if not _DEPARTMENT_CODE.fullmatch(code):
            problems.append(f"第 {line} 行 code={code!r} 应为 1–32 位字母、数字或 _.-")
        elif not name:
            problems.append(f"第 {line} 行缺少名称")
        else:
            geom = geoms[i] if geoms is not None else None
            rows.append(DepartmentRow(code, name, parent, None if geom is None or geom.is_empty else geom))
    _refuse(problems, "部门")
    _refuse_duplicates([r.code for r in rows], "部门编码")
    return rows


def parse_scope(text: str) -> tuple[str, str]:
    """A duty-list scope → (scope_kind, scope)."""
    text = text.strip()
    if text in ("", "*", "全市", "citywide"):
        return ("citywide", "")
    for prefix in ("jurisdiction:", "辖区:", "辖区："):
        if text.startswith(prefix):
            return ("jurisdiction", text[len(prefix):].strip())
    if text.isdigit():
        return ("boundary", text)
    raise InvalidInput(f"范围 {text!r} 无效：写空（全市）、区划编码前缀（如 110102003）或 辖区:部门编码。",
                       field="scope", code="bad_scope")


def parse_duties(frame: pd.DataFrame, *, categories: set[str], departments: set[str]) -> list[DutyRule]:
    """Columns: category, scope, lead, co (separated by ; 、 or ,), resolve_limit_hours."""
    _require_columns(frame, ("category", "lead"), "责任清单")
    rules, problems = [], []
    for line, rec in enumerate(frame.to_dict("records"), start=2):
        category, lead = _text(rec.get("category")), _text(rec.get("lead"))
        co = tuple(c for c in _CO_SPLIT.split(_text(rec.get("co"))) if c)
        try:
            kind, scope = parse_scope(_text(rec.get("scope")))
        except InvalidInput as exc:
            problems.append(f"第 {line} 行：{exc.message}")
            continue
        unknown = [d for d in (lead, *co, *([scope] if kind == "jurisdiction" else [])) if d not in departments]
        if category not in categories:
            problems.append(f"第 {line} 行分类 {category!r} 不存在（先用 gridmap categories load 加载）")
        elif unknown:
            problems.append(f"第 {line} 行部门 {', '.join(unknown)} 不存在（先用 gridmap departments load 加载）")
        else:
            rules.append(DutyRule(category, kind, scope, lead, co,
                                  _hours(rec.get("resolve_limit_hours"), line, "resolve_limit_hours")))
    _refuse(problems, "责任清单")
    _refuse_duplicates([f"{r.category}/{r.label}" for r in rules], "分类+范围")
    return rules


def _refuse(problems: list[str], what: str) -> None:
    if problems:
        raise InvalidInput(f"{what}有 {len(problems)} 处错误：{preview(problems, 5)}。没有加载任何内容。",
                           field="path", code="bad_rows", details=problems)


def _refuse_duplicates(keys: list[str], what: str) -> None:
    seen: set[str] = set()
    dupes = sorted({k for k in keys if k in seen or seen.add(k)})  # type: ignore[func-returns-value]
    if dupes:
        raise InvalidInput(f"{what}重复：{preview(dupes)}。", field="path", code="duplicate_code")


def parse_calendar(frame: pd.DataFrame) -> list[tuple[date, str, str]]:
    """Columns: day (2026-10-01), kind (holiday 节假日 / workday 调休上班), name."""
    _require_columns(frame, ("day", "kind"), "日历")
    kinds = {"holiday": "holiday", "节假日": "holiday", "休": "holiday", "workday": "workday", "调休": "workday",
             "班": "workday"}
    rows, problems = [], []
    for line, rec in enumerate(frame.to_dict("records"), start=2):
        text, kind = _text(rec.get("day")), kinds.get(_text(rec.get("kind")))
        try:
            day = date.fromisoformat(text.replace("/", "-")[:10])
        except ValueError:
            problems.append(f"第 {line} 行日期 {text!r} 无效（如 2026-10-01）")
            continue
        if kind is None:
            problems.append(f"第 {line} 行 kind 应为 holiday 或 workday")
            continue
        rows.append((day, kind, _text(rec.get("name"))))
    _refuse(problems, "日历")
    return rows
