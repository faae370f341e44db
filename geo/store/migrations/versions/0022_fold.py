# ruff: noqa: E501 - a frozen, generated SQL expression
"""The statistics fold writes case_fact in bulk (issue 14): no foreign key on it, and its indexes
built once after a rebuild instead of row by row.

- ``case_fact.case_id`` loses its foreign key to ``cases``: checking it cost 15 s of a 30 s
  insert of 10⁶ facts (one lookup per row; bench/README.md "Issue 14"). case_fact is derived
  data written only by the fold, which joins every fact to its case; a case with events can never
  be deleted (case_event references it and is append-only), so the key guarded nothing.
- ``gridmap_fact_indexes(build)`` drops (``false``) or builds (``true``) case_fact's primary key
  and its cell index, on behalf of the app's role (which owns nothing: migration 0010) — a rebuild
  empties the table, drops them, fills it and builds them again. Dropping refuses unless the
  table is empty, so the function cannot take the indexes from a table that is in use.
- ``case_fact.record`` computed the same, cheaper: "is this code 1–17 ASCII digits" by ``length``
  and ``ltrim`` instead of a regular expression (the regexes were 60 % of the expression; the
  record was a quarter of an insert's cost). The generated column is dropped and added again, so
  PostgreSQL recomputes it for every row; tests/test_one_home.py holds it equal to 0015's.

Revision ID: 0022_fold
Revises: 0021_counters
"""

import sqlalchemy as sa
from alembic import op

revision = "0022_fold"
down_revision = "0021_counters"
branch_labels = None
depends_on = None

#: Frozen copy of geo.store.models.CASE_FACT_RECORD_SQL at this revision (tests/test_one_home.py compares).
RECORD_SQL = """
    int8send(CASE WHEN (length(grid_code) BETWEEN 1 AND 17 AND ltrim(grid_code, '0123456789') = '') THEN ('1' || grid_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN (length(community_code) BETWEEN 1 AND 17 AND ltrim(community_code, '0123456789') = '') THEN ('1' || community_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN (length(street_code) BETWEEN 1 AND 17 AND ltrim(street_code, '0123456789') = '') THEN ('1' || street_code)::bigint ELSE 0 END)
    || int8send(CASE WHEN (length(district_code) BETWEEN 1 AND 17 AND ltrim(district_code, '0123456789') = '') THEN ('1' || district_code)::bigint ELSE 0 END)
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
                | ((CASE WHEN (length(category_code) = 4 AND ltrim(category_code, '0123456789') = '') THEN category_code::int ELSE 0 END) << 16))
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


def _record(expression: str) -> None:
    op.drop_column("case_fact", "record")
    op.add_column("case_fact", sa.Column("record", sa.LargeBinary, sa.Computed(expression, persisted=True),
                                         nullable=False))


def _frozen_0015() -> str:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("case_fact_0015", Path(__file__).with_name("0015_record.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module.RECORD_SQL)


def upgrade() -> None:
    op.drop_constraint("case_fact_case_id_fkey", "case_fact", type_="foreignkey")
    _record(RECORD_SQL)
    op.execute("""
        CREATE FUNCTION gridmap_fact_indexes(build boolean) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF build THEN
                IF to_regclass('public.case_fact_pkey') IS NULL THEN
                    ALTER TABLE public.case_fact ADD CONSTRAINT case_fact_pkey PRIMARY KEY (case_id);
                END IF;
                CREATE INDEX IF NOT EXISTS ix_case_fact_cell ON public.case_fact (category_code, cell_x, cell_y);
            ELSE
                IF EXISTS (SELECT FROM public.case_fact) THEN
                    RAISE EXCEPTION 'gridmap_fact_indexes: case_fact is not empty'
                        USING ERRCODE = 'object_not_in_prerequisite_state';
                END IF;
                DROP INDEX IF EXISTS public.ix_case_fact_cell;
                ALTER TABLE public.case_fact DROP CONSTRAINT IF EXISTS case_fact_pkey;
            END IF;
        END $$""")


def downgrade() -> None:
    op.execute("DROP FUNCTION gridmap_fact_indexes(boolean)")
    _record(_frozen_0015())
    op.create_foreign_key("case_fact_case_id_fkey", "case_fact", "cases", ["case_id"], ["id"])
