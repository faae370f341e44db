"""gridmap_bulk_load_begin() / gridmap_bulk_load_end(): a bulk load writes heap only.

A first import of a year of hotline history (10⁶–10⁷ rows into a near-empty ``cases``) spent
most of its time in PostgreSQL maintaining, row by row, what it could build once afterwards:
``cases``' secondary and unique indexes (the GiST on the point among them), the foreign-key
checks of ``cases`` and ``case_event`` (one query and one row lock per row) and ``case_event``'s
indexes. ``begin`` saves the definitions of those indexes and constraints, drops them and holds
``cases`` and ``case_event`` in ACCESS EXCLUSIVE mode; ``end`` recreates them in one sorted build
each (unique ones re-checked, foreign keys validated by one join). Both run in the caller's
transaction, so a failure anywhere, a duplicate found by a rebuilt unique index included, rolls
the drops back with the rows: nothing is lost or half written. The primary keys stay (other
tables reference ``cases.id``; the ids are appended in order, which costs little).

Both run as the schema's owner (SECURITY DEFINER, fixed search_path), because the app's role
owns nothing. The saved definitions live in a schema the app's role cannot read or write
(``gridmap_private``), and only the catalog ever fills them, so no caller can make ``end`` run
DDL of its choosing. A deferred constraint trigger refuses to COMMIT a transaction that called
``begin`` but not ``end``: the tables are never left without their indexes.

Revision ID: 0020_bulk_load
Revises: 0019_addresses
"""

from alembic import op

revision = "0020_bulk_load"
down_revision = "0019_addresses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SCHEMA IF NOT EXISTS gridmap_private")
    op.execute("REVOKE ALL ON SCHEMA gridmap_private FROM PUBLIC")
    op.execute("""
        CREATE TABLE gridmap_private.bulk_load_saved (
            ord serial PRIMARY KEY,
            table_name text NOT NULL,
            name text NOT NULL,
            kind char(1) NOT NULL CHECK (kind IN ('i', 'u', 'f')),
            definition text NOT NULL
        )""")
    op.execute("""
        CREATE FUNCTION gridmap_private.bulk_load_unfinished() RETURNS trigger
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM gridmap_private.bulk_load_saved) THEN
                RAISE EXCEPTION 'gridmap_bulk_load_begin() was called without gridmap_bulk_load_end(): '
                    'the indexes of cases and case_event must be rebuilt before COMMIT'
                    USING ERRCODE = 'invalid_transaction_termination';
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE CONSTRAINT TRIGGER bulk_load_unfinished AFTER INSERT ON gridmap_private.bulk_load_saved
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION gridmap_private.bulk_load_unfinished()""")
    op.execute("""
        CREATE FUNCTION gridmap_bulk_load_begin() RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE r record; n integer := 0;
        BEGIN
            IF EXISTS (SELECT 1 FROM gridmap_private.bulk_load_saved) THEN
                RAISE EXCEPTION 'a bulk load is already in progress in this transaction'
                    USING ERRCODE = 'object_in_use';
            END IF;
            LOCK TABLE public.cases, public.case_event IN ACCESS EXCLUSIVE MODE;
            FOR r IN SELECT c.conrelid::regclass::text AS tbl, c.conname, c.contype, pg_get_constraintdef(c.oid) AS def
                     FROM pg_constraint c
                     WHERE c.conrelid IN ('public.cases'::regclass, 'public.case_event'::regclass)
                       AND c.contype IN ('f', 'u')
                     ORDER BY c.contype, c.conname
            LOOP
                INSERT INTO gridmap_private.bulk_load_saved (table_name, name, kind, definition)
                VALUES (r.tbl, r.conname, r.contype, r.def);
                EXECUTE format('ALTER TABLE public.%I DROP CONSTRAINT %I', r.tbl, r.conname);
                n := n + 1;
            END LOOP;
            FOR r IN SELECT i.indrelid::regclass::text AS tbl, x.relname, pg_get_indexdef(i.indexrelid) AS def
                     FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
                     WHERE i.indrelid IN ('public.cases'::regclass, 'public.case_event'::regclass)
                       AND NOT i.indisprimary
                       AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                                       WHERE k.conindid = i.indexrelid AND k.conrelid = i.indrelid)
                     ORDER BY x.relname
            LOOP
                INSERT INTO gridmap_private.bulk_load_saved (table_name, name, kind, definition)
                VALUES (r.tbl, r.relname, 'i', r.def);
                EXECUTE format('DROP INDEX public.%I', r.relname);
                n := n + 1;
            END LOOP;
            RETURN n;
        END $$""")
    op.execute("""
        CREATE FUNCTION gridmap_bulk_load_end() RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
        DECLARE r record; n integer := 0;
        BEGIN
            PERFORM set_config('maintenance_work_mem', '512MB', true);
            -- indexes and unique constraints first: the foreign keys' validation joins use them
            FOR r IN SELECT * FROM gridmap_private.bulk_load_saved ORDER BY kind = 'f', ord LOOP
                IF r.kind = 'i' THEN
                    EXECUTE r.definition;
                ELSE
                    EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I %s', r.table_name, r.name, r.definition);
                END IF;
                n := n + 1;
            END LOOP;
            DELETE FROM gridmap_private.bulk_load_saved;
            RETURN n;
        END $$""")
    op.execute("REVOKE ALL ON FUNCTION gridmap_private.bulk_load_unfinished() FROM PUBLIC")


def downgrade() -> None:
    op.execute("DROP FUNCTION gridmap_bulk_load_end()")
    op.execute("DROP FUNCTION gridmap_bulk_load_begin()")
    op.execute("DROP SCHEMA gridmap_private CASCADE")
