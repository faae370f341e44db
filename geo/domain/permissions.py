"""Who may see and do what, scoped by boundary codes (DOMAIN.md "People and roles").

| role             | sees                                       | may                                            |
|------------------|--------------------------------------------|------------------------------------------------|
| grid_worker      | cases of their community                   | report in their grids; check cases there       |
| community_leader | cases of their community                   | report, check, note, whistle there             |
| street_leader    | everything in their street                 | dispatch, void, check, close, reopen, whistle  |
| hotline          | everything in scope (district or the city) | report, dispatch (改派), callback, reopen       |
| department_staff | cases their department leads, assists or   | sign … resolve (lead department only);         |
|                  | is summoned to by a whistle                | check in when summoned; whistle as lead        |
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
from geo.domain.whistles import WHISTLER_ROLES
from geo.domain.workflow import LEAD_HANDLING, ROLES, Action, Actor

__all__ = [
    "COMMUNITY_CODE_LENGTH",
    "User",
    "acting_departments",
    "area_name",
    "can_plan_topic",
    "can_see",
    "can_see_topic",
    "can_see_whistle",
    "can_whistle",
    "check_account",
    "check_can_act",
    "check_can_attach",
    "check_can_check_in",
    "check_can_plan_topic",
    "check_can_read_metrics",
    "check_can_report",
    "check_can_score",
    "check_can_use_source",
    "check_can_whistle",
    "check_summoned",
    "check_whistler",
    "is_lead",
    "may_plan_topics",
    "may_read_area_statistics",
    "scoped_filters",
    "sees_requester",
    "speaks_for_whistler",
    "statistics_area",
    "visible_area",
    "whistle_reach",
    "whistler",
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
    """Lead, co-department, summoned to the case by a whistle (to check in on site), or the street's
    own unit of a street-fallback case."""
    involved = {case.get("lead_department"), *(case.get("co_departments") or []), *(case.get("summoned") or [])}
    if case.get("lead_department") is None:
        involved.add(case.get("street_code"))
    return bool(involved & (user.departments or {user.department}))


def is_lead(user: User, case: Mapping[str, Any]) -> bool:
    """Whether ``user`` takes the lead department's steps on ``case``: its lead department's staff,
    or — a street-fallback case (属地兜底, no lead department) — the street's own leader or the staff
    of the street's own unit (a department whose code is the street code)."""
    lead = case.get("lead_department")
    if lead is None:
        street = str(case.get("street_code") or "")
        if user.role == "street_leader":
            return bool(street) and street.startswith(user.scope)
        return user.role == "department_staff" and street in acting_departments(user)
    return user.role == "department_staff" and lead in acting_departments(user)


def can_see(user: User, case: Mapping[str, Any]) -> bool:
    if user.role == "department_staff":
        return _handles(user, case)
    return str(case["grid_code"]).startswith(visible_area(user))


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
    if user.role in ("department_staff", "street_leader"):  # the lead (a fallback case: the street)
        return case["status"] in LEAD_HANDLING and is_lead(user, case)
    return False


def check_visible(user: User, case: Mapping[str, Any], case_no: str) -> None:
    """Cases outside the user's sight are 'not found' (their existence is not revealed)."""
    if not can_see(user, case):
        raise NotFound(f"案件 {case_no} 不存在。", field="id", code="not_found")


def area_name(code: str, names: Mapping[str, str] | None = None) -> str:
    """A boundary as people name it: its name when known, else its code; the whole city for "".

    >>> area_name("110102004", {"110102004": "新街口街道"}), area_name("110102004"), area_name("")
    ('新街口街道', '110102004', '全市')
    """
    if not code:
        return "全市"
    return (names or {}).get(code) or code


def check_can_act(user: User, action: Action, case: Mapping[str, Any],
                  names: Mapping[str, str] | None = None) -> None:
    """Beyond the role (checked by the workflow): the scope, the lead department, the grid.
    ``names`` (code → name) lets the refusal name the grid and the user's area instead of codes."""
    grid = str(case["grid_code"])
    if user.role in AREA_ROLES and not grid.startswith(user.scope):
        raise Forbidden(f"案件在{area_name(grid, names)}，不在您的管辖范围（{area_name(user.scope, names)}）内。",
                        field="id", details={"grid": grid, "scope": user.scope})
    if action.lead_only and not is_lead(user, case):
        raise Forbidden("只有主责部门（属地兜底的案件由街道）可以推进案件；协办部门可以查看、备注和报到。",
                        field="action")


