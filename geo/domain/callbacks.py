"""The 12345 centre's callback results (回访结果): a table with Chinese headers, one row per ticket,
parsed and checked here; each refused row keeps its line number and a reason code.

Columns: 工单编号 (the ticket, as the case's external id), 是否联系 (contacted), 是否解决 (solved),
是否满意 (satisfied), 回访时间 (when the centre called back). Answers may be 是/否, 1/0, true/false,
yes/no, Y/N, 满意/不满意, 已解决/未解决, 联系上/未联系上.

>>> frame = pd.DataFrame({"工单编号": ["A1", "A2"], "是否联系": ["是", "是"], "是否解决": ["是", "也许"],
...                       "是否满意": ["满意", "否"], "回访时间": ["2026-11-30 10:00", "2026-11-30 11:00"]})
>>> rows, refused = parse_callbacks(frame, tz=ZoneInfo("Asia/Shanghai"), now=datetime(2026, 12, 1, tzinfo=UTC))
>>> rows[["external_id", "contacted", "solved", "satisfied"]].values.tolist()
[['A1', True, True, True]]
>>> refused[["line", "reason"]].values.tolist()
[[3, 'bad_answer']]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from geo.domain.cases import parse_time
from geo.domain.errors import InvalidInput

__all__ = ["ANSWERS", "COLUMNS", "REASONS", "parse_callbacks"]

#: role → the column names a centre's export uses for it.
COLUMNS = {
    "external_id": ("工单编号", "工单号", "编号", "external_id", "ticket_id"),
    "contacted": ("是否联系", "是否联系上", "联系情况", "contacted"),
    "solved": ("是否解决", "解决情况", "solved"),
    "satisfied": ("是否满意", "满意情况", "满意度", "satisfied"),
    "called_at": ("回访时间", "回访日期", "called_at"),
}
ANSWERS = {
    **dict.fromkeys(("是", "1", "true", "yes", "y", "满意", "非常满意", "基本满意", "已解决", "解决", "联系上"),
                    True),
    **dict.fromkeys(("否", "0", "false", "no", "n", "不满意", "未解决", "未联系上", "未联系"), False),
}
REASONS = {
    "missing_id": "缺少工单编号",
    "duplicate": "工单编号在文件中重复（保留第一次出现的行）",
    "bad_answer": "是否联系/解决/满意 无法识别（应为 是/否）",
    "bad_time": "回访时间无法识别、早于 2000 年或在将来",
    "unknown_ticket": "没有这个工单编号的案件",
    "not_closed": "案件还没有结案，不能回访",
    "callback_exists": "本轮已有不同的回访结果",
}


def _columns(frame: pd.DataFrame) -> dict[str, str]:
    folded = {str(c).strip().casefold(): c for c in frame.columns}
    found = {role: next((folded[n.casefold()] for n in names if n.casefold() in folded), None)
             for role, names in COLUMNS.items()}
    missing = [COLUMNS[role][0] for role, column in found.items() if column is None]
    if missing:
        listed = ", ".join(map(str, frame.columns))
        raise InvalidInput(f"回访文件缺少列：{'、'.join(missing)}。文件中的列有：{listed}。", field="path",
                           code="missing_field")
    return found  # type: ignore[return-value]


def _answer(value: Any) -> bool | None:
    return ANSWERS.get(str(value).strip().casefold()) if value is not None else None


def _time(value: Any, tz: ZoneInfo, now: datetime) -> datetime | None:
    try:
        return parse_time(value, tz, now=now, field="called_at")
    except InvalidInput:
        return None


def parse_callbacks(frame: pd.DataFrame, *, tz: ZoneInfo, now: datetime) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows: line, external_id, contacted, solved, satisfied, called_at; refused: line, reason)."""
    columns = _columns(frame)
    out = pd.DataFrame({"line": range(2, len(frame) + 2)})
    out["external_id"] = frame[columns["external_id"]].astype("string").str.strip().to_numpy()
    for role in ("contacted", "solved", "satisfied"):
        out[role] = [_answer(v) for v in frame[columns[role]].to_numpy()]
    out["called_at"] = [_time(v, tz, now) for v in frame[columns["called_at"]].to_numpy()]
    reason = pd.Series(pd.NA, index=out.index, dtype="object")
    # Later lines win: a row is refused for the most basic thing wrong with it.
    reason[out["external_id"].duplicated() & out["external_id"].notna()] = "duplicate"
    reason[out["called_at"].isna()] = "bad_time"
    reason[out[["contacted", "solved", "satisfied"]].isna().any(axis=1)] = "bad_answer"
    reason[out["external_id"].isna() | (out["external_id"] == "")] = "missing_id"
    refused = pd.DataFrame({"line": out["line"][reason.notna()], "reason": reason[reason.notna()]})
    rows = out[reason.isna()].reset_index(drop=True)
    for role in ("contacted", "solved", "satisfied"):
        rows[role] = rows[role].astype(bool)
    return rows, refused.reset_index(drop=True)


_ = UTC  # the doctest's clock
