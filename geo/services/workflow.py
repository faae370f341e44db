"""Workflow use cases: act on a case (dispatch … reopen), read its events, drain the outbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from geo.domain import permissions, workflow
from geo.domain.cases import wgs84_position
from geo.domain.deadlines import DEFAULT_LIMITS, DEFAULT_TIMEZONE, deadlines
from geo.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.domain.permissions import User
from geo.domain.requesters import Requester
from geo.services import reference as reference_service
from geo.services import whistles as whistle_service
from geo.store import boundaries as boundary_store
from geo.store import events as store
from geo.store import reference as reference_store
from geo.store import whistles as whistle_store

__all__ = ["act", "allowed_actions", "case_events", "case_options"]

NOTE_MAX = 2000
#: The steps the requester (诉求人) is told about (an outbox row each, when a phone or e-mail is known):
#: contact made (联系) and the case resolved (办结).
REQUESTER_NOTICES = ("respond", "resolve")
REQUESTER_NOTICE = "requester_notice"


def _case(session: Session, user: User, case_no: str) -> dict[str, Any]:
    case = store.case_for_action(session, case_no)
    if case is None:
        raise NotFound(f"案件 {case_no} 不存在。", field="id", code="not_found")
    permissions.check_visible(user, case, case_no)
    return case


@dataclass(frozen=True)
class ActionInput:
    """What an action may carry beyond its name: a note (reason, result, text), a position, callback
    answers, departments for a (re)dispatch (改派) and the deadline an extension (延期) asks for."""

    note: str = ""
    lon: float | None = None
    lat: float | None = None
    crs: str | None = None
    callback: dict[str, Any] | None = None
    lead_department: str | None = None
    co_departments: list[str] | None = None
    resolve_due: datetime | None = None


def act(session: Session, user: User, case_no: str, action: str, *, note: str = "",
        lon: float | None = None, lat: float | None = None, crs: str | None = None,
        callback: dict[str, Any] | None = None, lead_department: str | None = None,
        co_departments: list[str] | None = None, resolve_due: datetime | None = None,
        now: datetime | None = None, timezone: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """Apply one action: state table, role, scope, lead department and the round's rules checked;
    the case changes only if nobody changed it since it was read (409 otherwise); one event
    records it; the people concerned get an outbox notice."""
    given = ActionInput(note=(note or "").strip(), lon=lon, lat=lat, crs=crs, callback=callback,
                        lead_department=lead_department, co_departments=co_departments, resolve_due=resolve_due)
    now = now or datetime.now(UTC)
    if len(given.note) > NOTE_MAX:
        raise InvalidInput(f"备注最多 {NOTE_MAX} 字。", field="note", code="too_long")
    case = _case(session, user, case_no)
    plan = workflow.plan(action, case["status"], user.actor, reason=given.note)
    _check_can_act(session, user, plan.action, case)
    workflow.check_round(action, case)
    details, updates = _effects(session, case, action, given, now, timezone)
    position = _position(given.lon, given.lat, given.crs)
    if not store.transition(session, case["id"], status=case["status"], revision=case["revision"],
                            to_status=plan.to_status, updates=updates):
        raise Conflict("案件刚被其他人处理过，请刷新后再操作。", field="action", code="concurrent_change")
    event = store.insert_event(session, case_id=case["id"], actor_user_id=user.id, actor_name=user.username,
                               actor_role=user.role, action=action, from_status=case["status"],
                               to_status=plan.to_status, note=given.note, lon=position[0], lat=position[1],
                               details=details, at=now)
    whistle_service.follow_case(session, user, case["id"], case["status"], plan.to_status, now)
    _notify(session, user, {**case, **updates}, action, given, details)
    if action in REQUESTER_NOTICES:
        _notify_requester(session, case, action)
    return {"case": case_no, "status": plan.to_status, "event": event}


def _effects(session: Session, case: dict[str, Any], action: str, given: ActionInput, now: datetime,
             timezone: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(event details, case column updates) of an action."""
    details: dict[str, Any] = {}
    updates: dict[str, Any] = {}
    if action == "dispatch" and given.lead_department is not None:
        updates |= _departments(session, given.lead_department, given.co_departments or [])
        details |= {"lead": updates["lead_department"], "co": updates["co_departments"],
                    "previous_lead": case["lead_department"]}
    if action in ("dispatch", "reopen"):
        updates |= _clocks(session, case, now, timezone)
    if action == "reopen":
        updates["callback"] = None
    if action == "return":  # back to the dispatcher: a new dispatch clock
        schedule = reference_service.schedule(session, timezone)
        updates["dispatch_due"] = schedule.add(now, DEFAULT_LIMITS["dispatch"][case["urgency"]], "natural")
    if action == "callback":
        details = _callback_details(given.callback)
        updates["callback"] = details
    if action == "extend":
        updates["extension_due"] = _extension_due(given.resolve_due, case, now)
    if action == "approve_extension":
        updates |= {"resolve_due": case["extension_due"], "extension_due": None}
        details["previous_resolve_due"] = case["resolve_due"]
    if action == "deny_extension":
        updates["extension_due"] = None
        details["requested_resolve_due"] = case["extension_due"]
    stamped = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in updates.items()
               if k not in ("callback", "lead_department", "co_departments")}
    return {**details, **stamped}, updates


