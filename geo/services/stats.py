"""Measures use cases: per-boundary and per-department tables, a monthly trend, fact upkeep.

Date range: ``date_from`` and ``date_to`` are local dates (Asia/Shanghai), both inclusive; either
may be None (unbounded). The range selects

- cases *reported* (``cases.reported_at``, the intake time; for 12345 imports the hotline's
  受理时间) in it: counts by category and status, 响应率, 解决率, 满意率, the medians, overdue
  (as of ``as_of``, default now) and repeat complaints;
- cases whose resolve deadline fell in it, before ``as_of``: 按期办结率;
- summons (召集) whose arrival deadline fell in it: 报到及时率 (as of ``as_of``: a summons not yet
  due and not checked in is not counted yet);
- whistle rounds closed in it: the whistlers' scores of departments (department measures only).

``request_type`` (a code or Chinese name of geo.domain.requesters.REQUEST_TYPES) keeps only the
cases of that request type (诉求类型), and the summons of whistles for them.

Each call first folds new events into case_fact (``geo.store.stats.catch_up``) in the caller's
transaction; the edge should commit afterwards so the next call starts from there. Services never
commit. ``catch_up=False`` skips the fold (a write) for reads on a read-only replica; the facts
are then as current as the last ``gridmap stats refresh`` on the primary.

Rows: every boundary of the level in the current boundary version (zero cases included), or
every department. Ranks are computed among all rows of the level (or all departments) before
``scope`` (a boundary code prefix) keeps the rows a scoped user may see, so a street leader sees
the same rank as a planner.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy.orm import Session

from geo.domain import requesters, stats
from geo.domain.errors import InvalidInput
from geo.store import stats as store
from geo.store import whistles as whistle_store

__all__ = ["boundary_measures", "department_measures", "facts_backlog", "headers", "monthly_trend", "rebuild_facts",
           "refresh_facts"]

_TREND_MAX_MONTHS = 120


def refresh_facts(session: Session) -> int:
    """Fold events written since the last call into case_fact (e.g. from a scheduled command)."""
    return store.catch_up(session)


def facts_backlog(session: Session) -> int:
    """Events written since the facts were last brought up to date (what the next query would fold)."""
    return store.backlog(session)


def rebuild_facts(session: Session) -> int:
    """Recompute case_fact from every case_event (the audit path)."""
    return store.rebuild(session)


def _weights(weights: stats.Weights | Mapping[str, float] | None) -> stats.Weights:
    try:
        return stats.Weights.of(weights)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"权重无效：{exc}。权重为 response、resolution、satisfaction，非负且不全为 0。",
                           field="weights", code="bad_weights") from exc


def _period(date_from: date | None, date_to: date | None) -> tuple[datetime | None, datetime | None]:
    try:
        return stats.period_bounds(date_from, date_to)
    except ValueError as exc:
        raise InvalidInput(f"日期范围无效：结束日期 {date_to} 早于开始日期 {date_from}。", field="to",
                           code="bad_range") from exc


def _key(level: str) -> str:
    if level not in stats.LEVEL_COLUMN:
        raise InvalidInput(f"层级 {level!r} 无效，可选：{', '.join(stats.LEVELS)}。", field="level", code="bad_level")
    return stats.LEVEL_COLUMN[level]


def _assemble(rows: pd.DataFrame, parts: list[pd.DataFrame], categories: dict[str, str],
              weights: stats.Weights, *, departments: bool = False, min_cases: int = 0) -> pd.DataFrame:
    """Rows (code, name, parent_code) + their sums (absent → 0) → rates, score, ranks."""
    frame = rows.copy()
    for part in parts:
        if not part.empty:
            frame = frame.merge(part, on="code", how="left")
    for code in categories:
        column = stats.category_column(code)
        if column not in frame:
            frame[column] = 0
    return stats.finish(frame, weights, min_cases=min_cases, departments=departments)


def boundary_measures(session: Session, level: str, date_from: date | None = None, date_to: date | None = None,
                      scope: str = "", weights: stats.Weights | Mapping[str, float] | None = None, *,
                      as_of: datetime | None = None, catch_up: bool = True, min_cases: int = 0,
                      request_type: str | None = None) -> pd.DataFrame:
    """One row per current boundary of ``level``: code, name, parent_code, cases_total, each rate
    beside its numerator and denominator, score, rank, rank_in_parent, medians, overdue,
    repeat_cases, status_* and category_* counts (geo.domain.stats.COLUMNS order)."""
    key = _key(level)
    frame = _measures(session, store.boundaries(session, level), key, key, date_from, date_to, weights, as_of,
                      catch_up, min_cases=min_cases, request_type=request_type)
    return frame[frame["code"].str.startswith(scope)].reset_index(drop=True) if scope else frame


def department_measures(session: Session, date_from: date | None = None, date_to: date | None = None,
                        weights: stats.Weights | Mapping[str, float] | None = None, *,
                        as_of: datetime | None = None, catch_up: bool = True, min_cases: int = 0,
                        request_type: str | None = None) -> pd.DataFrame:
    """One row per department, measured over the cases it leads, the summons it received and the
    scores the whistlers gave it (geo.domain.stats.DEPARTMENT_COLUMNS). A unit (派出所) is a row of
    its own and its cases also count in its parent department's row (公安分局); parent_code names
    the department a unit belongs to."""
    rows = store.departments(session)
    parents = {c: p for c, p in zip(rows["code"], rows["parent_code"], strict=True) if isinstance(p, str) and p}
    return _measures(session, rows, "lead_department", None, date_from, date_to, weights, as_of, catch_up,
                     departments=rows["code"].tolist(), roll_up=parents, min_cases=min_cases,
                     request_type=request_type)


def _measures(session: Session, rows: pd.DataFrame, key: str, summons_key: str | None, date_from: date | None,
              date_to: date | None, weights: stats.Weights | Mapping[str, float] | None, as_of: datetime | None,
              catch_up: bool, *, departments: list[str] | None = None, roll_up: dict[str, str] | None = None,
              min_cases: int = 0, request_type: str | None = None) -> pd.DataFrame:
    """Rows (code, name, parent_code) with their sums over the period grouped by ``key``."""
    w = _weights(weights)
    start, end = _period(date_from, date_to)
    kind = requesters.check_request_type(request_type)
    as_of = as_of or datetime.now(UTC)
    if catch_up:
        store.catch_up(session)
    categories = store.category_names(session)
    extra: dict[str, Any] = {"departments": departments, "roll_up": roll_up} if departments is not None else {}
    sums = store.measure_sums(session, key, start=start, end=end, as_of=as_of, categories=list(categories),
                              request_type=kind, **extra)
    parts = [sums, _check_ins(session, summons_key, start, end, as_of, kind)]
    if departments is not None:
        scores = whistle_store.score_events(session, start=start, end=end)
        parts.append(stats.score_sums(scores) if not scores.empty else scores)
    return _assemble(rows, parts, categories, w, departments=departments is not None, min_cases=min_cases)


def _check_ins(session: Session, key: str | None, start: datetime | None, end: datetime | None,
               as_of: datetime, request_type: str | None = None) -> pd.DataFrame:
    """报到及时率's sums per code, from the summons, check-in, close and reopen events."""
    summons = whistle_store.summons_events(session, key, start=start, end=end, request_type=request_type)
    if summons.empty:
        return pd.DataFrame(columns=["code", "summons", "checked_in_on_time"])
    history = whistle_store.whistle_history(session, sorted(set(summons["whistle_id"].tolist())))
    return stats.check_in_sums(summons.assign(outcome=stats.summons_outcomes(summons, history, as_of)))


