"""``gridmap callbacks``: the 12345 centre's callback results (回访结果) imported in bulk."""

from __future__ import annotations

from pathlib import Path

import click

from geo.services import callbacks as callback_service
from webmap.cli.context import Context, Group, main, pass_ctx


@main.group(cls=Group)
def callbacks() -> None:
    """回访：导入 12345 中心的回访结果。"""


@callbacks.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--source", default="12345", show_default=True, help="工单来源（与工单编号一起找到案件）")
@click.option("--encoding", help="CSV 编码（默认自动识别 UTF-8/带 BOM/GBK）")
@click.option("--rejects", type=click.Path(path_type=Path), help="把被拒绝的行（行号、原因、原始列）写到这个 CSV")
@pass_ctx
def callbacks_import(ctx: Context, path: Path, source: str, encoding: str | None, rejects: Path | None) -> None:
    """导入回访结果（列：工单编号、是否联系、是否解决、是否满意、回访时间）。整个文件一次写入；
    可重复运行：同一轮已有相同结果的跳过，结果不同的拒绝。"""
    with ctx.session() as session:
        summary = callback_service.import_callbacks(session, path, source=source, encoding=encoding,
                                                    timezone=ctx.config["GRIDMAP_TIMEZONE"])
    if rejects is not None and len(summary.refused):
        count = callback_service.write_rejects(rejects, path, summary.refused, encoding=encoding)
        click.echo(f"被拒绝的 {count} 行已写入 {rejects}")
    click.echo(summary.line())