def check_can_report(user: User, grid_code: str, names: Mapping[str, str] | None = None) -> None:
    """Grid workers report in their grids, street leaders in their street; departments anywhere.
    ``names`` (code → name) lets the refusal name the grid and the user's area instead of codes."""
    if user.role in ("planner", "admin"):
        raise Forbidden("规划/分析人员和管理员不能上报案件。", field="role")
    if user.role in AREA_ROLES and not grid_code.startswith(user.scope):
        raise Forbidden(f"位置在{area_name(grid_code, names)}，不在您的管辖范围（{area_name(user.scope, names)}）内。",
                        field="lon", details={"grid": grid_code, "scope": user.scope})


def check_can_attach(user: User, case: Mapping[str, Any], names: Mapping[str, str] | None = None) -> None:
    """Photos are added by the people working the case: grid workers and street leaders in whose
    area it lies, and its lead or co-departments (seeing the case is checked before this).
    ``names`` (code → name) lets the refusal name the grid and the user's area instead of codes."""
    if user.role in ("planner", "admin"):
        raise Forbidden("规划/分析人员和管理员不能给案件添加照片。", field="role")
    grid = str(case["grid_code"])
    if user.role in AREA_ROLES and not grid.startswith(user.scope):
        raise Forbidden(f"案件在{area_name(grid, names)}，不在您的管辖范围（{area_name(user.scope, names)}）内。",
                        field="id", details={"grid": grid, "scope": user.scope})


def check_can_use_source(user: User | None, source: str, reserved: Sequence[str], *, integration: bool) -> None:
    """A reserved source (the 12345 export's) is the importer's and the hotline's integration
    token's: a person naming it could take a ticket number before the real ticket arrives."""
    if source in reserved and user is not None and not (integration and user.role == "hotline"):
        raise Forbidden(f"来源 {source} 只用于批量导入和 12345 接口令牌；请不填 source 或换一个来源名。",
                        field="source", code="reserved_source")


def check_whistler(user: User) -> None:
    """Who may whistle (吹哨) at all: street leaders, community leaders and department staff."""
    if user.role not in WHISTLER_ROLES:
        raise Forbidden("只有街道负责人、社区负责人和部门人员可以吹哨。", field="role")


def _whistle_area(user: User) -> str:
    """The boundary prefix a street or community leader whistles in (a community leader: their community)."""
    return visible_area(user) if user.role == "community_leader" else user.scope


def check_can_whistle(user: User, cases: Sequence[Mapping[str, Any]]) -> None:
    """A street leader whistles for unfinished cases (UNFINISHED) in their street, a community leader
    for those in their community, department staff for those their department leads (a department
    whistle, which summons other departments)."""
    check_whistler(user)
    for case in cases:
        if user.role == "department_staff":
            if case.get("lead_department") not in acting_departments(user):
                raise Forbidden(f"案件 {case['case_no']} 不由您的部门主责：部门只能为本部门主责的案件吹哨。",
                                field="case_ids")
        elif not str(case["grid_code"]).startswith(_whistle_area(user)):
            where = "社区" if user.role == "community_leader" else "街道"
            raise Forbidden(f"案件 {case['case_no']} 不在您的{where}。", field="case_ids")
    finished = [str(c["case_no"]) for c in cases if c["status"] not in UNFINISHED]
    if finished:
        raise Conflict(f"这些案件已办结或已关闭，不能吹哨：{', '.join(finished)}。", field="case_ids", code="bad_state")


def can_whistle(user: User, case: Mapping[str, Any]) -> bool:
    try:
        check_can_whistle(user, [case])
    except (Forbidden, Conflict):
        return False
    return True


