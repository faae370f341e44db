"""``gridmap boundaries``: load, check and export the boundary levels."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from tqdm import tqdm

from geo.domain.boundaries import LEVELS
from geo.domain.exports import FORMATS
from geo.services import boundaries as boundary_service
from webmap.cli.context import Context, Group, main, pass_ctx

LEVEL_CHOICE = click.Choice(LEVELS)


@main.group(cls=Group)
def boundaries() -> None:
    """边界：加载、检查、导出。"""


@boundaries.command("load")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--level", type=LEVEL_CHOICE, required=True, help="层级")
@click.option("--code-field", help="编码字段（默认自动识别 code、网格编码 等）")
@click.option("--name-field", help="名称字段（默认自动识别 name、名称 等）")
@click.option("--parent-field", help="上级编码字段；不给时按空间包含（最大重叠）确定上级")
@click.option("--encoding", help="Shapefile 文字编码，如 gbk（无 .cpg 时自动识别 UTF-8/GBK）")
@click.option("--crs", help="文件没有坐标系时指定，如 EPSG:4548、cgcs2000、wgs84")
@click.option("--layer", help="GeoPackage 等多图层文件中的图层名")
@pass_ctx
def boundaries_load(ctx: Context, path: Path, level: str, **options: Any) -> None:
    """加载一个层级的边界文件，成为该层级的新版本（原子操作）。"""
    with tqdm(total=4, desc="加载", unit="步", file=sys.stderr, leave=False) as bar:
        def progress(step: str) -> None:
            bar.set_description(step)
            bar.update(1)

        with ctx.session() as session:
            report = boundary_service.load_boundaries(
                session, path, level, settings=ctx.boundary_settings(), progress=progress, **options)
    print_load_report(report)


def print_load_report(report: boundary_service.LoadReport) -> None:
    """One line for a loaded level, then its repairs and warnings (also used by ``gridmap demo``)."""
    replaced = f"，替换版本 {report.replaced_version_id}" if report.replaced_version_id else ""
    click.echo(f"已加载 {report.feature_count} 个 {report.level}（版本 {report.version_id}{replaced}），"
               f"坐标系 {report.source_crs}，用时 {report.seconds:.2f} 秒")
    for repair in report.repairs:
        click.secho(f"  已修复无效几何 {repair['code']}：{repair['reason']}", fg="yellow")
    for warning in report.warnings:
        click.secho(f"  注意：{warning}", fg="yellow")


@boundaries.command("check")
@click.option("--level", type=LEVEL_CHOICE, help="只检查这一层级（默认全部）")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--strict", is_flag=True, help="有任何问题时以非零状态退出")
@pass_ctx
def boundaries_check(ctx: Context, level: str | None, fmt: str, strict: bool) -> None:
    """检查缝隙、重叠、超出上级、孤儿（上级不存在）和过大的网格。"""
    levels = (level,) if level else LEVELS
    with ctx.session() as session:
        findings = boundary_service.check_boundaries(session, levels=levels, settings=ctx.boundary_settings())
    if fmt == "json":
        click.echo(json.dumps({"findings": [f.as_dict() for f in findings], "count": len(findings)},
                              ensure_ascii=False, indent=2))
    else:
        for f in findings:
            where = f" @ {f.location[0]:.6f},{f.location[1]:.6f}" if f.location else ""
            click.echo(f"[{f.level}] {f.kind}: {f.message}{where}")
        click.echo(f"共 {len(findings)} 个问题（检查层级：{', '.join(levels)}）")
    if strict and findings:
        sys.exit(1)


@boundaries.command("export")
@click.option("--level", type=LEVEL_CHOICE, required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@pass_ctx
def boundaries_export(ctx: Context, level: str, fmt: str, output: Path) -> None:
    """导出当前版本的一个层级（code, name, parent_code, area_m2 和几何）。"""
    with ctx.session() as session:
        count = boundary_service.export_boundaries(session, level, fmt, output)
    click.echo(f"已导出 {count} 个 {level} 到 {output}")
