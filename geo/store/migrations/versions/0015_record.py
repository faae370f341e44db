# ruff: noqa: E501 - a frozen, generated SQL expression
"""case_fact.record widened (84 bytes): times as int8 epoch seconds, so no stored time can overflow
the statistics (a case reported in 1926 or a deadline past 2068 made every statistic a 500), plus a
"responded" bit and the current response deadline, so 响应率 counts only responses that are due.

The generated column is dropped and added again: PostgreSQL recomputes it for every row.

Revision ID: 0015_record
Revises: 0014_chain
"""

import sqlalchemy as sa
from alembic import op

revision = "0015_record"
down_revision = "0014_chain"
branch_labels = None
depends_on = None

#: Frozen copy of geo.store.models.CASE_FACT_RECORD_SQL at this revision (tests/test_one_home.py compares).
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
                | (CASE WHEN responded_at IS NOT NULL THEN 128 ELSE 0 END)
                | ((CASE status WHEN 'received' THEN 1 WHEN 'dispatched' THEN 2 WHEN 'signed' THEN 3 WHEN 'responded' THEN 4 WHEN 'in_progress' THEN 5 WHEN 'resolved' THEN 6 WHEN 'checked' THEN 7 WHEN 'closed' THEN 8 WHEN 'returned' THEN 9 WHEN 'suspended' THEN 10 WHEN 'void' THEN 11 ELSE 0 END) << 8)
                | ((CASE WHEN category_code ~ '^[0-9]{4}$' THEN category_code::int ELSE 0 END) << 16))
    || int8send(coalesce(CASE WHEN isfinite(reported_at) THEN floor(extract(epoch FROM reported_at - TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint END, -9223372036854775807))
    || int8send(coalesce(CASE WHEN isfinite(resolve_due) THEN floor(extract(epoch FROM resolve_due - TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint END, -9223372036854775807))
    || int8send(coalesce(CASE WHEN isfinite(CASE WHEN status = 'received' THEN dispatch_due
     WHEN status IN ('dispatched', 'signed') THEN least(respond_due, resolve_due)
     WHEN status IN ('responded', 'in_progress', 'returned', 'suspended') THEN resolve_due END) THEN floor(extract(epoch FROM CASE WHEN status = 'received' THEN dispatch_due
     WHEN status IN ('dispatched', 'signed') THEN least(respond_due, resolve_due)
     WHEN status IN ('responded', 'in_progress', 'returned', 'suspended') THEN resolve_due END - TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint END, 9223372036854775807))
    || int8send(coalesce(CASE WHEN isfinite(respond_due) THEN floor(extract(epoch FROM respond_due - TIMESTAMPTZ '1970-01-01 00:00:00+00'))::bigint END, 9223372036854775807))
    || float4send(coalesce((extract(epoch FROM responded_at - respond_clock_at) / 3600)::float4, 'NaN'))
    || float4send(coalesce((extract(epoch FROM resolved_at - clock_at) / 3600)::float4, 'NaN'))"""


def upgrade() -> None:
    op.drop_column("case_fact", "record")
    op.add_column("case_fact", sa.Column("record", sa.LargeBinary, sa.Computed(RECORD_SQL, persisted=True),
                                         nullable=False))


def downgrade() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("case_fact_0008", Path(__file__).with_name("0008_case_fact.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    old = module.RECORD_SQL
    op.drop_column("case_fact", "record")
    op.add_column("case_fact", sa.Column("record", sa.LargeBinary, sa.Computed(old, persisted=True), nullable=False))
