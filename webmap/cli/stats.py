"""``gridmap stats``: indicators and rankings per boundary and department, for planners."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from geo.domain.exports import TABLE_FORMATS
from geo.services.reports import STATS_LEVELS, export_measures
from geo.services.stats import rebuild_facts, refresh_facts
from webmap.cli.context import Context, Group, main, pass_ctx
from webmap.config import score_weights


@main.group(cls=Group)
def stats() -> None:
    """统计：各级区划和部门的指标、排名（按 case_event 计算），导出给规划人员。"""


@stats.command("export")
@click.option("--level", required=True, type=click.Choice(STATS_LEVELS),
              help="district、street、community、grid，或 departments（部门）")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), help="受理日期起（含），如 2026-11-01")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), help="受理日期止（含），如 2026-11-30")
@click.option("--format", "fmt", type=click.Choice(TABLE_FORMATS), required=True,
              help="csv（Excel，UTF-8 带 BOM）、xlsx、geojson、gpkg（带边界，可在 QGIS 打开）")
@click.option("--scope", default="", help="只导出这个区划编码之下的边界")
@click.option("--request-type", help="只统计这一诉求类型的案件：咨询、求助、投诉、举报、建议 或其英文代码")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@pass_ctx
def stats_export(ctx: Context, level: str, date_from: Any, date_to: Any, fmt: str, scope: str,
                 request_type: str | None, output: Path) -> None:
    """导出指标表：案件数、响应率、解决率、满意率、按期办结率、报到及时率（分子分母并列）、综合得分与排名等。"""
    started = time.perf_counter()
    with ctx.session() as session:
        count = export_measures(session, level, fmt, output, date_from=date_from.date() if date_from else None,
                                date_to=date_to.date() if date_to else None, scope=scope,
                                weights=score_weights(ctx.config), request_type=request_type,
                                min_cases=int(ctx.config["GRIDMAP_RANK_MIN_CASES"]))
    click.echo(f"已导出 {count} 行到 {output}（{time.perf_counter() - started:.1f} 秒）")


@stats.command("refresh")
@click.option("--rebuild", is_flag=True, help="清空后按全部 case_event 重算（审计用）")
@pass_ctx
def stats_refresh(ctx: Context, rebuild: bool) -> None:
    """把新的案件事件计入统计事实表。后台任务 stats_fold 每 GRIDMAP_JOB_STATS_SECONDS 秒自动做一次
    （gridmap worker，gridmap serve 会启动）；这里立即做一次，如批量导入之后。"""
    started = time.perf_counter()
    with ctx.session() as session:
        count = rebuild_facts(session) if rebuild else refresh_facts(session)
    click.echo(f"已处理 {count} 个案件的事实（{time.perf_counter() - started:.1f} 秒）")
