"""``gridmap db``: the database schema (Alembic migrations)."""

from __future__ import annotations

import sys

import click

from geo.services.schema import schema_status, upgrade_schema
from webmap.cli.context import Context, Group, main, pass_ctx


@main.group(cls=Group)
def db() -> None:
    """数据库结构（Alembic 迁移）。"""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """把数据库结构升级到最新版本（含 PostGIS 扩展）；以 GRIDMAP_MIGRATE_URL（结构所有者）连接，并给应用角色授权。"""
    with ctx.owner_session() as session:
        status = upgrade_schema(session.connection(), app_role=ctx.app_role)
    click.echo(f"数据库结构已是最新：{status.current}（PostGIS {status.postgis}）")


@db.command("status")
@pass_ctx
def db_status(ctx: Context) -> None:
    """显示数据库结构版本。"""
    with ctx.session() as session:
        status = schema_status(session.connection())
    click.echo(f"当前 {status.current}，最新 {status.head}，PostGIS {status.postgis}")
    if not status.at_head:
        click.echo("需要运行：gridmap db upgrade")
        sys.exit(1)
