"""Workflow use cases: act on a case (dispatch … reopen), read its events, drain the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from geo.domain import permissions, workflow
from geo.domain.coordinates import point_to_wgs84
from geo.domain.deadlines import DEFAULT_TIMEZONE, deadlines
from geo.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.domain.permissions import User
from geo.domain.requesters import Requester
from geo.services import reference as reference_service
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


def act(session: Session, user: User, case_no: str, action: str, *, note: str = "",
        lon: float | None = None, lat: float | None = None, crs: str | None = None,
        callback: dict[str, Any] | None = None, now: datetime | None = None,
        timezone: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """Apply one action: state table, role, scope and lead department checked; the status changes only
    if nobody changed the case since it was read (409 otherwise); one event records it."""
    now = now or datetime.now(UTC)
    note = (note or "").strip()
    if len(note) > NOTE_MAX:
        raise InvalidInput(f"备注最多 {NOTE_MAX} 字。", field="note", code="too_long")
    case = _case(session, user, case_no)
    plan = workflow.plan(action, case["status"], user.actor, reason=note)
    permissions.check_can_act(user, plan.action, case)
    details = _callback_details(callback) if action == "callback" else {}
    updates = _deadline_updates(session, case, action, now, timezone)
    position = _position(lon, lat, crs)
    if not store.transition(session, case["id"], status=case["status"], revision=case["revision"],
                            to_status=plan.to_status, updates=updates):
        raise Conflict("案件刚被其他人处理过，请刷新后再操作。", field="action", code="concurrent_change")
    event = store.insert_event(session, case_id=case["id"], actor_user_id=user.id, actor_name=user.username,
                               actor_role=user.role, action=action, from_status=case["status"],
                               to_status=plan.to_status, note=note, lon=position[0], lat=position[1],
                               details={**details, **{k: v.isoformat() for k, v in updates.items()}}, at=now)
    if plan.to_status in whistle_store.FINISHED:
        whistle_store.close_finished(session, case["id"])
    if action in ("dispatch", "reopen") and case["lead_department"]:
        store.insert_outbox(session, "dispatch", case["lead_department"],
                            {"case": case_no, "action": action, "resolve_due": updates.get("resolve_due")})
    if action in REQUESTER_NOTICES:
        _notify_requester(session, case, action)
    return {"case": case_no, "status": plan.to_status, "event": event}


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


def _deadline_updates(session: Session, case: dict[str, Any], action: str, now: datetime,
                      timezone: str) -> dict[str, datetime]:
    """Dispatching (and re-dispatching) starts the respond and resolve clocks."""
    if action not in ("dispatch", "reopen"):
        return {}
    category = reference_store.all_categories(session)[case["category_code"]]
    # The duty rule's or the category's own limit was fixed on the case at intake.
    due = deadlines(now, case["urgency"], schedule=reference_service.schedule(session, timezone),
                    clock=category["clock"], resolve_hours=case["resolve_limit_hours"] or None)
    return {"respond_due": due.respond_due, "resolve_due": due.resolve_due}


def _position(lon: float | None, lat: float | None, crs: str | None) -> tuple[float | None, float | None]:
    if lon is None or lat is None:
        return None, None
    return point_to_wgs84(lon, lat, crs)


def allowed_actions(session: Session, user: User, case_no: str) -> list[dict[str, Any]]:
    """The actions ``user`` may take on the case now (the case panel shows only these)."""
    return _allowed(user, _case(session, user, case_no))


def _allowed(user: User, case: dict[str, Any]) -> list[dict[str, Any]]:
    allowed = []
    for action in workflow.ACTIONS.values():
        try:
            workflow.plan(action.name, case["status"], user.actor, reason="-")
            permissions.check_can_act(user, action, case)
        except (Conflict, Forbidden, InvalidInput):
            continue
        allowed.append({"action": action.name, "label": action.label, "reason_required": action.reason_required})
    return allowed


def case_options(session: Session, user: User, case_no: str) -> dict[str, Any]:
    """Everything the case panel may offer this user now: lifecycle actions, whether they may whistle
    or add photos, and the open whistles at which one of their departments still has to check in."""
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
        "photo": photo,
    }


def case_events(session: Session, user: User, case_no: str) -> list[dict[str, Any]]:
    case = _case(session, user, case_no)
    return store.events_of(session, case["id"])
