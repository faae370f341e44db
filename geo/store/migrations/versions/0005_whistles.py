"""Whistles (吹哨) that summon departments to cases, and their on-site check-ins (报到).

Revision ID: 0005_whistles
Revises: 0004_workflow
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0005_whistles"
down_revision = "0004_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The resolve limit a case was routed with (rule, else category), so re-dispatching keeps it.
    op.add_column("cases", sa.Column("resolve_limit_hours", sa.Float))
    op.create_table(
        "whistle",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("street_code", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("lead_department", sa.String(32), sa.ForeignKey("department.code"), nullable=False),
        sa.Column("co_departments", ARRAY(sa.String(32)), nullable=False, server_default="{}"),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_whistle_status"),
    )
    op.create_table(
        "whistle_case",
        sa.Column("whistle_id", sa.Integer, sa.ForeignKey("whistle.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), primary_key=True),
    )
    op.create_index("ix_whistle_case_case", "whistle_case", ["case_id"])
    op.create_table(
        "whistle_summons",
        sa.Column("whistle_id", sa.Integer, sa.ForeignKey("whistle.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("department_code", sa.String(32), sa.ForeignKey("department.code"), primary_key=True),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True)),
        sa.Column("reported_by", sa.Integer, sa.ForeignKey("app_user.id")),
        sa.Column("report_lon", sa.Float),
        sa.Column("report_lat", sa.Float),
        sa.Column("distance_m", sa.Float),
        sa.Column("late", sa.Boolean),
        sa.CheckConstraint("role IN ('lead', 'co')", name="ck_whistle_summons_role"),
    )


def downgrade() -> None:
    op.drop_table("whistle_summons")
    op.drop_table("whistle_case")
    op.drop_table("whistle")
    op.drop_column("cases", "resolve_limit_hours")
