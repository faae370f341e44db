"""Monthly topics (每月一题): a planner sets one (from the fields, or prefilled from a recurring-problem
candidate of geo.services.hotspots.recurring), changes its goal and tasks or closes it; everyone reads
the topics of their area with the month's figures against the month before; planners export them.
Every change is a topic_event. Services never commit.

Figures come from case_fact (folded first when allowed, as for statistics: geo.services.reports.
may_catch_up) and geo.domain.stats's sums and rates, for the cases geo.domain.topics.case_keys picks.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from geo.domain import stats
from geo.domain import topics as logic
from geo.domain.errors import Conflict, InvalidInput, NotFound
from geo.domain.exports import write_table
from geo.domain.permissions import User, can_plan_topic, can_see_topic, check_can_plan_topic
from geo.services import reports
from geo.services import stats as stats_service
from geo.store import boundaries as boundary_store
from geo.store import reference as reference_store
from geo.store import topics as store

__all__ = ["EXPORT_FORMATS", "TopicChange", "TopicFile", "create", "export", "get_topic", "list_topics", "update"]

EXPORT_FORMATS = ("csv", "xlsx")


@dataclass(frozen=True)
class TopicChange:
    """A planner's change: new goal and/or tasks (None: unchanged), and whether to close the topic."""

    goal: str | None = None
    tasks: str | None = None
    close: bool = False


@dataclass(frozen=True)
class TopicFile:
    name: str
    data: bytes


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


# --- writing ----------------------------------------------------------------------------------------


def _prefill(session: Session, draft: logic.TopicDraft, candidate: Mapping[str, str]) -> logic.TopicDraft:
    """A recurring-problem candidate (grid + category) fills the targets, the category and, when
    left empty, the title ("<grid name> <category name>")."""
    grid, category = str(candidate.get("grid_code") or ""), str(candidate.get("category") or "")
    if not grid or not category:
        raise InvalidInput("from_recurring 需要 grid_code 和 category（见 /api/hotspots/recurring.json）。",
                           field="from_recurring", code="bad_candidate")
    title = draft.title
    if not title.strip():
        grid_name = boundary_store.names_of(session, [grid]).get(grid, grid)
        category_name = reference_store.all_categories(session).get(category, {}).get("name", category)
        title = f"{grid_name}{category_name}"
    return replace(draft, title=title, category=category, targets=(grid,))


def _check_references(session: Session, draft: logic.TopicDraft) -> None:
    """The category, target boundaries and departments a draft names exist."""
    if not store.category_known(session, draft.category):
        raise InvalidInput(f"问题分类 {draft.category} 不存在（见 /api/categories）。", field="category",
                           code="unknown_category")
    known = boundary_store.names_of(session, list(draft.targets))
    missing = [t for t in draft.targets if t not in known]
    if missing:
        raise InvalidInput(f"目标区划 {', '.join(missing)} 不是当前边界的编码（区、街道、社区或网格）。",
                           field="targets", code="unknown_boundary")
    departments = reference_store.department_codes(session)
    if draft.lead_department not in departments:
        raise InvalidInput(f"牵头部门 {draft.lead_department} 不存在（见 /api/departments）。", field="lead_department",
                           code="unknown_department")
    unknown = [c for c in draft.co_departments if c not in departments]
    if unknown:
        raise InvalidInput(f"协办部门 {', '.join(unknown)} 不存在（见 /api/departments）。", field="co_departments",
                           code="unknown_department")


def _event(session: Session, user: User, topic_id: int, action: str, details: dict[str, Any], now: datetime) -> None:
    store.insert_event(session, topic_id, user_id=user.id, name=user.username, role=user.role, action=action,
                       details=details, at=now)


