"""``gridmap cases``: bulk import of 12345 tickets, rerouting to new grids, export."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from sqlalchemy.orm import Session
from tqdm import tqdm

from geo.domain.exports import FORMATS
from geo.domain.filters import CaseFilters
from geo.services import case_counts as count_service
from geo.services import imports as import_service
from geo.services.cases import export_cases
from geo.services.reroute import outdated_count, reroute_cases
from webmap.cli.context import Context, Group, main, pass_ctx


@main.group(cls=Group)
def cases() -> None:
    """案件：批量导入 12345 工单、导出。"""


@cases.command("import")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--crs", required=True, help="坐标系：wgs84、cgcs2000、gcj02（高德/腾讯）、bd09（百度）或 EPSG:n")
@click.option("--source", required=True, help="来源名，如 12345；与工单编号一起保证不重复导入")
@click.option("--id-field", help="工单编号列（默认识别 工单编号、编号 …）")
@click.option("--lon-field", help="经度列")
@click.option("--lat-field", help="纬度列")
@click.option("--category-field", help="问题分类列（编码或名称）")
@click.option("--description-field", help="诉求内容列")
@click.option("--time-field", help="受理时间列（无时区的时间按 GRIDMAP_TIMEZONE）")
@click.option("--requester-name-field", help="诉求人列（默认识别 诉求人、来电人、联系人 …；可无）")
@click.option("--requester-phone-field", help="联系电话列（默认识别 联系电话、来电号码 …；可无）")
@click.option("--requester-email-field", help="电子邮箱列（可无）")
@click.option("--request-type-field", help="诉求类型列：咨询、求助、投诉、举报、建议 或其英文代码（可无）")
@click.option("--address-field", help="地址列（默认识别 事发地址、地址 …）：没有经纬度的行按地址库定位，找不到的行拒绝")
@click.option("--encoding", help="CSV 编码（默认自动识别 UTF-8/带 BOM/GBK）")
@click.option("--rejects", type=click.Path(path_type=Path), help="把被拒绝的行（行号、原因）写到这个 CSV")
@click.option("--load", "load", type=click.Choice(["auto", "batches", "bulk"]), default="auto", show_default=True,
              help="batches：每批一个事务（导入时地图照常可用）；bulk：整个文件一个事务，先写入再一次性重建"
                   "案件表的索引和外键（首次导入大量历史工单时快得多，期间案件表被锁定）；"
                   f"auto：不少于 {import_service.BULK_MIN_ROWS:,} 行且不少于库中已有案件数时用 bulk")
@click.option("--no-stats", is_flag=True,
              help="导入后不计入统计（连续导入多个文件时用，最后运行一次 gridmap stats refresh）")
@pass_ctx
def cases_import(ctx: Context, path: Path, crs: str, source: str, encoding: str | None, rejects: Path | None,
                 load: str, no_stats: bool, **fields: str | None) -> None:
    """批量导入 CSV/XLSX 工单：按批原子写入，可重复运行（按 来源+工单编号 去重）；结束时把新案件计入统计。"""
    names = {k.removesuffix("_field"): v for k, v in fields.items()}
    run_import(ctx, path, source=source, crs=crs, fields=names, encoding=encoding, rejects=rejects,
               stats=not no_stats, load=load)


def run_import(ctx: Context, path: Path, *, source: str, crs: str, fields: dict[str, str | None],
               encoding: str | None, rejects: Path | None, stats: bool = True, load: str = "auto") -> None:
    """Import a ticket file: one transaction to prepare, then one per batch of GRIDMAP_IMPORT_BATCH
    rows (a killed import leaves whole batches only), or the whole file in one transaction with the
    indexes rebuilt after it (``load``: see import_service.wants_bulk); also used by ``gridmap demo``."""
    started = time.perf_counter()
    with ctx.session() as session:
        plan, summary = import_service.prepare_import(
            session, path, source=source, crs=crs, fields=fields, encoding=encoding,
            settings=ctx.case_settings(), batch_size=ctx.config["GRIDMAP_IMPORT_BATCH"])
        bulk = import_service.wants_bulk(session, plan, load)
    with tqdm(total=len(plan.validated.good), desc="导入", unit="行", file=sys.stderr) as bar:
        if bulk:
            click.echo("整个文件一个事务写入，写完后重建案件表的索引（期间案件表被锁定）……", err=True)
            try:
                with ctx.session() as session:
                    summary.add(*import_service.import_bulk(
                        session, plan, bar.update, lock_seconds=ctx.config["GRIDMAP_IMPORT_LOCK_SECONDS"]))
            except import_service.DATABASE_ERRORS as exc:  # rolled back whole, the indexes restored
                raise import_service.batch_failure(1, plan.validated.good, summary, exc) from exc
        for number, batch in enumerate(() if bulk else plan.batches(), start=1):
            try:
                with ctx.session() as session:
                    imported, skipped, refused = import_service.import_batch(session, plan, batch)
            except import_service.DATABASE_ERRORS as exc:  # rolled back whole: say which and why, no traceback
                raise import_service.batch_failure(number, batch, summary, exc) from exc
            summary.add(imported, skipped, refused)
            bar.update(len(batch))
    if summary.imported and stats:
        folding = time.perf_counter()
        try:
            with ctx.session() as session:  # the cases are committed already; this brings statistics up to date
                folded = import_service.finish_import(session)
        except import_service.DATABASE_ERRORS as exc:
            raise import_service.fold_failure(summary, exc) from exc
        click.echo(f"统计已更新：计入 {folded} 个案件，用时 {time.perf_counter() - folding:.1f} 秒")
    summary.seconds = time.perf_counter() - started
    if rejects is not None:
        import pandas as pd

        count = import_service.write_rejects(rejects, plan, pd.concat(summary.refused))
        click.echo(f"被拒绝的 {count} 行已写入 {rejects}")
    click.echo(summary.line())


@cases.command("reroute")
@click.option("--dry-run", is_flag=True, help="只统计会改变的案件，不写入")
@pass_ctx
def cases_reroute(ctx: Context, dry_run: bool) -> None:
    """把按旧网格版本定位的案件改到当前网格（新边界加载后运行）：重新计算网格、社区、街道、区编码，
    主责部门和时限不变；编码改变的案件各记一条 reroute 事件；不在任何新网格内的案件保留原编码。"""
    with Session(ctx.engine) if dry_run else ctx.session() as session:  # a dry run is never committed
        total = outdated_count(session)
        with tqdm(total=total, desc="重新定位", unit="件", file=sys.stderr) as bar:
            report = reroute_cases(session, dry_run=dry_run, progress=bar.update)
    click.echo(("（试运行，未写入）" if dry_run else "") + report.line())


@cases.command("recount")
@click.option("--check", is_flag=True, help="只核对，不改；有不符时退出码为 1")
@pass_ctx
def cases_recount(ctx: Context, check: bool) -> None:
    """核对地图的案件计数（case_count，由案件表的触发器维护）与案件本身是否一致；不加 --check 时重新计数
    （重算期间案件写入要等待，10⁶ 件约几秒）。"""
    with Session(ctx.engine) as session:
        wrong = count_service.check_counts(session)
    if check:
        click.echo(f"{len(wrong)} 个计数不符。" if wrong else "计数与案件一致。")
        for row in wrong[:20]:
            click.echo(f"  {dict(row)}")
        if wrong:
            raise SystemExit(1)
        return
    with ctx.session() as session:
        rows = count_service.recount(session)
    click.echo(f"已重新计数（此前 {len(wrong)} 个不符，现有 {rows} 个计数）。")


@cases.command("export")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--status", multiple=True, help="只导出这些状态（可多次给出）")
@click.option("--source", help="只导出这个来源")
@pass_ctx
def cases_export(ctx: Context, output: Path, fmt: str, status: tuple[str, ...], source: str | None) -> None:
    """导出案件（WGS84）：id, external_id, source, category, status, lon, lat, 各级编码, 主责部门, 诉求类型,
    时间；从不导出诉求人姓名和电话。"""
    with ctx.session() as session:
        count = export_cases(session, output, fmt, filters=CaseFilters(statuses=status, source=source))
    click.echo(f"已导出 {count} 个案件到 {output}")