def _departments(session: Session, lead: str, co: list[str]) -> dict[str, Any]:
    """A (re)dispatch's lead and co-departments (改派): known codes, units allowed, no repeats."""
    known = reference_store.department_codes(session)
    co = [c for c in dict.fromkeys(co) if c != lead]
    unknown = [d for d in [lead, *co] if d not in known]
    if unknown:
        raise InvalidInput(f"部门不存在：{', '.join(unknown)}。请从部门列表中选择。", field="lead_department",
                           code="unknown_department")
    return {"lead_department": lead, "co_departments": co}


def _extension_due(requested: datetime | None, case: dict[str, Any], now: datetime) -> datetime:
    if requested is None:
        raise InvalidInput("申请延期需要填写新的办结时限（resolve_due）。", field="resolve_due", code="missing")
    if requested.tzinfo is None:
        raise InvalidInput("resolve_due 需要带时区，如 2026-12-20T18:00:00+08:00。", field="resolve_due",
                           code="bad_time")
    current = case["resolve_due"]
    if requested <= now or (current is not None and requested <= current):
        raise InvalidInput("新的办结时限必须晚于现在和原办结时限。", field="resolve_due", code="bad_time")
    return requested


def _notify(session: Session, user: User, case: dict[str, Any], action: str, given: ActionInput,
            details: dict[str, Any]) -> None:
    """Outbox notices: the lead hears of dispatches and decisions, the street of extension requests,
    everyone involved of a supervision (督办), the lead of a note by someone else."""
    no, lead, street = case["case_no"], case["lead_department"], case["street_code"]
    if action in ("dispatch", "reopen") and lead:
        store.insert_outbox(session, "dispatch", lead, {"case": no, "action": action,
                                                        "resolve_due": details.get("resolve_due")})
    if action == "extend" and street:
        store.insert_outbox(session, "extension_request", street,
                            {"case": no, "requested_due": details.get("extension_due"), "reason": given.note})
    if action in ("approve_extension", "deny_extension") and lead:
        store.insert_outbox(session, "extension_decision", lead,
                            {"case": no, "approved": action == "approve_extension",
                             "resolve_due": details.get("resolve_due"), "note": given.note})
    if action == "supervise":
        for recipient in dict.fromkeys([lead, *(case["co_departments"] or []), street]):
            if recipient:
                store.insert_outbox(session, "supervision", recipient, {"case": no, "note": given.note})
    if action == "note" and lead and not permissions.is_lead(user, case):
        store.insert_outbox(session, "note", lead, {"case": no, "by": user.username, "note": given.note})