def create(session: Session, user: User, draft: logic.TopicDraft, *, from_recurring: Mapping[str, str] | None = None,
           reading: reports.Reading | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Set a topic (planners and admins, targets within their scope); returns it with its figures."""
    now = _now(now)
    check_can_plan_topic(user, ())  # the role, before anything is looked up
    if from_recurring is not None:
        draft = _prefill(session, draft, from_recurring)
    if not draft.month.strip():
        draft = replace(draft, month=logic.month_of(now))  # this month by default
    draft = logic.check_draft(draft)
    check_can_plan_topic(user, draft.targets)
    _check_references(session, draft)
    topic_id = store.insert(session, draft, created_by=user.id, now=now)
    details: dict[str, Any] = asdict(draft)
    if from_recurring is not None:
        details["from_recurring"] = dict(from_recurring)
    _event(session, user, topic_id, "created", details, now)
    return get_topic(session, user, topic_id, reading=reading, now=now)


def _visible(session: Session, user: User, topic_id: int, *, lock: bool = False) -> dict[str, Any]:
    topic = store.get(session, topic_id, lock=lock)
    if topic is None or not can_see_topic(user, topic):
        raise NotFound(f"每月一题 {topic_id} 不存在。", field="id", code="not_found")
    return topic


def update(session: Session, user: User, topic_id: int, change: TopicChange, *, reading: reports.Reading | None = None,
           now: datetime | None = None) -> dict[str, Any]:
    """Change the goal and tasks, or close the topic (planners and admins whose scope holds its targets)."""
    now = _now(now)
    topic = _visible(session, user, topic_id, lock=True)
    check_can_plan_topic(user, topic["targets"])
    if topic["status"] != "active":
        raise Conflict(f"每月一题 {topic_id} 已结束，不能再修改。", field="id", code="closed")
    edits = {name: value.strip() for name, value in (("goal", change.goal), ("tasks", change.tasks))
             if value is not None and value.strip() != topic[name]}
    if not edits and not change.close:
        raise InvalidInput("没有要修改的内容：请填写新的 goal、tasks，或 close: true。", field="goal", code="no_change")
    logic.check_draft(logic.TopicDraft(topic["title"], topic["category_code"], tuple(topic["targets"]),
                                       topic["month"], topic["lead_department"], goal=edits.get("goal", ""),
                                       tasks=edits.get("tasks", "")))  # the length limits
    if edits:
        store.update(session, topic_id, edits, now=now)
        _event(session, user, topic_id, "updated",
               {name: {"from": topic[name], "to": value} for name, value in edits.items()}, now)
    if change.close:
        store.close(session, topic_id, status="closed", now=now)
        _event(session, user, topic_id, "closed", {}, now)
    return get_topic(session, user, topic_id, reading=reading, now=now)


# --- reading ----------------------------------------------------------------------------------------


def _with_figures(session: Session, user: User, topics: list[dict[str, Any]], reading: reports.Reading | None,
                  now: datetime, month: str | None = None) -> list[dict[str, Any]]:
    """Each topic with ``figures`` (its month, or ``month``, against the month before) and ``may_edit``."""
    if not topics:
        return []
    if reports.may_catch_up(session, reading or reports.Reading()):
        stats_service.refresh_facts(session)
    bounds = {t["id"]: logic.month_bounds(month or t["month"]) for t in topics}
    arrays, grid_codes = store.case_records(session, start=min(b[0] for b in bounds.values()),
                                            end=max(b[2] for b in bounds.values()))
    out = []
    for topic in topics:
        before, start, end = bounds[topic["id"]]
        keys = logic.case_keys(arrays, grid_codes, category=topic["category_code"], targets=topic["targets"],
                               month_start=start)
        mine = keys >= 0
        picked = {name: values[mine] for name, values in arrays.items()} | {"key": keys[mine]}
        sums = stats.sums_from_records(picked, "key", start=before, end=end, as_of=now, categories=[])
        out.append({**topic, "status_name": logic.STATUSES.get(topic["status"], topic["status"]),
                    "may_edit": topic["status"] == "active" and can_plan_topic(user, topic["targets"]),
                    "figures": logic.figures(sums, month or topic["month"])})
    return out


def list_topics(session: Session, user: User, *, month: str | None = None, reading: reports.Reading | None = None,
                now: datetime | None = None) -> list[dict[str, Any]]:
    """The topics a user may see (of ``month`` when given), newest month first, with their figures."""
    if month is not None:
        logic.previous_month(month)  # checks the format
    topics = [t for t in store.all_topics(session, month=month) if can_see_topic(user, t)]
    return _with_figures(session, user, topics, reading, _now(now))


def get_topic(session: Session, user: User, topic_id: int, *, month: str | None = None,
              reading: reports.Reading | None = None, now: datetime | None = None) -> dict[str, Any]:
    """One topic with its figures (its own month, or ``month``, against the month before), the names
    of its targets and its events."""
    if month is not None:
        logic.previous_month(month)
    topic = _visible(session, user, topic_id)
    names = boundary_store.names_of(session, list(topic["targets"]))
    shown = _with_figures(session, user, [topic], reading, _now(now), month)[0]
    return {**shown, "target_names": {t: names.get(t, t) for t in topic["targets"]},
            "events": store.events_of(session, topic_id)}


def export(session: Session, user: User, fmt: str, *, topic_id: int | None = None, month: str | None = None,
           reading: reports.Reading | None = None, now: datetime | None = None) -> TopicFile:
    """The topics a user may see (or one of them) with their figures, as CSV (UTF-8 with BOM, Chinese
    headers) or XLSX (Chinese headers, codes as text, rates as percentages)."""
    if fmt not in EXPORT_FORMATS:
        raise NotFound(f"没有 .{fmt} 导出：可选 {', '.join(EXPORT_FORMATS)}。", field="format", code="not_found")
    if topic_id is None:
        topics = list_topics(session, user, month=month, reading=reading, now=now)
        name = f"gridmap-topics-{month or 'all'}.{fmt}"
    else:
        topics = [get_topic(session, user, topic_id, month=month, reading=reading, now=now)]
        name = f"gridmap-topic-{topic_id}.{fmt}"
    frame = logic.export_frame(topics)
    with tempfile.TemporaryDirectory(prefix="gridmap-topics-") as folder:
        path = Path(folder) / name
        if fmt == "csv":
            write_table(frame.rename(columns=logic.EXPORT_COLUMNS), path, fmt)
        else:
            write_table(frame, path, fmt, headers=logic.EXPORT_COLUMNS, text=logic.TEXT_COLUMNS,
                        percent=logic.PERCENT_COLUMNS, layer="topics")
        return TopicFile(name, path.read_bytes())
