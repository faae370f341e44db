"""``gridmap addresses load FILE``: the address gazetteer (地址库) the search box, the case API and imports use."""

from __future__ import annotations

from pathlib import Path

import click

from geo.services import addresses as address_service
from webmap.cli.context import Context, Group, main, pass_ctx


@main.group(cls=Group)
def addresses() -> None:
    """地址库：标准地址、门牌及其坐标（搜索框、按地址上报、按地址导入工单用）。"""


@addresses.command("load")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", help="坐标系：wgs84、cgcs2000、gcj02（高德/腾讯）、bd09（百度）或 EPSG:n；"
                            "CSV/XLSX 默认 wgs84，GeoJSON/GPKG/SHP 默认取文件自带的")
@click.option("--encoding", help="CSV/Shapefile 编码（默认自动识别 UTF-8/GBK）")
@click.option("--layer", help="GeoPackage 的图层名（有多个图层时）")
@click.option("--address-field", help="地址列（默认识别 标准地址、地址、门牌 …）")
@click.option("--x-field", help="经度或 X 列（默认识别 经度、lon、X …）")
@click.option("--y-field", help="纬度或 Y 列（默认识别 纬度、lat、Y …）")
@click.option("--replace", is_flag=True, help="先清空地址库再加载（默认按地址新增或更新）")
@click.option("--rejects", type=click.Path(path_type=Path), help="把被拒绝的行（行号、原因）写到这个 CSV")
@pass_ctx
def addresses_load(ctx: Context, path: Path, crs: str | None, encoding: str | None, layer: str | None,
                   address_field: str | None, x_field: str | None, y_field: str | None, replace: bool,
                   rejects: Path | None) -> None:
    """加载地址库：CSV/XLSX（地址 + 经纬度或平面 X/Y）或点图层 GeoJSON/GeoPackage/Shapefile；同一地址（规范化后）
    再次加载时更新位置。"""
    with ctx.session() as session:
        summary = address_service.load_addresses(
            session, path, crs=crs, encoding=encoding, layer=layer, replace=replace,
            fields={"address": address_field, "x": x_field, "y": y_field})
    if rejects is not None:
        count = address_service.write_rejects(rejects, summary)
        click.echo(f"被拒绝的 {count} 行已写入 {rejects}")
    click.echo(summary.line())
