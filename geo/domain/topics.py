"""Monthly topics (每月一题, DOMAIN.md "Monthly topic"): a recurring problem — a category in a set of
boundaries — that a planner sets for one month, with its lead department, goal and tasks; and the
figures that show whether it is getting better: the month's case counts and the three rates
(响应率, 解决率, 满意率) against the month before.

Pure. The rates are geo.domain.stats's (``stats.rates`` over ``stats.sums_from_records``); this
module only says which cases are a topic's: its category (a 4-digit code, or every category of a
2-digit major class) AND a grid code starting with one of its target codes, reported in the month.

>>> month_bounds("2026-03")[0].isoformat()
'2026-02-01T00:00:00+08:00'
>>> previous_month("2026-01")
'2025-12'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo.domain import stats
from geo.domain.errors import InvalidInput

__all__ = [
    "EVENT_ACTIONS",
    "EXPORT_COLUMNS",
    "FIGURES",
    "STATUSES",
    "TopicDraft",
    "case_keys",
    "check_draft",
    "export_frame",
    "figures",
    "month_bounds",
    "month_of",
    "previous_month",
]

#: A topic's statuses with their Chinese names.
STATUSES = {"active": "进行中", "closed": "已结束"}
#: What a topic_event records (append-only), with the Chinese word the page shows.
EVENT_ACTIONS = {"created": "设立", "updated": "修改", "closed": "结束"}
TITLE_MAX = 100
TEXT_MAX = 4000
TARGETS_MAX = 50
#: The fields a planner may change after creating a topic (besides closing it).
EDITABLE = ("goal", "tasks")
#: The figures of one month: counts and the three rates, each beside its numerator and denominator.
FIGURES = ("cases_total", "dispatched", "responded_on_time", "response_rate", "callbacks_answered",
           "callbacks_solved", "resolution_rate", "callbacks_satisfied", "satisfaction_rate", "overdue")
RATE_NAMES = tuple(rate for rate, _, _ in stats.RATES[:3])
_MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")
_CATEGORY = re.compile(r"^[0-9]{2}([0-9]{2})?$")
_BOUNDARY = re.compile(r"^[0-9]{6,32}$")
_FIRST_YEAR = 2000


@dataclass(frozen=True)
class TopicDraft:
    """What a planner writes when setting a topic."""

    title: str
    category: str
    targets: tuple[str, ...]
    month: str
    lead_department: str
    co_departments: tuple[str, ...] = ()
    goal: str = ""
    tasks: str = ""


def _month(month: str) -> tuple[int, int]:
    found = _MONTH.match(month or "")
    if not found or int(found.group(1)) < _FIRST_YEAR:
        raise InvalidInput(f"月份 {month!r} 无效：应为 YYYY-MM，如 2026-03（{_FIRST_YEAR} 年以后）。", field="month",
                           code="bad_month")
    return int(found.group(1)), int(found.group(2))


def check_draft(draft: TopicDraft) -> TopicDraft:
    """The draft tidied (spaces trimmed, repeated targets and departments dropped), or InvalidInput
    naming the field and the fix.

    >>> check_draft(TopicDraft(" 垃圾 ", "01", ("110101", "110101"), "2026-03", "CGW", ("CGW", "GA"))).targets
    ('110101',)
    """
    title = draft.title.strip()
    if not title or len(title) > TITLE_MAX:
        raise InvalidInput(f"请填写题目（1–{TITLE_MAX} 字）。", field="title", code="bad_title")
    if not _CATEGORY.match(draft.category or ""):
        raise InvalidInput(f"问题分类 {draft.category!r} 无效：应为 4 位分类编码或 2 位大类编码。", field="category",
                           code="bad_category")
    targets = tuple(dict.fromkeys(t.strip() for t in draft.targets if t.strip()))
    if not targets or len(targets) > TARGETS_MAX:
        raise InvalidInput(f"请填写 1–{TARGETS_MAX} 个目标区划编码（区、街道、社区或网格）。", field="targets",
                           code="bad_targets")
    bad = [t for t in targets if not _BOUNDARY.match(t)]
    if bad:
        raise InvalidInput(f"目标区划编码 {bad[0]!r} 无效：应为数字编码，如 110101002。", field="targets",
                           code="bad_targets")
    _month(draft.month)
    lead = draft.lead_department.strip()
    if not lead:
        raise InvalidInput("请填写牵头部门（部门编码）。", field="lead_department", code="missing")
    co = tuple(c for c in dict.fromkeys(c.strip() for c in draft.co_departments) if c and c != lead)
    for name, value in (("goal", draft.goal), ("tasks", draft.tasks)):
        if len(value) > TEXT_MAX:
            raise InvalidInput(f"{'目标' if name == 'goal' else '任务'}最多 {TEXT_MAX} 字。", field=name,
                               code="too_long")
    return replace(draft, title=title, targets=targets, lead_department=lead, co_departments=co,
                   goal=draft.goal.strip(), tasks=draft.tasks.strip())


# --- months ---------------------------------------------------------------------------------------


def previous_month(month: str) -> str:
    year, number = _month(month)
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def month_of(moment: datetime, timezone: str = stats.TIMEZONE) -> str:
    """The local month ('YYYY-MM') of an instant."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local.year:04d}-{local.month:02d}"


def _start(month: str, tz: ZoneInfo) -> datetime:
    year, number = _month(month)
    return datetime(year, number, 1, tzinfo=tz)


def month_bounds(month: str, timezone: str = stats.TIMEZONE) -> tuple[datetime, datetime, datetime]:
    """The starts of the month before, of the month, and of the month after (local midnight)."""
    tz = ZoneInfo(timezone)
    year, number = _month(month)
    after = f"{year + 1}-01" if number == 12 else f"{year}-{number + 1:02d}"
    return _start(previous_month(month), tz), _start(month, tz), _start(after, tz)


