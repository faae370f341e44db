"""``gridmap demo``: the sample boundaries, reference data, users and 12345 tickets in ``data/``."""

from __future__ import annotations

import sys

import click
from tqdm import tqdm

from geo.domain.workflow import ROLE_NAMES
from geo.services import boundaries as boundary_service
from geo.services import demo as demo_service
from webmap import ROOT
from webmap.cli.boundaries import print_load_report
from webmap.cli.cases import run_import
from webmap.cli.context import Context, main, pass_ctx

DATA_DIR = ROOT / "data"


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="数据库里已有边界时什么都不做")
@pass_ctx
def demo(ctx: Context, if_empty: bool) -> None:
    """加载示例数据（data/boundaries/ 中的合成边界）。"""
    with ctx.session() as session:
        if if_empty and boundary_service.has_boundaries(session):
            click.echo("已有边界数据，跳过示例数据。")
            return
        with tqdm(total=len(demo_service.SAMPLE_LAYERS), desc="示例边界", unit="层", file=sys.stderr) as bar:
            def loaded(report: boundary_service.LoadReport) -> None:
                print_load_report(report)
                bar.update(1)

            samples = demo_service.load_samples(session, DATA_DIR, settings=ctx.boundary_settings(), loaded=loaded)
    _print_samples(samples)
    tickets = DATA_DIR / demo_service.TICKETS.path
    if tickets.exists():
        run_import(ctx, tickets, source=demo_service.TICKETS.source, crs=demo_service.TICKETS.crs, fields={},
                   encoding=None, rejects=None)
        with ctx.session() as session:
            events = demo_service.simulate_history(session)
        click.echo(f"已为示例案件生成 {events} 条处理记录（派遣、签收……回访），供统计和热点演示")


def _print_samples(samples: demo_service.SampleReport) -> None:
    click.echo(f"已加载示例部门和责任清单（{samples.duty_rules} 条规则）")
    click.echo(f"示例用户（密码都是 {samples.password}，本次随机生成、只显示这一次；仅供演示，上线前请删除或停用）：")
    for user in samples.users:
        click.echo(f"  {user.username:<10} {ROLE_NAMES[user.role]}  {user.display_name}  范围 {user.scope or '全市'}"
                   f"{'  部门 ' + user.department if user.department else ''}")
