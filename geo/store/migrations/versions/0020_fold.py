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

Revision ID: 0020_fold
Revises: 0019_addresses
"""

from alembic import op

revision = "0020_fold"
down_revision = "0019_addresses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("case_fact_case_id_fkey", "case_fact", type_="foreignkey")
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
    op.create_foreign_key("case_fact_case_id_fkey", "case_fact", "cases", ["case_id"], ["id"])