# --- which cases are a topic's --------------------------------------------------------------------


def _category_match(static: np.ndarray, category: str) -> np.ndarray:
    number = np.asarray(static, dtype="int64") >> stats.CATEGORY_SHIFT  # the 4-digit code as a number
    return number == int(category) if len(category) == 4 else number // 100 == int(category)


def case_keys(records: Mapping[str, np.ndarray], grid_codes: Sequence[str], *, category: str,
              targets: Sequence[str], month_start: datetime) -> np.ndarray:
    """Per case of ``records`` (``static``, ``reported_at`` in epoch seconds, ``grid``: an index into
    ``grid_codes``): 1 when it is the topic's and reported from ``month_start`` on, 0 when it is the
    topic's and reported before, -1 when it is not the topic's. stats.sums_from_records, given the
    two months as its period, sums the 0s as the month before and the 1s as the month.

    >>> recs = {"static": np.array([101 << stats.CATEGORY_SHIFT] * 3), "grid": np.array([0, 1, 1]),
    ...         "reported_at": np.array([1.0, 1.0, 9.0])}
    >>> case_keys(recs, ["110102001001001", "110101002001002"], category="01", targets=["110101"],
    ...           month_start=datetime.fromtimestamp(5, ZoneInfo("UTC"))).tolist()
    [-1, 0, 1]
    """
    prefixes = tuple(targets)
    in_area = np.array([code.startswith(prefixes) for code in grid_codes], dtype=bool)
    grid = np.asarray(records["grid"], dtype="int64")
    mine = _category_match(records["static"], category) & (in_area[grid] if len(in_area) else False)
    with np.errstate(invalid="ignore"):
        this_month = records["reported_at"] >= month_start.timestamp()
    return np.where(mine, np.where(this_month, 1, 0), -1).astype("int64")


def figures(sums: pd.DataFrame, month: str) -> dict[str, Any]:
    """Sums keyed 0 (the month before) and 1 (the month) → {month, previous, change}: each month's
    FIGURES (rates by stats.rates; an empty denominator gives None), and the change of each count
    and rate (None when either side is empty).

    >>> sums = pd.DataFrame({"key": [0, 1], "cases_total": [4, 2], "dispatched": [4, 2],
    ...                      "responded_on_time": [2, 2]})
    >>> figures(sums, "2026-04")["change"]["response_rate"]
    0.5
    """
    frame = pd.DataFrame({"key": [0, 1]}).merge(sums, on="key", how="left") if len(sums) else \
        pd.DataFrame({"key": [0, 1]})
    for column in FIGURES:
        if column not in RATE_NAMES:
            frame[column] = frame[column].fillna(0).astype("int64") if column in frame else 0
    frame = stats.rates(frame)
    previous, current = (_plain(frame.iloc[i]) for i in (0, 1))
    change = {c: (None if current[c] is None or previous[c] is None else _round(current[c] - previous[c]))
              for c in FIGURES}
    return {"month": {"month": month, **current}, "previous": {"month": previous_month(month), **previous},
            "change": change}


def _round(value: float) -> float:
    return round(float(value), 12)  # 0.1 − 0.3 should read −0.2, not −0.19999999999999998


def _plain(row: pd.Series) -> dict[str, Any]:
    return {c: (None if pd.isna(row[c]) else (float(row[c]) if c in RATE_NAMES else int(row[c]))) for c in FIGURES}


# --- the export -------------------------------------------------------------------------------------

#: Export order and Chinese headers: the topic, then the month's figures, the month before's, the change.
EXPORT_COLUMNS: dict[str, str] = {
    "id": "编号", "title": "题目", "month": "月份", "category_code": "问题分类", "targets": "目标区划",
    "lead_department": "牵头部门", "co_departments": "协办部门", "status": "状态", "goal": "目标", "tasks": "任务",
    **{c: f"本月{stats.COLUMNS[c]}" for c in FIGURES},
    **{f"previous_{c}": f"上月{stats.COLUMNS[c]}" for c in FIGURES},
    **{f"change_{c}": f"{stats.COLUMNS[c]}变化" for c in ("cases_total", *RATE_NAMES)},
}
#: Export columns shown as percentages in XLSX.
PERCENT_COLUMNS = tuple(c for c in EXPORT_COLUMNS if c.removeprefix("previous_").removeprefix("change_")
                        in RATE_NAMES)
#: Export columns that are text (codes keep every digit).
TEXT_COLUMNS = ("title", "month", "category_code", "targets", "lead_department", "co_departments", "status", "goal",
                "tasks")


def export_frame(topics: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Topics, each with its ``figures``, → one row per topic in EXPORT_COLUMNS order (codes joined by
    '、', the status in Chinese)."""
    rows = []
    for topic in topics:
        numbers = topic["figures"]
        rows.append({
            "id": topic["id"], "title": topic["title"], "month": topic["month"],
            "category_code": topic["category_code"], "targets": "、".join(topic["targets"]),
            "lead_department": topic["lead_department"], "co_departments": "、".join(topic["co_departments"]),
            "status": STATUSES.get(topic["status"], topic["status"]), "goal": topic["goal"], "tasks": topic["tasks"],
            **{c: numbers["month"][c] for c in FIGURES},
            **{f"previous_{c}": numbers["previous"][c] for c in FIGURES},
            **{f"change_{c}": numbers["change"][c] for c in ("cases_total", *RATE_NAMES)},
        })
    frame = pd.DataFrame(rows, columns=list(EXPORT_COLUMNS))
    for column in PERCENT_COLUMNS:
        frame[column] = frame[column].astype("Float64")  # None → an empty cell, never 0
    return frame
