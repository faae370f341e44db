"""Which boundary level each role's scope names: the rule an account's scope is checked against.

A scope is a boundary code (a prefix of every code under it; "" = the whole city). A scope wider
than the role's level — a street leader scoped to a district — would widen what the account sees
and does, so operator-made accounts (``geo.services.accounts.register_user``) must name a loaded
boundary of one of the role's levels.
"""

from __future__ import annotations

from geo.domain.boundaries import CODE_LENGTH, LEVEL_NAMES
from geo.domain.errors import InvalidInput
from geo.domain.workflow import ROLE_NAMES

__all__ = ["SCOPE_LEVELS", "check_scope_level", "scope_level"]

#: The boundary levels a role's scope may name ("" = the whole city). A scope wider than the role's
#: level (a street leader scoped to a district) would widen what the account sees and does.
SCOPE_LEVELS: dict[str, tuple[str, ...]] = {
    "grid_worker": ("grid", "community"),
    "community_leader": ("community",),
    "street_leader": ("street",),
    "hotline": ("", "district"),
    "planner": ("", "district", "street", "community"),
    "department_staff": ("",),
    "admin": ("",),
}


def check_scope_level(role: str, scope: str) -> str:
    """A scope of the role's level (SCOPE_LEVELS): the level it names ("" = the city). Whether the
    code is loaded is the caller's to check, at that level."""
    allowed = SCOPE_LEVELS[role]
    level = scope_level(scope)
    if level not in allowed:
        wanted = "或".join(f"{LEVEL_NAMES[one]}编码（{CODE_LENGTH[one]} 位）" if one else "留空（全市）"
                          for one in allowed)
        raise InvalidInput(f"{ROLE_NAMES[role]}的范围应为{wanted}，{scope or '全市'} 不是。", field="scope",
                           code="bad_scope")
    return level


def scope_level(scope: str) -> str | None:
    """The boundary level a scope code names by its length ("" = the city; None: no level's length)."""
    if not scope:
        return ""
    return next((level for level, length in CODE_LENGTH.items() if len(scope) == length), None)