def check_summoned(user: User, departments: Iterable[str]) -> None:
    """A department whistle summons *other* departments, never the whistler's own (or its units)."""
    own = sorted(set(departments) & acting_departments(user))
    if own:
        raise InvalidInput(f"部门吹哨召集的是其他部门，不能召集本部门：{', '.join(own)}。", field="lead_department",
                           code="own_department")


def whistler(user: User, cases: Sequence[Mapping[str, Any]]) -> dict[str, str | None]:
    """Who whistles, as the whistle records it: the role, and the street or community (its code) or
    the department whose whistle it is."""
    if user.role == "department_staff":
        return {"role": user.role, "area": None, "department": user.department}
    area = visible_area(user) if user.role == "community_leader" else str(cases[0]["street_code"])
    return {"role": user.role, "area": area, "department": None}


def speaks_for_whistler(user: User, whistle: Mapping[str, Any]) -> bool:
    """Whether ``user`` acts for the whistle's whistler (to score the summoned departments): a street
    leader of the whistling street, a community leader of the whistling community, staff of the
    whistling department."""
    if user.role != whistle["whistler_role"]:
        return False
    if user.role == "department_staff":
        return whistle["whistler_department"] in acting_departments(user)
    return str(whistle["whistler_area"] or "").startswith(_whistle_area(user))


def check_can_score(user: User, whistle: Mapping[str, Any]) -> None:
    if not speaks_for_whistler(user, whistle):
        raise Forbidden("只有吹哨的街道、社区或部门可以给被召集部门评分。", field="role")


def can_see_whistle(user: User, whistle: Mapping[str, Any], cases: Iterable[Mapping[str, Any]],
                    summoned: Iterable[str]) -> bool:
    """A whistle is seen by its summoned departments, the whistling department, and whoever sees one
    of its cases (who then sees only those cases and their events)."""
    mine = acting_departments(user)
    if mine & ({*summoned, whistle.get("whistler_department")} - {None}):
        return True
    return any(can_see(user, c) for c in cases)


def whistle_reach(user: User) -> tuple[str | None, tuple[str, ...] | None]:
    """Which whistles ``user`` may list: (area, None) — those with a case in the area (a boundary
    prefix, "" = the city), scoped like cases — or, for department staff, (None, departments) —
    those their departments are summoned to or blew."""
    if user.role == "department_staff":
        return None, tuple(sorted(acting_departments(user)))
    return visible_area(user), None


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


#: Who sets and changes monthly topics (每月一题), within their scope.
TOPIC_PLANNERS = ("planner", "admin")


def may_plan_topics(user: User) -> bool:
    return user.role in TOPIC_PLANNERS


def check_can_plan_topic(user: User, targets: Iterable[str]) -> None:
    """Planners (and admins) set and change topics whose every target lies in their scope."""
    if not may_plan_topics(user):
        raise Forbidden("只有规划/分析人员和管理员可以设立或修改每月一题。", field="role")
    outside = [t for t in targets if not t.startswith(user.scope)]
    if outside:
        raise Forbidden(f"目标区划 {', '.join(outside)} 不在您的范围 {user.scope or '（全市）'} 内。", field="targets")


def can_plan_topic(user: User, targets: Iterable[str]) -> bool:
    try:
        check_can_plan_topic(user, targets)
    except Forbidden:
        return False
    return True


def can_see_topic(user: User, topic: Mapping[str, Any]) -> bool:
    """Department staff see the topics their department leads; everyone else those whose targets
    overlap their area (a target inside it, or holding it).

    >>> can_see_topic(User(1, "w", "grid_worker", "110101002001002"), {"targets": ["110101002"]})
    True
    """
    if user.role == "department_staff":
        return topic.get("lead_department") in acting_departments(user)
    area = visible_area(user)
    return any(t.startswith(area) or area.startswith(t) for t in topic["targets"])


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
    """What each role's account needs: grid workers and leaders a scope, staff a department."""
    if role not in ROLES:
        raise InvalidInput(f"角色 {role!r} 无效，可选：{', '.join(ROLES)}。", field="role", code="bad_role")
    if scope and not scope.isdigit():
        raise InvalidInput("范围应为区划编码（数字），如 110102003；留空表示全市。", field="scope",
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
