"""Whistle and report (吹哨报到): a street, community or department summons departments to its cases;
they check in on site; the whistler scores them once the work is done.

A street leader whistles for unfinished cases in their street, a community leader for those in their
community, department staff for those their department leads (summoning other departments), naming a
lead department, co-departments and a reason. Each summoned department must check in (报到) within
the arrival limit; a check-in farther than the allowed distance from every case is refused as not on
site. The whistle closes when all its cases are resolved and opens again, as a new round, when one
of them goes back to work (事不完、人不撤: ``follow_case``). After each close the whistler scores every
summoned department once (街道考核部门).

Every step is also a case event on each case of the whistle (whistle, summons with its due time,
check_in, whistle_close, whistle_reopen, whistle_score): the measures read those, not the tables.
The events leave the case's status empty: they do not move the case, and a status copied from a
read could be stale by the time it is written (another person acting on that case meanwhile).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from geo.domain import whistles as rules
from geo.domain.cases import wgs84_position
from geo.domain.errors import Conflict, InvalidInput, NotFound
from geo.domain.permissions import (
    User,
    can_see,
    can_see_whistle,
    check_can_check_in,
    check_can_score,
    check_can_whistle,
    check_summoned,
    check_whistler,
    speaks_for_whistler,
    whistle_reach,
    whistler,
)
from geo.domain.statuses import FINISHED
from geo.store import events as event_store
from geo.store import reference as reference_store
from geo.store import whistles as store

__all__ = ["CASES_MAX", "LIST_STATUSES", "PAGE_MAX", "REASONS", "WhistleSettings", "blow", "follow_case",
           "get_whistle", "list_whistles", "of_case", "report", "score", "to_score"]

REASONS = rules.REASONS
#: What the whistle list can show: open whistles (the default), closed ones, or both.
LIST_STATUSES = ("open", "closed", "all")
#: The most cases one whistle may summon departments to, and the most whistles a list page holds.
CASES_MAX = PAGE_MAX = 100
NOTE_MAX = 2000


@dataclass(frozen=True)
class WhistleSettings:
    arrival_minutes: float = 30.0
    on_site_m: float = 200.0


def _events(session: Session, user: User | None, cases: Iterable[dict[str, Any]], action: str,
            details: dict[str, Any], at: datetime, *, note: str = "", lon: float | None = None,
            lat: float | None = None) -> None:
    """One event on each case of a whistle (each case's own timeline tells the whistle's story)."""
    for case in cases:
        event_store.insert_event(session, case_id=case["id"], actor_user_id=user.id if user else None,
                                 actor_name=user.username if user else "", actor_role=user.role if user else "",
                                 action=action, from_status=None, to_status=None, note=note, lon=lon, lat=lat,
                                 details=details, at=at)


def blow(session: Session, user: User, *, case_nos: list[str], lead: str, co: list[str], reason: str,
         note: str = "", settings: WhistleSettings | None = None, now: datetime | None = None) -> dict[str, Any]:
    settings = settings or WhistleSettings()
    now = now or datetime.now(UTC)
    check_whistler(user)  # before anything is looked up
    if reason not in REASONS:
        raise InvalidInput(f"吹哨事由应为：{'、'.join(REASONS)}。", field="reason", code="bad_reason")
    if not case_nos or len(case_nos) > CASES_MAX:
        raise InvalidInput(f"请选择 1–{CASES_MAX} 个案件（case_ids）。", field="case_ids", code="bad_cases")
    departments = reference_store.department_codes(session)
    co = [c for c in dict.fromkeys(co) if c != lead]
    unknown = [d for d in [lead, *co] if d not in departments]
    if unknown:
        raise InvalidInput(f"部门不存在：{', '.join(unknown)}。", field="lead_department", code="unknown_department")
    cases = [_case(session, user, no) for no in dict.fromkeys(case_nos)]
    check_can_whistle(user, cases)
    check_summoned(user, [lead, *co])
    streets = {c["street_code"] for c in cases}
    if len(streets) != 1:
        raise InvalidInput("一次吹哨的案件必须在同一个街道。", field="case_ids", code="mixed_streets")
    due = now + timedelta(minutes=settings.arrival_minutes)
    by = whistler(user, cases)
    whistle_id = store.insert(session, street_code=streets.pop(), reason=reason, note=note, lead=lead, co=co,
                              created_by=user.id, whistler=by, case_ids=[c["id"] for c in cases], due_at=due, at=now)
    _events(session, user, cases, "whistle",
            {"whistle_id": whistle_id, "lead": lead, "co": co, "reason": reason, "whistler": by}, now, note=note)
    for department in [lead, *co]:
        _events(session, user, cases, "summons",
                {"whistle_id": whistle_id, "department": department, "role": "lead" if department == lead else "co",
                 "due_at": due.isoformat()}, now)
        event_store.insert_outbox(session, "summons", department,
                                  {"whistle": whistle_id, "cases": [c["case_no"] for c in cases],
                                   "reason": reason, "due_at": due.isoformat()})
    return get_whistle(session, user, whistle_id, now=now)


def _case(session: Session, user: User, case_no: str) -> dict[str, Any]:
    case = event_store.case_for_action(session, case_no)
    if case is None or not can_see(user, case):
        raise NotFound(f"案件 {case_no} 不存在。", field="case_ids", code="not_found")
    return case


def _department_name(session: Session, code: str) -> str:
    """A department as people name it (the code when it has no name)."""
    return reference_store.department_names(session).get(code) or code


def report(session: Session, user: User, whistle_id: int, *, lon: float, lat: float, crs: str | None = None,
           settings: WhistleSettings | None = None, now: datetime | None = None) -> dict[str, Any]:
    """A summoned department checks in on site; refused (nothing stored) when too far from every case."""
    settings = settings or WhistleSettings()
    now = now or datetime.now(UTC)
    whistle = store.get(session, whistle_id)
    if whistle is None:
        raise NotFound(f"吹哨 {whistle_id} 不存在。", field="id", code="not_found")
    summoned = {s["department_code"] for s in store.summons_of(session, whistle_id)}
    mine = check_can_check_in(user, summoned)
    if whistle["status"] != "open":
        raise Conflict("吹哨已结束，无需报到。", field="id", code="closed")
    point = wgs84_position(lon, lat, crs)
    distance = store.distance_to_cases(session, whistle_id, *point)
    if distance > settings.on_site_m:
        raise InvalidInput(f"报到位置离案件 {distance:.0f} 米，超过 {settings.on_site_m:.0f} 米，"
                           "不算到场，请到现场后再报到。", field="lon", code="not_on_site")
    recorded = store.record_report(session, whistle_id=whistle_id, department=mine[0], user_id=user.id,
                                   lon=point[0], lat=point[1], distance_m=round(distance, 1), now=now)
    if recorded is None:
        raise Conflict(f"{_department_name(session, mine[0])} 已经报到过了。", field="id", code="already_reported")
    _events(session, user, store.whistle_cases(session, whistle_id), "check_in",
            {"whistle_id": whistle_id, "department": mine[0], "due_at": recorded["due_at"].isoformat(),
             "distance_m": round(distance, 1), "late": recorded["late"]}, now, lon=point[0], lat=point[1])
    return recorded


def follow_case(session: Session, user: User, case_id: int, from_status: str, to_status: str,
                now: datetime) -> list[int]:
    """事不完、人不撤 after a case moved: resolved (or beyond), it may close its whistles; back at work
    (核查不通过 rework, 重办 reopen), it opens them again as a new round and calls the departments
    back. Each close and reopen is an event on every case of the whistle; gives the whistles changed."""
    if to_status in FINISHED:
        changed, action = store.close_finished(session, case_id, now), rules.CLOSE
    elif from_status in FINISHED:
        changed, action = store.reopen_unfinished(session, case_id), rules.REOPEN
    else:
        return []
    for whistle in changed:
        _events(session, user, store.whistle_cases(session, whistle["id"]), action,
                {"whistle_id": whistle["id"], "round": whistle["round"]}, now)
        if action == rules.REOPEN:
            for summons in store.summons_of(session, whistle["id"]):
                event_store.insert_outbox(session, action, summons["department_code"],
                                          {"whistle": whistle["id"], "round": whistle["round"]})
    return [w["id"] for w in changed]


def score(session: Session, user: User, whistle_id: int, *, department: str, scores: dict[str, Any],
          note: str = "", now: datetime | None = None) -> dict[str, Any]:
    """The whistler scores one summoned department (到场, 配合, 效果: 1–5 each) after the whistle
    closed, once per round (409 for a second score in the same round)."""
    now = now or datetime.now(UTC)
    whistle, cases, summons = _visible(session, user, whistle_id)
    check_can_score(user, whistle)
    values = rules.check_score(scores)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"评语最多 {NOTE_MAX} 字。", field="note", code="too_long")
    if whistle["status"] != "closed":
        raise Conflict("吹哨还没有结束（案件尚未全部办结），结束后再评分。", field="id", code="whistle_open")
    if department not in {s["department_code"] for s in summons}:
        raise InvalidInput(f"{_department_name(session, department)} 没有被这次吹哨召集。", field="department",
                           code="not_summoned")
    recorded = store.insert_score(session, whistle_id=whistle_id, round_=whistle["round"], department=department,
                                  scores=values, note=note, user_id=user.id, at=now)
    if recorded is None:
        raise Conflict(f"本轮吹哨已给 {_department_name(session, department)} 评过分。", field="department",
                       code="already_scored")
    _events(session, user, cases, "whistle_score",
            {"whistle_id": whistle_id, "round": whistle["round"], "department": department, **values,
             "closed_at": whistle["closed_at"].isoformat()}, now, note=note)
    return recorded


def _visible(session: Session, user: User,
             whistle_id: int) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """The whistle, its cases and its summons, if ``user`` may see it (404 otherwise)."""
    whistle = store.get(session, whistle_id)
    cases = store.whistle_cases(session, whistle_id) if whistle else []
    summons = store.summons_of(session, whistle_id) if whistle else []
    if whistle is None or not can_see_whistle(user, whistle, cases, [s["department_code"] for s in summons]):
        raise NotFound(f"吹哨 {whistle_id} 不存在。", field="id", code="not_found")
    return whistle, cases, summons


def get_whistle(session: Session, user: User, whistle_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """The whistle, the cases of it ``user`` may see, the summons with their check-in state, the
    scores, and the events of those cases in time order."""
    whistle, cases, summons = _visible(session, user, whistle_id)
    described = _describe(session, user, [whistle], cases, summons, now or datetime.now(UTC))[0]
    seen = [c for c in cases if can_see(user, c)]
    timeline = sorted((e | {"case": c["case_no"]} for c in seen for e in event_store.events_of(session, c["id"])),
                      key=lambda e: e["id"])  # ids follow the order events were written
    return {**described, "timeline": timeline}


def list_whistles(session: Session, user: User, *, status: str = "open", limit: int = 50, cursor: str | None = None,
                  now: datetime | None = None) -> dict[str, Any]:
    """A page of the whistles ``user`` may see (newest first): each with the cases of it they may see,
    its summons and their check-in state, and what the user may still score; ``next`` is the cursor
    of the following page."""
    if status not in LIST_STATUSES:
        raise InvalidInput(f"status 应为：{'、'.join(LIST_STATUSES)}。", field="status", code="bad_status")
    if not 1 <= limit <= PAGE_MAX:
        raise InvalidInput(f"limit 应在 1–{PAGE_MAX} 之间。", field="limit", code="bad_limit")
    if cursor is not None and not cursor.isdigit():
        raise InvalidInput("分页游标 cursor 无效。", field="cursor", code="bad_cursor")
    area, departments = whistle_reach(user)
    rows = store.list_whistles(session, status=None if status == "all" else status, area=area,
                               departments=departments, limit=limit + 1, before_id=int(cursor) if cursor else None)
    more = len(rows) > limit
    rows = rows[:limit]
    ids = [w["id"] for w in rows]
    described = _describe(session, user, rows, store.whistle_cases(session, ids) if ids else [],
                          store.summons_of(session, ids) if ids else [], now or datetime.now(UTC))
    return {"whistles": described, "next": str(rows[-1]["id"]) if more else None}


def _describe(session: Session, user: User, whistles: list[dict[str, Any]], cases: list[dict[str, Any]],
              summons: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Whistles as the API gives them: the cases the user may see, each summons with its outcome
    (geo.domain.whistles.summons_outcome), the scores, and the departments the user may still score."""
    ids = [w["id"] for w in whistles]
    history = store.whistle_history(session, ids)
    by_whistle: dict[int, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for c in cases:
        if can_see(user, c):
            by_whistle[c["whistle_id"]]["cases"].append({"id": c["case_no"], "status": c["status"],
                                                         "lon": c["lon"], "lat": c["lat"]})
    for s in summons:
        by_whistle[s["whistle_id"]]["summons"].append(s)
    for s in store.scores_of(session, ids) if ids else []:
        by_whistle[s["whistle_id"]]["scores"].append(s)
    names = reference_store.department_names(session)
    out = []
    for w in whistles:
        parts = by_whistle[w["id"]]
        states = []
        for s in parts["summons"]:
            outcome = rules.summons_outcome(s["due_at"], s["reported_at"], history.get(w["id"], []), as_of=now)
            states.append({k: v for k, v in s.items() if k not in ("whistle_id", "report_lon", "report_lat")}
                          | {"department_name": names.get(s["department_code"], s["department_code"]),
                             "state": outcome, "late": outcome in ("late", "missed"),
                             "excused": outcome == "excused"})
        scored = {s["department_code"] for s in parts["scores"] if s["round"] == w["round"]}
        may_score = w["status"] == "closed" and speaks_for_whistler(user, w)
        out.append({**w, "cases": parts["cases"], "summons": states,
                    "scores": [{k: v for k, v in s.items() if k != "whistle_id"} for s in parts["scores"]],
                    "to_score": [s["department_code"] for s in states if s["department_code"] not in scored]
                    if may_score else []})
    return out


def of_case(session: Session, case_id: int, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """The whistles a case is part of (newest first, for its panel), each summons with its
    department's name and its outcome (``state``)."""
    now = now or datetime.now(UTC)
    whistles = store.whistles_of_case(session, case_id)
    history = store.whistle_history(session, [w["id"] for w in whistles])
    names = reference_store.department_names(session) if whistles else {}
    for w in whistles:
        for s in w["summons"]:  # times come back as JSON text from the aggregate
            reported = datetime.fromisoformat(s["reported_at"]) if s["reported_at"] else None
            s["state"] = rules.summons_outcome(datetime.fromisoformat(s["due_at"]), reported,
                                               history.get(w["id"], []), as_of=now)
            s["department_name"] = names.get(s["department_code"], s["department_code"])
    return whistles


def to_score(session: Session, user: User, case_id: int) -> list[dict[str, Any]]:
    """The closed whistles of a case whose summoned departments ``user`` may still score this round
    (the case panel's score forms): whistle_id, round, department, department_name."""
    names: dict[str, str] | None = None
    out: list[dict[str, Any]] = []
    for w in store.whistles_of_case(session, case_id):
        if w["status"] != "closed" or not speaks_for_whistler(user, w):
            continue
        scored = {s["department_code"] for s in store.scores_of(session, w["id"]) if s["round"] == w["round"]}
        names = names if names is not None else reference_store.department_names(session)
        out.extend({"whistle_id": w["id"], "round": w["round"], "department": s["department_code"],
                    "department_name": names.get(s["department_code"], s["department_code"])}
                   for s in w["summons"] if s["department_code"] not in scored)
    return out
