"""Who may see and do what, scoped by boundary codes (DOMAIN.md "People and roles").

| role             | sees                                       | may                                            |
|------------------|--------------------------------------------|------------------------------------------------|
| grid_worker      | cases of their community                   | report in their grids; check cases there       |
| community_leader | cases of their community                   | report, check, note, whistle there             |
| street_leader    | everything in their street                 | dispatch, void, check, close, reopen, whistle  |
| hotline          | everything in scope (district or the city) | report, dispatch (改派), callback, reopen       |
| department_staff | cases their department leads, assists or   | sign … resolve (lead department only);         |
|                  | is summoned to by a whistle                | check in when summoned                         |
| planner          | everything in scope (read-only)            | nothing                                        |
| admin            | everything in scope                        | reference data and users, not cases            |

The requester (诉求人: name, phone, e-mail) is personal data: ``sees_requester`` says who gets it
unmasked — the hotline in its scope, and the lead department while it handles the case
(``LEAD_HANDLING``: dispatched … in_progress, suspended). Everyone else who may see the case gets it
masked; exports, statistics, Open311, the map and logs never carry it.

A scope is a boundary code prefix ("" = the whole city). A grid worker's scope is their grid or
community code and a community leader's their community; both see the whole community (its first
12 digits).

>>> worker = User(1, "w", "grid_worker", "110102003001004")
>>> can_see(worker, {"grid_code": "110102003001009", "lead_department": None, "co_departments": []})
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from geo.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.domain.filters import CaseFilters
from geo.domain.statuses import UNFINISHED
from geo.domain.workflow import LEAD_HANDLING, ROLES, Action, Actor

__all__ = [
    "COMMUNITY_CODE_LENGTH",
    "User",
    "acting_departments",
    "can_see",
    "can_whistle",
    "check_account",
    "check_can_act",
    "check_can_attach",
    "check_can_check_in",
    "check_can_read_metrics",
    "check_can_report",
    "check_can_whistle",
    "check_whistler",
    "may_read_area_statistics",
    "scoped_filters",
    "sees_requester",
    "statistics_area",
    "visible_area",
]

COMMUNITY_CODE_LENGTH = 12
#: Roles whose every action is limited to their scope (a boundary code prefix; "" = the city).
AREA_ROLES = ("grid_worker", "community_leader", "street_leader", "hotline")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: str
    scope: str = ""
    department: str | None = None
    display_name: str = ""
    #: The user's department and its units (department staff act for both).
    departments: frozenset[str] = field(default_factory=frozenset)
    #: Session cookies carry it; signing out increments it, so every older cookie stops working.
    session_epoch: int = 0

    @property
    def actor(self) -> Actor:
        return Actor(self.role, self.scope, self.department)


def visible_area(user: User) -> str:
    """The boundary-code prefix of what the user may see ("" = everything in the city)."""
    if user.role in ("grid_worker", "community_leader"):
        return user.scope[:COMMUNITY_CODE_LENGTH]
    return user.scope


def _handles(user: User, case: Mapping[str, Any]) -> bool:
    """Lead, co-department, or summoned to the case by a whistle (to check in on site)."""
    involved = {case.get("lead_department"), *(case.get("co_departments") or []), *(case.get("summoned") or [])}
    return bool(involved & (user.departments or {user.department}))


def can_see(user: User, case: Mapping[str, Any]) -> bool:
    if user.role == "department_staff":
        return _handles(user, case)
    return str(case["grid_code"]).startswith(visible_area(user))


def _leads(user: User, case: Mapping[str, Any]) -> bool:
    return case.get("lead_department") in (user.departments or {user.department})


def sees_requester(user: User | None, case: Mapping[str, Any]) -> bool:
    """Whether ``user`` sees the requester unmasked (None: the system itself, e.g. the outbox).

    >>> staff = User(2, "s", "department_staff", department="CGW", departments=frozenset({"CGW"}))
    >>> case = {"grid_code": "110101002001002", "status": "signed", "lead_department": "CGW"}
    >>> sees_requester(staff, case), sees_requester(staff, {**case, "status": "resolved"})
    (True, False)
    """
    if user is None:
        return True
    if user.role == "hotline":
        return str(case["grid_code"]).startswith(user.scope)
    if user.role == "department_staff":
        return case["status"] in LEAD_HANDLING and _leads(user, case)
    return False


def check_visible(user: User, case: Mapping[str, Any], case_no: str) -> None:
    """Cases outside the user's sight are 'not found' (their existence is not revealed)."""
    if not can_see(user, case):
        raise NotFound(f"案件 {case_no} 不存在。", field="id", code="not_found")


def check_can_act(user: User, action: Action, case: Mapping[str, Any]) -> None:
    """Beyond the role (checked by the workflow): the scope, the lead department, the grid."""
    grid = str(case["grid_code"])
    if user.role in AREA_ROLES and not grid.startswith(user.scope):
        raise Forbidden(f"案件在网格 {grid}，不在您的管辖范围 {user.scope or '（全市）'} 内。", field="id")
    if action.lead_only and not _leads(user, case):
        raise Forbidden("只有主责部门可以推进案件；协办部门可以查看、备注和报到。", field="action")