def monthly_trend(session: Session, level: str, code: str | None = None, months: int = 12, *,
                  weights: stats.Weights | Mapping[str, float] | None = None,
                  as_of: datetime | None = None, catch_up: bool = True,
                  request_type: str | None = None) -> pd.DataFrame:
    """The last ``months`` local months up to the one of ``as_of`` (oldest first), for the cases
    reported in boundary ``code`` of ``level`` (all cases when None): month ('YYYY-MM'),
    cases_total, the three rates with their numerators and denominators, and the score."""
    key = _key(level)
    if not 1 <= months <= _TREND_MAX_MONTHS:
        raise InvalidInput(f"月数应在 1–{_TREND_MAX_MONTHS} 之间。", field="months", code="bad_months")
    w = _weights(weights)
    kind = requesters.check_request_type(request_type)
    tz = ZoneInfo(stats.TIMEZONE)
    as_of = as_of or datetime.now(UTC)
    local = as_of.astimezone(tz)
    first = pd.Period(year=local.year, month=local.month, freq="M") - (months - 1)
    labels = [str(first + i) for i in range(months)]
    start = datetime(first.year, first.month, 1, tzinfo=tz)
    last = first + months
    end = datetime(last.year, last.month, 1, tzinfo=tz)
    if catch_up:
        store.catch_up(session)
    sums = store.monthly_sums(session, key, code, start=start, end=end, timezone=stats.TIMEZONE,
                              request_type=kind)
    frame = pd.DataFrame({"month": labels})
    if not sums.empty:
        frame = frame.merge(sums, on="month", how="left")
    columns = ["cases_total", "responded_on_time", "dispatched", "callbacks_answered", "callbacks_solved",
               "callbacks_satisfied"]
    for column in columns:
        frame[column] = frame[column].fillna(0).astype("int64") if column in frame else 0
    frame = stats.rates(frame)
    frame["score"] = stats.score(frame, w)
    return frame.loc[:, ["month", "cases_total", "responded_on_time", "dispatched", "response_rate",
                         "callbacks_answered", "callbacks_solved", "resolution_rate", "callbacks_satisfied",
                         "satisfaction_rate", "score"]]


def headers(session: Session, frame: pd.DataFrame) -> dict[str, str]:
    """Chinese headers for a measures frame (category columns named from the category table)."""
    return stats.headers(list(frame.columns), store.category_names(session))
