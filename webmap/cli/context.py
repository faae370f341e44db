"""The CLI's composition root: settings, the lazily made engine, one transaction per command, and
the ``main`` group that turns domain errors into a message and exit status 1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session

from geo.domain.errors import GridmapError
from geo.services.boundaries import BoundarySettings
from geo.services.cases import CaseSettings
from geo.store.db import make_engine
from webmap.config import boundary_settings, case_settings, load_config

__all__ = ["Context", "Group", "main", "pass_ctx"]


class Context:
    def __init__(self) -> None:
        self.config = load_config()
        self._engine: Engine | None = None
        self._owner_engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            # PostgreSQL itself, never a transaction pooler: the jobs leader's session advisory lock,
            # an import's long transactions (GRIDMAP_DIRECT_DATABASE_URL, by default DATABASE_URL).
            self._engine = make_engine(self.config["GRIDMAP_DIRECT_DATABASE_URL"], pool_size=1,
                                       timezone=self.config["GRIDMAP_TIMEZONE"])
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block succeeds, rolled back when it raises."""
        with Session(self.engine) as session, session.begin():
            yield session

    @property
    def owner_engine(self) -> Engine:
        """The schema owner's engine (GRIDMAP_MIGRATE_URL): migrations, backups and restores."""
        if self._owner_engine is None:
            self._owner_engine = make_engine(self.config["GRIDMAP_MIGRATE_URL"], pool_size=1,
                                             timezone=self.config["GRIDMAP_TIMEZONE"])
        return self._owner_engine

    @contextmanager
    def owner_session(self) -> Iterator[Session]:
        """One transaction as the schema's owner."""
        with Session(self.owner_engine) as session, session.begin():
            yield session

    @property
    def app_role(self) -> str | None:
        """The role the app connects as, when it is not the schema's owner (it then gets grants)."""
        app, owner = make_url(self.config["DATABASE_URL"]), make_url(self.config["GRIDMAP_MIGRATE_URL"])
        return app.username if app.username != owner.username else None

    def boundary_settings(self) -> BoundarySettings:
        return boundary_settings(self.config)

    def case_settings(self) -> CaseSettings:
        return case_settings(self.config)


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def _fail(exc: GridmapError) -> None:
    where = f"（{exc.field}）" if exc.field else ""
    click.secho(f"错误 [{exc.code}]{where}：{exc.message}", fg="red", err=True)
    committed = exc.details.get("committed_rows") if isinstance(exc.details, dict) else None
    click.echo(f"之前的批次已提交（{committed} 行）。" if committed else "数据库没有任何改动。", err=True)
    sys.exit(1)


class Group(click.Group):
    """Turns domain errors into a clear message and exit status 1, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GridmapError as exc:
            _fail(exc)


@click.group(cls=Group)
def main() -> None:
    """gridmap：网格化管理地图的命令行。"""