def check_can_report(user: User, grid_code: str) -> None:
    """Grid workers report in their grids, street leaders in their street; departments anywhere."""
    if user.role in ("planner", "admin"):
        raise Forbidden("规划/分析人员和管理员不能上报案件。", field="role")
    if user.role in AREA_ROLES and not grid_code.startswith(user.scope):
        raise Forbidden(f"位置在网格 {grid_code}，不在您的管辖范围 {user.scope} 内。", field="lon")


def check_can_attach(user: User, case: Mapping[str, Any]) -> None:
    """Photos are added by the people working the case: grid workers and street leaders in whose
    area it lies, and its lead or co-departments (seeing the case is checked before this)."""
    if user.role in ("planner", "admin"):
        raise Forbidden("规划/分析人员和管理员不能给案件添加照片。", field="role")
    grid = str(case["grid_code"])
    if user.role in AREA_ROLES and not grid.startswith(user.scope):
        raise Forbidden(f"案件在网格 {grid}，不在您的管辖范围 {user.scope or '（全市）'} 内。", field="id")


def check_whistler(user: User) -> None:
    """Who may whistle (吹哨) at all: street leaders."""
    if user.role != "street_leader":
        raise Forbidden("只有街道负责人可以吹哨。", field="role")


def check_can_whistle(user: User, cases: Sequence[Mapping[str, Any]]) -> None:
    """A street leader whistles for unfinished cases (UNFINISHED) in their street."""
    check_whistler(user)
    for case in cases:
        if not str(case["grid_code"]).startswith(user.scope):
            raise Forbidden(f"案件 {case['case_no']} 不在您的街道。", field="case_ids")
    finished = [str(c["case_no"]) for c in cases if c["status"] not in UNFINISHED]
    if finished:
        raise Conflict(f"这些案件已办结或已关闭，不能吹哨：{', '.join(finished)}。", field="case_ids", code="bad_state")


def can_whistle(user: User, case: Mapping[str, Any]) -> bool:
    try:
        check_can_whistle(user, [case])
    except (Forbidden, Conflict):
        return False
    return True


def statistics_area(user: User, *, departments: bool = False) -> str:
    """The boundary-code prefix whose statistics and hotspots ``user`` may read. Department staff
    see their department's cases, not an area: area statistics are not theirs, department rankings
    (``departments=True``) are."""
    if departments:
        return ""
    if user.role == "department_staff":
        raise Forbidden("部门人员可以查看部门排名；区域统计和热点由街道、规划人员查看。", field="role")
    return visible_area(user)


def may_read_area_statistics(user: User) -> bool:
    return user.role != "department_staff"


def acting_departments(user: User) -> frozenset[str]:
    """The departments a department-staff user acts for (theirs and its units); none for other roles."""
    if user.role != "department_staff":
        return frozenset()
    return user.departments or frozenset({user.department} - {None})  # type: ignore[arg-type]


def scoped_filters(filters: CaseFilters, user: User | None) -> CaseFilters:
    """Narrow case filters to what ``user`` may see (None: the system itself, e.g. the CLI)."""
    if user is None:
        return filters
    if user.role == "department_staff":
        return replace(filters, departments=tuple(sorted(user.departments or {user.department or ""})))
    return replace(filters, visible_area=visible_area(user))


def check_can_check_in(user: User, summoned: Iterable[str]) -> list[str]:
    """Only a summoned department checks in (报到): the user's departments among ``summoned``."""
    mine = sorted(set(summoned) & acting_departments(user))
    if not mine:
        raise Forbidden("只有被召集的部门可以报到。", field="role")
    return mine


def check_account(role: str, scope: str, department: str | None) -> None:
    """What each role's account needs: grid workers and street leaders a scope, staff a department."""
    if role not in ROLES:
        raise InvalidInput(f"角色 {role!r} 无效，可选：{', '.join(ROLES)}。", field="role", code="bad_role")
    if scope and not scope.isdigit():
        raise InvalidInput("范围应为区划编码前缀（数字），如 110102003；留空表示全市。", field="scope",
                           code="bad_scope")
    if role in ("grid_worker", "community_leader", "street_leader") and not scope:
        raise InvalidInput("网格员、社区负责人和街道负责人必须有范围（网格、社区或街道编码）。", field="scope",
                           code="bad_scope")
    if role == "department_staff" and not department:
        raise InvalidInput("部门人员必须指定 --department。", field="department", code="missing")


def check_can_read_metrics(user: User) -> None:
    if user.role != "admin":
        raise Forbidden("只有管理员可以查看 /metrics。", field="authorization")


def family(department: str | None, units: Iterable[tuple[str, str | None]]) -> frozenset[str]:
    """A department and its units, from (code, parent code) pairs."""
    if department is None:
        return frozenset()
    return frozenset({department} | {code for code, parent in units if parent == department})
