"""gridmap_analyze(tables): ANALYZE of the big tables on behalf of the app's role.

Only a table's owner may ANALYZE it (PostgreSQL 15 has no MAINTAIN privilege), and the app's
role owns nothing (issue 13 #4): a bulk import or statistics catch-up ran ``ANALYZE cases`` as
that role and PostgreSQL skipped it with a warning, leaving plans to guess. This function runs as
the schema's owner (SECURITY DEFINER, a fixed search_path) and analyses only the tables named
here.

Revision ID: 0018_analyze
Revises: 0017_case_numbers
"""

from alembic import op

revision = "0018_analyze"
down_revision = "0017_case_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE FUNCTION gridmap_analyze(tables text[]) RETURNS void
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE t text;
        BEGIN
            FOREACH t IN ARRAY tables LOOP
                IF t NOT IN ('cases', 'case_event', 'case_fact') THEN
                    RAISE EXCEPTION 'gridmap_analyze: % is not one of cases, case_event, case_fact', t
                        USING ERRCODE = 'invalid_parameter_value';
                END IF;
                EXECUTE format('ANALYZE public.%I', t);
            END LOOP;
        END $$""")


def downgrade() -> None:
    op.execute("DROP FUNCTION gridmap_analyze(text[])")
