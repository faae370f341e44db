"""Run Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

__all__ = ["TRIGGER_KEPT_TABLES", "alembic_config", "append_only_tables", "current_revision", "grant_runtime",
           "head_revision", "upgrade"]

#: Tables written only by trigger functions that run as the schema's owner (migration 0021: the
#: map's case counts): the app's role reads them and nothing more, so they stay what the cases say.
TRIGGER_KEPT_TABLES = ("case_count",)


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "geo.store:migrations")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(connection: Connection, revision: str = "head") -> None:
    """Bring the schema to ``revision`` inside the caller's transaction."""
    command.upgrade(alembic_config(connection), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def append_only_tables(connection: Connection) -> list[str]:
    """Tables guarded by an ``*_append_only`` trigger (the migrations that create them are the rule)."""
    return list(connection.execute(text("""
        SELECT DISTINCT c.relname FROM pg_trigger t
          JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
          JOIN pg_proc p ON p.oid = t.tgfoid
         WHERE n.nspname = 'public' AND NOT t.tgisinternal AND p.proname LIKE '%\\_append\\_only'
         ORDER BY 1""")).scalars())


def grant_runtime(connection: Connection, role: str) -> None:
    """What the app's own role may do: read and write the tables, but only read and add to the
    append-only ones. It owns nothing, so it can neither drop nor disable their triggers, and it is
    no superuser, so ``session_replication_role`` stays out of its reach. Idempotent."""
    quote = connection.dialect.identifier_preparer.quote
    who = quote(role)
    connection.execute(text(f"GRANT USAGE ON SCHEMA public TO {who}"))
    connection.execute(text(f"GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO {who}"))
    connection.execute(text(f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO {who}"))
    for table in append_only_tables(connection):
        connection.execute(text(f"REVOKE UPDATE, DELETE, TRUNCATE ON {quote(table)} FROM {who}"))
    for table in TRIGGER_KEPT_TABLES:  # only their triggers (SECURITY DEFINER) write them
        if connection.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": table}).scalar_one():
            connection.execute(text(f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {quote(table)} FROM {who}"))
