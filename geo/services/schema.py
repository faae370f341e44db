"""Schema use cases: migrate to the newest revision, report where a database stands."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from geo.services.reference import install_seed_categories
from geo.store import migrate

__all__ = ["SchemaStatus", "schema_status", "upgrade_schema"]


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None
    head: str | None
    postgis: str | None

    @property
    def at_head(self) -> bool:
        return self.current == self.head


def upgrade_schema(connection: Connection, *, app_role: str | None = None) -> SchemaStatus:
    """Run every pending Alembic revision and add missing seed categories, in the caller's
    transaction (as the schema's owner); with ``app_role``, grant that role what the app needs."""
    migrate.upgrade(connection)
    install_seed_categories(Session(bind=connection))
    if app_role:
        migrate.grant_runtime(connection, app_role)
    return schema_status(connection)


def schema_status(connection: Connection) -> SchemaStatus:
    postgis = connection.execute(
        text("SELECT extversion FROM pg_extension WHERE extname = 'postgis'")
    ).scalar()
    return SchemaStatus(migrate.current_revision(connection), migrate.head_revision(), postgis)
