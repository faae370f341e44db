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

from dataclasses import dataclass

from geo.domain.errors import Conflict, Forbidden, InvalidInput
from geo.domain.statuses import OPEN, STATES

__all__ = ["ACTIONS", "LEAD_HANDLING", "OPEN_STATES", "STATES", "Action", "Actor", "Plan", "plan"]

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
    reason_required: bool = False
    lead_only: bool = False  # department staff must be of the lead department
    own_grid: bool = False  # grid workers only in the case's grid


_LEAD = ("department_staff",)
_CHECKERS = ("grid_worker", "community_leader", "street_leader")
ACTIONS = {a.name: a for a in (
    Action("dispatch", "派遣", ("received", "returned"), "dispatched", ("street_leader", "hotline")),
    Action("void", "不予立案", ("received",), "void", ("street_leader",), reason_required=True),
    Action("sign", "签收", ("dispatched",), "signed", _LEAD, lead_only=True),
    Action("return", "退回", ("dispatched", "signed"), "returned", _LEAD, reason_required=True, lead_only=True),
    Action("respond", "联系诉求人", ("signed",), "responded", _LEAD, lead_only=True),
    Action("start", "开始处置", ("signed", "responded", "suspended"), "in_progress", _LEAD, lead_only=True),
    Action("suspend", "挂账", ("in_progress",), "suspended", _LEAD, reason_required=True, lead_only=True),
    Action("resolve", "办结", ("in_progress",), "resolved", _LEAD, lead_only=True),
    Action("check", "核查通过", ("resolved",), "checked", _CHECKERS, own_grid=True),
    Action("reject_check", "核查不通过", ("resolved",), "in_progress", _CHECKERS, reason_required=True, own_grid=True),
    Action("close", "结案", ("checked",), "closed", ("street_leader",)),
    Action("callback", "回访", ("closed",), None, ("street_leader",)),
    Action("reopen", "重办", ("closed",), "dispatched", ("street_leader",), reason_required=True),
)}

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
        raise InvalidInput(f"「{action.label}」需要填写原因（note）。", field="note", code="reason_required")
    return Plan(action, status, action.to_status or status)
