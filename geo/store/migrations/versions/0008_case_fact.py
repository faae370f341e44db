"""case_fact: one row of measure facts per case, derived from case_event (+ the case's intake row).

Kept up to date by ``geo.store.stats.catch_up`` (a watermark on case_event.id, plus the id gaps of
transactions still in flight), never by triggers, so case writes cost nothing extra. The table can
be dropped and rebuilt from events at any time (``geo.store.stats.rebuild``).

Revision ID: 0008_case_fact
Revises: 0007_case_photo
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_case_fact"
down_revision = "0007_case_photo"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_fact",
        sa.Column("case_id", sa.BigInteger, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("grid_code", sa.String(32), nullable=False),
        sa.Column("community_code", sa.String(32)),
        sa.Column("street_code", sa.String(32)),
        sa.Column("district_code", sa.String(32)),
        sa.Column("category_code", sa.String(4), nullable=False),
        sa.Column("lead_department", sa.String(32)),
        sa.Column("reported_at", _TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dispatch_due", _TS),
        sa.Column("dispatched_at", _TS),
        sa.Column("respond_clock_at", _TS),
        sa.Column("respond_clock_due", _TS),
        sa.Column("responded_at", _TS),
        sa.Column("clock_at", _TS),
        sa.Column("respond_due", _TS),
        sa.Column("resolve_due", _TS),
        sa.Column("resolved_at", _TS),
        sa.Column("callback_contacted", sa.Boolean),
        sa.Column("callback_solved", sa.Boolean),
        sa.Column("callback_satisfied", sa.Boolean),
        sa.Column("x", sa.Float, nullable=False),
        sa.Column("y", sa.Float, nullable=False),
        sa.Column("cell_x", sa.Integer, nullable=False),
        sa.Column("cell_y", sa.Integer, nullable=False),
        sa.Column("is_repeat", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("last_event_id", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_case_fact_cell", "case_fact", ["category_code", "cell_x", "cell_y"])
    op.create_table(
        "case_fact_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last_event_id", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("updated_at", _TS, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("id = 1", name="ck_case_fact_state_one_row"),
    )
    op.execute("INSERT INTO case_fact_state (id, last_event_id) VALUES (1, 0)")
    op.create_table(
        "case_fact_gap",
        sa.Column("first_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("last_id", sa.BigInteger, nullable=False),
        sa.Column("seen_xmax", sa.BigInteger, nullable=False),
        sa.Column("found_at", _TS, nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("case_fact_gap")
    op.drop_table("case_fact_state")
    op.drop_index("ix_case_fact_cell", table_name="case_fact")
    op.drop_table("case_fact")
