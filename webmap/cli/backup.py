"""``gridmap backup`` and ``gridmap restore``: the whole database through pg_dump / pg_restore."""

from __future__ import annotations

from pathlib import Path

import click

from geo.services import backups as backup_service
from webmap.cli.context import Context, main, pass_ctx


@main.command("backup")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="备份文件（pg_dump 自定义格式），如 gridmap-2026-11-28.dump")
@pass_ctx
def backup(ctx: Context, output: Path) -> None:
    """用 pg_dump 备份整个数据库（结构、PostGIS、边界、案件、事件、照片）到一个文件；不影响在线使用。"""
    url = ctx.owner_engine.url.render_as_string(hide_password=False)
    with ctx.owner_engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        report = backup_service.backup_database(conn, url, output)
    click.echo(f"已备份数据库 {report.database} 到 {report.path}（{report.size_bytes / 2**20:.1f} MB，"
               f"{report.seconds:.1f} 秒）：{backup_service.counts_line(report.counts)}")


@main.command("restore")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="目标数据库不是空的也恢复：先删除备份里也有的对象（同一事务）")
@pass_ctx
def restore(ctx: Context, path: Path, force: bool) -> None:
    """用 pg_restore 把 gridmap backup 的文件恢复到 GRIDMAP_MIGRATE_URL（默认 DATABASE_URL）的空数据库（单个事务）。"""
    report = backup_service.restore_database(ctx.owner_engine, path, force=force, app_role=ctx.app_role)
    click.echo(f"已从 {report.path} 恢复到数据库 {report.database}（{report.seconds:.1f} 秒）："
               f"{backup_service.counts_line(report.counts)}")
