"""``gridmap categories|departments|duties|calendar load FILE``: the reference data loaders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from geo.services import reference as reference_service
from webmap.cli.context import Context, Group, main, pass_ctx

#: (group, group help, load help, service, message): `gridmap GROUP load FILE [--encoding ENC]`.
REFERENCE_LOADS: tuple[tuple[str, str, str, Any, str], ...] = (
    ("categories", "问题分类（4 位编码）。",
     "新增或更新分类：code, name, major_name, urgency, resolve_limit_hours, clock。",
     reference_service.load_categories, "已加载 {} 个分类"),
    ("departments", "职能部门及其下属单位（可带辖区多边形）。",
     "新增或更新部门：CSV/XLSX（code, name, parent_code），或带辖区多边形的 GeoJSON/GPKG/SHP。",
     reference_service.load_departments, "已加载 {} 个部门/单位"),
    ("duties", "责任清单：分类 + 范围 → 主责部门和协办部门。",
     "整体替换责任清单：category, scope, lead, co, resolve_limit_hours。",
     reference_service.load_duties, "已加载 {} 条责任清单规则"),
    ("calendar", "工作日日历：节假日和调休上班日（按工作日计时的分类用）。",
     "加载节假日/调休：day, kind（holiday/workday）, name。",
     reference_service.load_calendar, "已加载 {} 天"),
)


def _reference_group(name: str, group_help: str, load_help: str, load: Any, done: str) -> None:
    group = Group(name, help=group_help)

    @group.command("load", help=load_help)
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--encoding", help="编码（默认自动识别 UTF-8/GBK）")
    @pass_ctx
    def load_command(ctx: Context, path: Path, encoding: str | None) -> None:
        with ctx.session() as session:
            count = load(session, path, encoding=encoding)
        click.echo(done.format(count))

    main.add_command(group)


for _spec in REFERENCE_LOADS:
    _reference_group(*_spec)
