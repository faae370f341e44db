"""case_count: the map's case counts kept by the write path (issue 14 goal 3).

One row per community × street × category × status × the UTC day of the case's next deadline
(``due_day``, days since 1970-01-01; NULL when no clock runs), with the number of cases. The map's
street and community count views sum these rows instead of scanning the cases; the overdue part
of a count is the rows whose deadline day is before today plus the cases due earlier today, found
through ``ix_cases_next_due`` (a handful of rows).

Kept by one STATEMENT-level AFTER trigger function on ``cases`` with transition tables: a bulk
COPY of 10⁵ rows pays one GROUP BY, not a trigger per row; an UPDATE that leaves the key alone
(most workflow steps that keep the status, a note, a revision) writes nothing. The function runs
as the schema's owner (SECURITY DEFINER, a fixed search_path): the app's role reads the table
but never writes it (geo.store.migrate.grant_runtime). ``case_count_rebuild()`` (same owner)
recounts from the cases under a SHARE lock: the backfill here and ``gridmap cases recount``.

Days before today all mean "overdue", so ``case_count_fold()`` (the overdue_scan job, every minute)
adds their rows into one per key with ``due_day`` 0: the table stays about keys × days ahead, not
keys × every day a deadline ever fell on (115,000 rows for 10⁶ cases over 60 days before, 2,000
after). A case counted on day D and later taken off at 0 (or the other way) leaves +1 and -1 on
two past days: the sums the map reads are the same, and ``gridmap cases recount --check`` folds
past days on both sides before comparing.

``NEXT_DUE_SQL`` is a frozen copy of geo.store.vocabulary.next_due_sql(""); tests/test_one_home.py
pins it, so a change of the vocabulary needs a migration that recreates the function and index.

Revision ID: 0021_counters
Revises: 0020_bulk_load
"""

import sqlalchemy as sa
from alembic import op

revision = "0021_counters"
down_revision = "0020_bulk_load"
branch_labels = None
depends_on = None

#: Frozen copy of geo.store.vocabulary.next_due_sql("") at this revision.
NEXT_DUE_SQL = """CASE WHEN status = 'received' THEN dispatch_due
     WHEN status IN ('dispatched', 'signed') THEN least(respond_due, resolve_due)
     WHEN status IN ('responded', 'in_progress', 'returned', 'suspended') THEN resolve_due END"""

#: The counter key, and how a row of ``cases`` (or a transition table) yields it.
KEY = "street_code, community_code, category_code, status, due_day"
_KEY_OF_CASE = ("street_code, community_code, category_code, status, "
                f"floor(extract(epoch FROM {NEXT_DUE_SQL}) / 86400)::int")


#: Today as days since 1970-01-01 (UTC), and the deadline day every day before today is folded into.
TODAY = "floor(extract(epoch FROM now()) / 86400)::int"
PAST = 0


def _upsert(select: str) -> str:
    return (f"INSERT INTO case_count AS k ({KEY}, cases) {select} "
            f"ON CONFLICT ({KEY}) DO UPDATE SET cases = k.cases + EXCLUDED.cases")


def upgrade() -> None:
    op.create_table(
        "case_count",
        sa.Column("street_code", sa.String(32)),
        sa.Column("community_code", sa.String(32)),
        sa.Column("category_code", sa.String(4), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("due_day", sa.Integer),
        sa.Column("cases", sa.Integer, nullable=False),
    )
    op.execute(f"CREATE UNIQUE INDEX uq_case_count_key ON case_count ({KEY}) NULLS NOT DISTINCT")
    op.execute(f"CREATE INDEX ix_cases_next_due ON cases (({NEXT_DUE_SQL}))")
    grouped = "SELECT {key}, {sign} count(*) FROM {table} GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5"
    op.execute(f"""
        CREATE FUNCTION case_count_apply() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                {_upsert(grouped.format(key=_KEY_OF_CASE, sign='', table='new_cases'))};
            ELSIF TG_OP = 'DELETE' THEN
                {_upsert(grouped.format(key=_KEY_OF_CASE, sign='-', table='old_cases'))};
            ELSIF TG_OP = 'UPDATE' THEN
                {_upsert(f'''SELECT {KEY}, sum(d) FROM (
                    SELECT {_KEY_OF_CASE}, 1 FROM new_cases
                    UNION ALL SELECT {_KEY_OF_CASE}, -1 FROM old_cases) m (street_code, community_code,
                    category_code, status, due_day, d)
                    GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5''')};
            ELSE
                DELETE FROM case_count;
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER case_count_insert AFTER INSERT ON cases REFERENCING NEW TABLE AS new_cases "
               "FOR EACH STATEMENT EXECUTE FUNCTION case_count_apply()")
    op.execute("CREATE TRIGGER case_count_update AFTER UPDATE ON cases REFERENCING OLD TABLE AS old_cases "
               "NEW TABLE AS new_cases FOR EACH STATEMENT EXECUTE FUNCTION case_count_apply()")
    op.execute("CREATE TRIGGER case_count_delete AFTER DELETE ON cases REFERENCING OLD TABLE AS old_cases "
               "FOR EACH STATEMENT EXECUTE FUNCTION case_count_apply()")
    op.execute("CREATE TRIGGER case_count_truncate AFTER TRUNCATE ON cases "
               "FOR EACH STATEMENT EXECUTE FUNCTION case_count_apply()")
    op.execute(f"""
        CREATE FUNCTION case_count_fold() RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE n integer;
        BEGIN
            WITH gone AS (
                DELETE FROM case_count WHERE due_day < {TODAY} AND due_day <> {PAST}
                RETURNING street_code, community_code, category_code, status, cases)
            {_upsert(f"SELECT street_code, community_code, category_code, status, {PAST}, sum(cases) FROM gone "
                     "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4")};
            GET DIAGNOSTICS n = ROW_COUNT;
            DELETE FROM case_count WHERE cases = 0;
            RETURN n;
        END $$""")
    op.execute(f"""
        CREATE FUNCTION case_count_rebuild() RETURNS bigint
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE n bigint;
        BEGIN
            LOCK TABLE cases IN SHARE MODE;  -- no case is written while the counters are recounted
            DELETE FROM case_count;
            INSERT INTO case_count ({KEY}, cases)
                SELECT {_KEY_OF_CASE}, count(*) FROM cases GROUP BY 1, 2, 3, 4, 5;
            GET DIAGNOSTICS n = ROW_COUNT;
            PERFORM case_count_fold();
            RETURN n;
        END $$""")
    op.execute("SELECT case_count_rebuild()")


def downgrade() -> None:
    for trigger in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER case_count_{trigger} ON cases")
    op.execute("DROP FUNCTION case_count_rebuild()")
    op.execute("DROP FUNCTION case_count_fold()")
    op.execute("DROP FUNCTION case_count_apply()")
    op.execute("DROP INDEX ix_cases_next_due")
    op.drop_table("case_count")
