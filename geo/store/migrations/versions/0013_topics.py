"""Monthly topics (每月一题): a recurring problem a planner sets for a month, and its append-only events.

Revision ID: 0013_topics
Revises: 0012_whistles
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0013_topics"
down_revision = "0012_whistles"
branch_labels = None
depends_on = None

#: Frozen copies of geo.domain.topics.STATUSES and EVENT_ACTIONS at this revision (tests/test_topics.py compares).
STATUSES = ("active", "closed")
EVENT_ACTIONS = ("created", "updated", "closed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


def upgrade() -> None:
    op.create_table(
        "topic",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("category_code", sa.String(4), nullable=False),
        sa.Column("targets", ARRAY(sa.String(32)), nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("lead_department", sa.String(32), sa.ForeignKey("department.code"), nullable=False),
        sa.Column("co_departments", ARRAY(sa.String(32)), nullable=False, server_default="{}"),
        sa.Column("goal", sa.Text, nullable=False, server_default=""),
        sa.Column("tasks", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("created_by", sa.Integer, sa.ForeignKey("app_user.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(_in("status", STATUSES), name="ck_topic_status"),
        sa.CheckConstraint("month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'", name="ck_topic_month"),
        sa.CheckConstraint("category_code ~ '^[0-9]{2}([0-9]{2})?$'", name="ck_topic_category"),
        sa.CheckConstraint("cardinality(targets) > 0", name="ck_topic_targets"),
    )
    op.create_index("ix_topic_month", "topic", ["month"])
    op.create_table(
        "topic_event",
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("topic_id", sa.Integer, sa.ForeignKey("topic.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("actor_user_id", sa.Integer, sa.ForeignKey("app_user.id")),
        sa.Column("actor_name", sa.Text, nullable=False, server_default=""),
        sa.Column("actor_role", sa.String(32), nullable=False, server_default=""),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
        sa.CheckConstraint(_in("action", EVENT_ACTIONS), name="ck_topic_event_action"),
    )
    op.create_index("ix_topic_event_topic", "topic_event", ["topic_id", "id"])
    # Append-only, as case_event: the database itself refuses to change or delete history.
    op.execute("""
        CREATE FUNCTION topic_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'topic_event is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
        END $$""")
    op.execute("CREATE TRIGGER topic_event_no_update BEFORE UPDATE OR DELETE ON topic_event "
               "FOR EACH ROW EXECUTE FUNCTION topic_event_append_only()")
    op.execute("CREATE TRIGGER topic_event_no_truncate BEFORE TRUNCATE ON topic_event "
               "FOR EACH STATEMENT EXECUTE FUNCTION topic_event_append_only()")


def downgrade() -> None:
    op.execute("DROP TABLE topic_event")
    op.execute("DROP FUNCTION topic_event_append_only()")
    op.drop_table("topic")
