"""The case lifecycle (DOMAIN.md): which action moves a case from which states to which, and who may.

States: received → dispatched → signed → responded → in_progress → resolved → checked → closed,
plus returned (退回, reason required), suspended (挂账, reason required) and void (不予立案,
reason required). Every transition is checked here; storage then applies it atomically (compare
and set on the status), so two people acting at once get one success and one 409.

>>> plan("dispatch", "received", Actor("street_leader")).to_status
'dispatched'
>>> plan("sign", "received", Actor("department_staff"))
Traceback (most recent call last):
...
geo.domain.errors.Conflict: 案件状态为「已受理」，不能「签收」（需要状态：已派遣）。
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from geo.domain.errors import Conflict, Forbidden, InvalidInput
from geo.domain.statuses import OPEN, STATES

__all__ = ["ACTIONS", "LEAD_HANDLING", "OPEN_STATES", "ROLES", "ROLE_NAMES", "STATES", "STAYING", "Action", "Actor",
           "Plan", "check_round", "plan"]

#: The status vocabulary lives in geo.domain.statuses; re-exported here for the state table's readers.
OPEN_STATES = OPEN
ROLES = ("grid_worker", "community_leader", "street_leader", "hotline", "department_staff", "planner", "admin")
ROLE_NAMES = {"grid_worker": "网格员", "community_leader": "社区负责人", "street_leader": "街道负责人",
              "hotline": "12345 接诉中心", "department_staff": "部门人员", "planner": "规划/分析人员",
              "admin": "管理员"}


@dataclass(frozen=True)
class Action:
    name: str
    label: str
    from_states: tuple[str, ...]
    to_status: str | None  # None: the status stays (callback)
    roles: tuple[str, ...]
    reason_required: bool = False  # the note is required (a reason, a result, a text)
    lead_only: bool = False  # the lead department (or, for a street-fallback case, the street) only
    own_grid: bool = False  # grid workers only in the case's grid
    #: What the required note is called in messages (a reason, a result, a text).
    note_label: str = "原因"


#: Lead-department steps: the lead department's staff; for a street-fallback case (属地兜底, no lead
#: department) the street's own leader or unit (geo.domain.permissions.is_lead decides).
_LEAD = ("department_staff", "street_leader")
_CHECKERS = ("grid_worker", "community_leader", "street_leader")
#: Working the case: every role that works cases (planners read, admins manage reference data).
_WORKERS = ("grid_worker", "community_leader", "street_leader", "hotline", "department_staff")
#: Still being handled: a department may ask for more time (延期) here.
_HANDLING = ("dispatched", "signed", "responded", "in_progress", "suspended")
ACTIONS = {a.name: a for a in (
    Action("dispatch", "派遣", ("received", "returned"), "dispatched", ("street_leader", "hotline")),
    Action("void", "不予立案", ("received",), "void", ("street_leader",), reason_required=True),
    Action("sign", "签收", ("dispatched",), "signed", _LEAD, lead_only=True),
    Action("return", "退回", ("dispatched", "signed"), "returned", _LEAD, reason_required=True, lead_only=True),
    Action("respond", "联系诉求人", ("signed",), "responded", _LEAD, lead_only=True),
    Action("start", "开始处置", ("signed", "responded", "suspended"), "in_progress", _LEAD, lead_only=True),
    Action("suspend", "挂账", ("in_progress",), "suspended", _LEAD, reason_required=True, lead_only=True),
    Action("resolve", "办结", ("in_progress",), "resolved", _LEAD, reason_required=True, lead_only=True,
           note_label="办结结果"),
    Action("extend", "申请延期", _HANDLING, None, _LEAD, reason_required=True, lead_only=True,
           note_label="延期理由"),
    Action("approve_extension", "批准延期", _HANDLING, None, ("street_leader", "hotline")),
    Action("deny_extension", "驳回延期", _HANDLING, None, ("street_leader", "hotline"), reason_required=True),
    Action("supervise", "督办", OPEN, None, ("hotline",), reason_required=True, note_label="督办意见"),
    Action("note", "备注", tuple(STATES), None, _WORKERS, reason_required=True, note_label="备注内容"),
    Action("check", "核查通过", ("resolved",), "checked", _CHECKERS, own_grid=True),
    Action("reject_check", "核查不通过", ("resolved",), "in_progress", _CHECKERS, reason_required=True, own_grid=True),
    Action("close", "结案", ("checked",), "closed", ("street_leader",)),
    Action("callback", "回访", ("closed",), None, ("hotline",)),
    Action("reopen", "重办", ("closed",), "dispatched", ("hotline", "street_leader"), reason_required=True),
)}
#: Actions that record without moving the case (the status stays).
STAYING = tuple(name for name, a in ACTIONS.items() if a.to_status is None)

#: The statuses in which the lead department handles the case (派遣 … 处置中, 挂账; not yet 办结): those
#: a lead-only action starts from.
LEAD_HANDLING: tuple[str, ...] = tuple(
    s for s in STATES if any(a.lead_only and s in a.from_states for a in ACTIONS.values()))


@dataclass(frozen=True)
class Actor:
    role: str
    scope: str = ""
    department: str | None = None


@dataclass(frozen=True)
class Plan:
    action: Action
    from_status: str
    to_status: str


def plan(action_name: str, status: str, actor: Actor, *, reason: str = "") -> Plan:
    """Check an action against the state table, the actor's role and the reason rule."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise InvalidInput(f"未知操作 {action_name!r}，可选：{', '.join(ACTIONS)}。", field="action", code="bad_action")
    if actor.role not in action.roles:
        allowed = "、".join(ROLE_NAMES[r] for r in action.roles)
        raise Forbidden(f"「{action.label}」只能由{allowed}操作。", field="action", code="forbidden")
    if status not in action.from_states:
        needed = "、".join(STATES[s] for s in action.from_states)
        raise Conflict(f"案件状态为「{STATES.get(status, status)}」，不能「{action.label}」（需要状态：{needed}）。",
                       field="action", code="bad_state")
    if action.reason_required and not reason.strip():
        raise InvalidInput(f"「{action.label}」需要填写{action.note_label}（note）。", field="note",
                           code="reason_required")
    return Plan(action, status, action.to_status or status)


def check_round(action_name: str, case: Mapping[str, Any]) -> None:
    """The rules beyond the state table, from the case's current round: one callback (回访) per
    round; reopen (重办) only after a callback that was unsolved or unsatisfied; one extension
    request (延期) at a time, and a decision only on a pending one."""
    callback = case.get("callback")
    pending = case.get("extension_due") is not None
    if action_name == "callback" and callback is not None:
        raise Conflict("本轮已经回访过；重办后才能再次回访。", field="action", code="callback_done")
    if action_name == "reopen":
        if callback is None:
            raise Conflict("还没有回访结果，不能重办：先由 12345 回访。", field="action", code="no_callback")
        if callback.get("solved") and callback.get("satisfied"):
            raise Conflict("回访结果为已解决且满意，不能重办。", field="action", code="callback_satisfied")
    if action_name == "extend" and pending:
        raise Conflict("已有一个延期申请等待批准。", field="action", code="extension_pending")
    if action_name in ("approve_extension", "deny_extension") and not pending:
        raise Conflict("没有等待批准的延期申请。", field="action", code="no_extension")
