"""People and workflow: users, API tokens, the append-only case_event, the working-day calendar, outbox.

Revision ID: 0004_workflow
Revises: 0003_cases
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004_workflow"
down_revision = "0003_cases"
branch_labels = None
depends_on = None

ROLE_CHECK = "role IN ('grid_worker', 'street_leader', 'department_staff', 'planner', 'admin')"


def upgrade() -> None:
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("display_name", sa.Text, nullable=False, server_default=""),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False, server_default=""),
        sa.Column("department_code", sa.String(32), sa.ForeignKey("department.code")),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(ROLE_CHECK, name="ck_app_user_role"),
        sa.CheckConstraint("role <> 'department_staff' OR department_code IS NOT NULL",
                           name="ck_app_user_department"),
    )
    op.add_column("cases", sa.Column("revision", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "case_event",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("app_user.id")),
        sa.Column("actor_name", sa.Text, nullable=False, server_default=""),
        sa.Column("actor_role", sa.String(32), nullable=False, server_default=""),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("lon", sa.Float),
        sa.Column("lat", sa.Float),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("ix_case_event_case", "case_event", ["case_id", "id"])
    op.create_index("ix_case_event_action_at", "case_event", ["action", "at"])
    # Append-only: the database itself refuses to change or delete history.
    op.execute("""
        CREATE FUNCTION case_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'case_event is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$""")
    op.execute("CREATE TRIGGER case_event_no_update BEFORE UPDATE OR DELETE ON case_event "
               "FOR EACH ROW EXECUTE FUNCTION case_event_append_only()")
    op.execute("CREATE TRIGGER case_event_no_truncate BEFORE TRUNCATE ON case_event "
               "FOR EACH STATEMENT EXECUTE FUNCTION case_event_append_only()")
    op.create_table(
        "calendar_day",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.Text, nullable=False, server_default=""),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name="ck_calendar_day_kind"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("recipient", sa.Text, nullable=False, server_default=""),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("sent_at IS NULL"))


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("calendar_day")
    op.execute("DROP TABLE case_event")
    op.execute("DROP FUNCTION case_event_append_only()")
    op.drop_table("api_token")
    op.drop_table("app_user")
    op.drop_column("cases", "revision")