def _notify_requester(session: Session, case: dict[str, Any], action: str) -> None:
    """An outbox row for the requester's phone (else e-mail): the outbox is internal, a delivery
    channel sends it. Nothing when the case has no contact."""
    requester = Requester(phone=case["requester_phone"], email=case["requester_email"])
    if requester.contact is None:
        return
    store.insert_outbox(session, REQUESTER_NOTICE, requester.contact,
                        {"case": case["case_no"], "step": action, "step_name": workflow.ACTIONS[action].label,
                         "channel": "sms" if requester.phone else "email"})


def _callback_details(callback: dict[str, Any] | None) -> dict[str, Any]:
    values = callback or {}
    out = {}
    for key, label in (("contacted", "是否联系上"), ("solved", "是否解决"), ("satisfied", "是否满意")):
        value = values.get(key)
        if not isinstance(value, bool):
            raise InvalidInput(f"回访需要填写{label}（{key}: true/false）。", field=key, code="missing")
        out[key] = value
    return out


def _clocks(session: Session, case: dict[str, Any], now: datetime, timezone: str) -> dict[str, datetime]:
    """Dispatching (and re-dispatching) starts the respond and resolve clocks."""
    category = reference_store.all_categories(session)[case["category_code"]]
    # The duty rule's or the category's own limit was fixed on the case at intake.
    due = deadlines(now, case["urgency"], schedule=reference_service.schedule(session, timezone),
                    clock=category["clock"], resolve_hours=case["resolve_limit_hours"] or None)
    return {"respond_due": due.respond_due, "resolve_due": due.resolve_due}


def _position(lon: float | None, lat: float | None, crs: str | None) -> tuple[float | None, float | None]:
    if lon is None or lat is None:
        return None, None
    return wgs84_position(lon, lat, crs)


def allowed_actions(session: Session, user: User, case_no: str) -> list[dict[str, Any]]:
    """The actions ``user`` may take on the case now (the case panel shows only these)."""
    return _allowed(user, _case(session, user, case_no))


def _check_can_act(session: Session, user: User, action: workflow.Action, case: dict[str, Any]) -> None:
    """The permission check, naming the grid and the user's area when it refuses."""
    try:
        permissions.check_can_act(user, action, case)
    except Forbidden:
        names = boundary_store.names_of(session, [str(case["grid_code"]), user.scope])
        permissions.check_can_act(user, action, case, names)
        raise


def _allowed(user: User, case: dict[str, Any]) -> list[dict[str, Any]]:
    allowed = []
    for action in workflow.ACTIONS.values():
        try:
            workflow.plan(action.name, case["status"], user.actor, reason="-")
            permissions.check_can_act(user, action, case)
            workflow.check_round(action.name, case)
        except (Conflict, Forbidden, InvalidInput):
            continue
        allowed.append({"action": action.name, "label": action.label, "reason_required": action.reason_required,
                        "note_label": action.note_label})
    return allowed


def case_options(session: Session, user: User, case_no: str) -> dict[str, Any]:
    """Everything the case panel may offer this user now: lifecycle actions, whether they may whistle
    or add photos, the open whistles at which one of their departments still has to check in, and the
    summoned departments they may still score at the case's closed whistles."""
    case = _case(session, user, case_no)
    mine = permissions.acting_departments(user)
    check_ins = [
        {"whistle_id": w["id"], "department": s["department_code"], "due_at": s["due_at"]}
        for w in whistle_store.whistles_of_case(session, case["id"]) if w["status"] == "open"
        for s in w["summons"] if s["department_code"] in mine and s["reported_at"] is None
    ] if mine else []
    try:
        permissions.check_can_attach(user, case)
        photo = True
    except Forbidden:
        photo = False
    return {
        "actions": _allowed(user, case),
        "whistle": permissions.can_whistle(user, case),
        "check_ins": check_ins,
        "scores": whistle_service.to_score(session, user, case["id"]),
        "photo": photo,
    }


def case_events(session: Session, user: User, case_no: str) -> list[dict[str, Any]]:
    case = _case(session, user, case_no)
    return store.events_of(session, case["id"])
