"""Two more roles (DOMAIN.md "People and roles"): community_leader (one community) and hotline (the
12345 centre or a district platform, scoped by district or the whole city).

Revision ID: 0010_roles
Revises: 0009_session_epoch
"""

from alembic import op

revision = "0010_roles"
down_revision = "0009_session_epoch"
branch_labels = None
depends_on = None

#: Frozen copy of geo.domain.workflow.ROLES at this revision (tests/test_one_home.py compares).
ROLES = ("grid_worker", "community_leader", "street_leader", "hotline", "department_staff", "planner", "admin")
OLD_ROLES = ("grid_worker", "street_leader", "department_staff", "planner", "admin")


def _check(roles: tuple[str, ...]) -> str:
    return "role IN (" + ", ".join(f"'{r}'" for r in roles) + ")"


def upgrade() -> None:
    op.drop_constraint("ck_app_user_role", "app_user", type_="check")
    op.create_check_constraint("ck_app_user_role", "app_user", _check(ROLES))


def downgrade() -> None:
    op.execute("DELETE FROM app_user WHERE role IN ('community_leader', 'hotline')")
    op.drop_constraint("ck_app_user_role", "app_user", type_="check")
    op.create_check_constraint("ck_app_user_role", "app_user", _check(OLD_ROLES))
