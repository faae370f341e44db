"""Whistle and report (吹哨报到): a street summons departments to its cases; they check in on site.

A street leader whistles for open cases in their street, naming a lead department, co-departments
and a reason. Each summoned department must check in (报到) within the arrival limit; a check-in
farther than the allowed distance from every case is refused as not on site. The whistle closes
only when all its cases are resolved (事不完、人不撤).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from geo.domain.cases import wgs84_position
from geo.domain.errors import Conflict, InvalidInput, NotFound
from geo.domain.permissions import User, can_see, check_can_check_in, check_can_whistle, check_whistler
from geo.store import events as event_store
from geo.store import reference as reference_store
from geo.store import whistles as store

__all__ = ["REASONS", "WhistleSettings", "blow", "get_whistle", "report"]

REASONS = ("群众诉求", "重点工作", "综合执法", "应急处置")


@dataclass(frozen=True)
class WhistleSettings:
    arrival_minutes: float = 30.0
    on_site_m: float = 200.0


def blow(session: Session, user: User, *, case_nos: list[str], lead: str, co: list[str], reason: str,
         note: str = "", settings: WhistleSettings | None = None, now: datetime | None = None) -> dict[str, Any]:
    settings = settings or WhistleSettings()
    now = now or datetime.now(UTC)
    check_whistler(user)  # before anything is looked up
    if reason not in REASONS:
        raise InvalidInput(f"吹哨事由应为：{'、'.join(REASONS)}。", field="reason", code="bad_reason")
    if not case_nos or len(case_nos) > 100:
        raise InvalidInput("请选择 1–100 个案件（case_ids）。", field="case_ids", code="bad_cases")
    departments = reference_store.department_codes(session)
    co = [c for c in dict.fromkeys(co) if c != lead]
    unknown = [d for d in [lead, *co] if d not in departments]
    if unknown:
        raise InvalidInput(f"部门不存在：{', '.join(unknown)}。", field="lead_department", code="unknown_department")
    cases = [_case(session, user, no) for no in dict.fromkeys(case_nos)]
    check_can_whistle(user, cases)
    streets = {c["street_code"] for c in cases}
    if len(streets) != 1:
        raise InvalidInput("一次吹哨的案件必须在同一个街道。", field="case_ids", code="mixed_streets")
    due = now + timedelta(minutes=settings.arrival_minutes)
    whistle_id = store.insert(session, street_code=streets.pop(), reason=reason, note=note, lead=lead, co=co,
                              created_by=user.id, case_ids=[c["id"] for c in cases], due_at=due)
    for c in cases:
        event_store.insert_event(session, case_id=c["id"], actor_user_id=user.id, actor_name=user.username,
                                 actor_role=user.role, action="whistle", from_status=c["status"],
                                 to_status=c["status"], note=note,
                                 details={"whistle_id": whistle_id, "lead": lead, "co": co, "reason": reason},
                                 at=now)
    for department in [lead, *co]:
        event_store.insert_outbox(session, "summons", department,
                                  {"whistle": whistle_id, "cases": [c["case_no"] for c in cases],
                                   "reason": reason, "due_at": due.isoformat()})
    return get_whistle(session, user, whistle_id)


def _case(session: Session, user: User, case_no: str) -> dict[str, Any]:
    case = event_store.case_for_action(session, case_no)
    if case is None or not can_see(user, case):
        raise NotFound(f"案件 {case_no} 不存在。", field="case_ids", code="not_found")
    return case


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
                           "不算到场（not on site）。"
                           "请到现场后再报到。", field="lon", code="not_on_site")
    recorded = store.record_report(session, whistle_id=whistle_id, department=mine[0], user_id=user.id,
                                   lon=point[0], lat=point[1], distance_m=round(distance, 1), now=now)
    if recorded is None:
        raise Conflict(f"{mine[0]} 已经报到过了。", field="id", code="already_reported")
    for case in store.whistle_cases(session, whistle_id):
        event_store.insert_event(session, case_id=case["id"], actor_user_id=user.id, actor_name=user.username,
                                 actor_role=user.role, action="check_in", from_status=case["status"],
                                 to_status=case["status"], lon=point[0], lat=point[1],
                                 details={"whistle_id": whistle_id, "department": mine[0],
                                          "distance_m": round(distance, 1), "late": recorded["late"]}, at=now)
    return recorded


def get_whistle(session: Session, user: User, whistle_id: int) -> dict[str, Any]:
    """The whistle, its cases, the summons with check-ins, and the cases' events in time order."""
    whistle = store.get(session, whistle_id)
    cases = store.whistle_cases(session, whistle_id) if whistle else []
    summons = store.summons_of(session, whistle_id) if whistle else []
    summoned = {s["department_code"] for s in summons} & (user.departments or {user.department})
    if whistle is None or not (summoned or any(can_see(user, c) for c in cases)):
        raise NotFound(f"吹哨 {whistle_id} 不存在。", field="id", code="not_found")
    timeline = sorted((e | {"case": c["case_no"]} for c in cases for e in event_store.events_of(session, c["id"])),
                      key=lambda e: e["id"])  # ids follow the order events were written
    return {**whistle, "cases": [{"id": c["case_no"], "status": c["status"]} for c in cases],
            "summons": summons, "timeline": timeline}
