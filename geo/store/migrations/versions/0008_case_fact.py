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

#: The case's numbers as 64 big-endian bytes, kept by PostgreSQL itself (a generated column):
#: int8 keys of grid, community, street and district ('1' || code, 0 if none) and a hash of the
#: lead department; int4 flags | status << 8 | category << 16; int4 seconds since 2000 of
#: reported_at, resolve_due and the moment the case becomes overdue in its current status;
#: float4 hours to respond and to resolve. Measures stream these records for a million cases in
#: one value (geo.store.stats.measure_sums).
RECORD_SQL = """
    int8send(CASE WHEN grid_code ~ '^[0-9]{1,17}$' THEN ('1' || grid_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN community_code ~ '^[0-9]{1,17}$' THEN ('1' || community_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN street_code ~ '^[0-9]{1,17}$' THEN ('1' || street_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN district_code ~ '^[0-9]{1,17}$' THEN ('1' || district_code)::bigint ELSE 0 END)
    || int8send(coalesce(hashtextextended(lead_department, 0), 0))
    || int4send((CASE WHEN dispatched_at IS NOT NULL THEN 1 ELSE 0 END)
                | (CASE WHEN responded_at <= respond_clock_due THEN 2 ELSE 0 END)
                | (CASE WHEN callback_contacted THEN 4 ELSE 0 END)
                | (CASE WHEN callback_contacted AND callback_solved THEN 8 ELSE 0 END)
                | (CASE WHEN callback_contacted AND callback_satisfied THEN 16 ELSE 0 END)
                | (CASE WHEN is_repeat THEN 32 ELSE 0 END)
                | (CASE WHEN resolved_at <= resolve_due THEN 64 ELSE 0 END)
                | ((CASE status WHEN 'received' THEN 1 WHEN 'dispatched' THEN 2 WHEN 'signed' THEN 3
                               WHEN 'responded' THEN 4 WHEN 'in_progress' THEN 5 WHEN 'resolved' THEN 6
                               WHEN 'checked' THEN 7 WHEN 'closed' THEN 8 WHEN 'returned' THEN 9
                               WHEN 'suspended' THEN 10 WHEN 'void' THEN 11 ELSE 0 END) << 8)
                | ((CASE WHEN category_code ~ '^[0-9]{4}$' THEN category_code::int ELSE 0 END) << 16))
    || int4send(floor(extract(epoch FROM reported_at - TIMESTAMPTZ '2000-01-01 00:00:00+00'))::int)
    || int4send(coalesce(floor(extract(epoch FROM resolve_due - TIMESTAMPTZ '2000-01-01 00:00:00+00'))::int,
                         -2147483648))
    || int4send(coalesce(floor(extract(epoch FROM CASE
           WHEN status = 'received' THEN dispatch_due
           WHEN status IN ('dispatched', 'signed') THEN least(respond_due, resolve_due)
           WHEN status IN ('responded', 'in_progress', 'returned', 'suspended') THEN resolve_due
           END - TIMESTAMPTZ '2000-01-01 00:00:00+00'))::int, 2147483647))
    || float4send(coalesce((extract(epoch FROM responded_at - respond_clock_at) / 3600)::float4, 'NaN'))
    || float4send(coalesce((extract(epoch FROM resolved_at - clock_at) / 3600)::float4, 'NaN'))"""


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
        sa.Column("record", sa.LargeBinary, sa.Computed(RECORD_SQL, persisted=True), nullable=False),
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
