"""The 12345 centre's callback results imported in bulk (gridmap callbacks import): each row is the
callback (回访) of one closed case, recorded exactly as the hotline role's ``callback`` action
records it — an event and the round's result on the case — at the centre's own 回访时间.

The whole file is one transaction (the edge commits): a file either lands or changes nothing.
Running it again changes nothing: a row whose case already has the same result this round is
skipped; one with a different result is refused (callback_exists), never overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from geo.domain import workflow
from geo.domain.callbacks import REASONS, parse_callbacks
from geo.domain.cases import zone
from geo.domain.errors import Conflict
from geo.domain.exports import inert_text, private_output
from geo.domain.tables import read_table
from geo.store import events as store

__all__ = ["CallbackSummary", "import_callbacks", "write_rejects"]

#: Who the events name: the centre, through its export.
ACTOR = "12345回访导入"


@dataclass
class CallbackSummary:
    read: int = 0
    recorded: int = 0
    skipped: int = 0
    refused: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({"line": [], "reason": []}))

    def line(self) -> str:
        reasons = self.refused["reason"].value_counts()
        detail = "，".join(f"{REASONS[str(r)]} {n}" for r, n in reasons.items()) or "无"
        return (f"读取 {self.read} 行，记录回访 {self.recorded}，已记录跳过 {self.skipped}，"
                f"拒绝 {len(self.refused)}（{detail}）")


def import_callbacks(session: Session, path: str | Path, *, source: str = "12345", encoding: str | None = None,
                     timezone: str = "Asia/Shanghai", now: datetime | None = None) -> CallbackSummary:
    """Record every valid row's callback on its case (found by ``source`` + 工单编号)."""
    raw = read_table(Path(path), encoding=encoding)
    rows, refused = parse_callbacks(raw, tz=zone(timezone), now=now or datetime.now(UTC))
    summary = CallbackSummary(read=len(raw))
    more: list[tuple[int, str]] = []
    for row in rows.to_dict("records"):
        outcome = _record(session, source, row)
        if outcome == "recorded":
            summary.recorded += 1
        elif outcome == "same":
            summary.skipped += 1
        else:
            more.append((row["line"], outcome))
    summary.refused = pd.concat([refused, pd.DataFrame(more, columns=["line", "reason"])], ignore_index=True)
    return summary


def _record(session: Session, source: str, row: dict[Any, Any]) -> str:
    """'recorded', 'same' (already recorded this round) or a refusal reason."""
    case_no = store.case_no_of(session, source, str(row["external_id"]))
    case = store.case_for_action(session, case_no) if case_no else None
    if case is None:
        return "unknown_ticket"
    answers = {k: bool(row[k]) for k in ("contacted", "solved", "satisfied")}
    if case["callback"] is not None:
        return "same" if {k: case["callback"].get(k) for k in answers} == answers else "callback_exists"
    try:
        plan = workflow.plan("callback", case["status"], workflow.Actor("hotline"))
        workflow.check_round("callback", case)
    except Conflict:
        return "not_closed"
    if not store.transition(session, case["id"], status=case["status"], revision=case["revision"],
                            to_status=plan.to_status, updates={"callback": answers}):
        return "callback_exists"  # someone recorded one meanwhile
    store.insert_event(session, case_id=case["id"], actor_user_id=None, actor_name=ACTOR, actor_role="hotline",
                       action="callback", from_status=case["status"], to_status=plan.to_status,
                       details=answers, at=row["called_at"])
    return "recorded"


def write_rejects(path: str | Path, raw_path: str | Path, refused: pd.DataFrame, *, encoding: str | None = None) -> int:
    """Refused rows with their line, reason code, reason and original columns (UTF-8 with BOM)."""
    raw = read_table(Path(raw_path), encoding=encoding)
    refused = refused.sort_values("line").reset_index(drop=True)
    original = raw.iloc[(refused["line"].astype(int) - 2).to_numpy()].reset_index(drop=True)
    table = pd.concat([refused.assign(message=refused["reason"].map(REASONS)), original], axis=1)
    with private_output(path):
        inert_text(table).to_csv(path, index=False, encoding="utf-8-sig")  # no formula runs in Excel
    return len(table)
