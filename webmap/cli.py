"""The ``gridmap`` command: database, boundaries, demo data, serving.

``DATABASE_URL`` (``postgresql://`` or ``postgresql+psycopg://``) selects the database; without it
the project-local cluster on ``GRIDMAP_PGPORT`` is used. Each command is one transaction: it
commits when it succeeds and changes nothing when it fails.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from tqdm import tqdm

from geo.domain.boundaries import LEVELS
from geo.domain.errors import GridmapError
from geo.domain.exports import FORMATS, TABLE_FORMATS
from geo.domain.filters import CaseFilters
from geo.domain.workflow import ROLE_NAMES, ROLES
from geo.services import accounts
from geo.services import backups as backup_service
from geo.services import boundaries as boundary_service
from geo.services import imports as import_service
from geo.services import outbox as outbox_service
from geo.services import reference as reference_service
from geo.services.boundaries import BoundarySettings
from geo.services.cases import CaseSettings, export_cases
from geo.services.demo import simulate_history
from geo.services.reports import STATS_LEVELS, export_measures
from geo.services.reroute import outdated_count, reroute_cases
from geo.services.schema import schema_status, upgrade_schema
from geo.services.stats import rebuild_facts, refresh_facts
from geo.store.db import make_engine
from webmap import ROOT
from webmap.config import boundary_settings, case_settings, load_config, score_weights

SAMPLE_DIR = ROOT / "data" / "boundaries"
REFERENCE_DIR = ROOT / "data" / "reference"
DEMO_TICKETS = ROOT / "data" / "demo" / "hotline_12345.csv"
DEMO_PASSWORD = "gridmap-demo"  # noqa: S105 - printed on purpose: demo accounts on a local machine
#: (username, role, scope, department, display name)
DEMO_USERS = (
    ("wangge1", "grid_worker", "110102004004", None, "网格员 李明"),
    ("jiedao1", "street_leader", "110102004", None, "新街口街道 王主任"),
    ("cgw1", "department_staff", "", "CGW", "城管委 赵科长"),
    ("ga1", "department_staff", "", "GA", "公安分局 孙警官"),
    ("guihua1", "planner", "", None, "规划分析 周工"),
    ("admin", "admin", "", None, "系统管理员"),
)

#: The sample files and how to read them (see data/boundaries/README.md).
SAMPLE_LOADS: tuple[dict[str, Any], ...] = (
    {"path": "district.geojson", "level": "district", "code_field": "code", "name_field": "name"},
    {"path": "streets.geojson", "level": "street", "code_field": "code", "name_field": "name",
     "parent_field": "parent_code"},
    {"path": "communities.gpkg", "level": "community", "layer": "communities", "code_field": "社区编码",
     "name_field": "社区名称", "parent_field": "街道编码"},
    {"path": "grids.shp", "level": "grid", "encoding": "gbk", "code_field": "网格编码",
     "name_field": "网格名称", "parent_field": "社区编码"},
)


class Context:
    def __init__(self) -> None:
        self.config = load_config()
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.config["DATABASE_URL"], pool_size=1,
                                       timezone=self.config["GRIDMAP_TIMEZONE"])
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block succeeds, rolled back when it raises."""
        with Session(self.engine) as session, session.begin():
            yield session

    def boundary_settings(self) -> BoundarySettings:
        return boundary_settings(self.config)

    def case_settings(self) -> CaseSettings:
        return case_settings(self.config)


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def _fail(exc: GridmapError) -> None:
    where = f"（{exc.field}）" if exc.field else ""
    click.secho(f"错误 [{exc.code}]{where}：{exc.message}", fg="red", err=True)
    click.echo("数据库没有任何改动。", err=True)
    sys.exit(1)


class _Group(click.Group):
    """Turns domain errors into a clear message and exit status 1, without a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GridmapError as exc:
            _fail(exc)


@click.group(cls=_Group)
def main() -> None:
    """gridmap：网格化管理地图的命令行。"""


# --- db ---------------------------------------------------------------------------------------


@main.group(cls=_Group)
def db() -> None:
    """数据库结构（Alembic 迁移）。"""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """把数据库结构升级到最新版本（含 PostGIS 扩展）。"""
    with ctx.session() as session:
        status = upgrade_schema(session.connection())
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


# --- boundaries -------------------------------------------------------------------------------


@main.group(cls=_Group)
def boundaries() -> None:
    """边界：加载、检查、导出。"""


LEVEL_CHOICE = click.Choice(LEVELS)


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
    _print_load_report(report)


def _print_load_report(report: boundary_service.LoadReport) -> None:
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


# --- people -----------------------------------------------------------------------------------


@main.group(cls=_Group)
def users() -> None:
    """用户：角色、范围（区划编码前缀）、部门。"""


@users.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--scope", default="", help="区划编码前缀：网格员为网格或社区编码，街道负责人为街道编码；空为全市")
@click.option("--department", help="部门人员所属部门编码")
@click.option("--display-name", default="", help="显示名（如 张三）")
@click.option("--password-stdin", is_flag=True, required=True, help="从标准输入读密码（不进命令历史）")
@pass_ctx
def users_create(ctx: Context, username: str, role: str, scope: str, department: str | None, display_name: str,
                 password_stdin: bool) -> None:
    """新建用户；密码从标准输入读，以 scrypt 散列保存。"""
    password = sys.stdin.readline().rstrip("\n")
    with ctx.session() as session:
        user = accounts.create_user(session, username, role=role, password=password, scope=scope,
                                    department=department, display_name=display_name)
    click.echo(f"已创建用户 {user.username}（{ROLE_NAMES[user.role]}，范围 {user.scope or '全市'}"
               f"{'，部门 ' + user.department if user.department else ''}）")


@main.group(cls=_Group)
def tokens() -> None:
    """API 令牌（Authorization: Bearer …）。"""


@tokens.command("create")
@click.argument("username")
@click.option("--name", default="", help="令牌用途，如 12345 对接")
@pass_ctx
def tokens_create(ctx: Context, username: str, name: str) -> None:
    """为用户生成令牌并打印（只显示这一次；库里只存散列）。"""
    with ctx.session() as session:
        token_id, token = accounts.create_token(session, username, name=name)
    click.echo(f"令牌 {token_id}（请妥善保存，只显示这一次）：", err=True)
    click.echo(token)


@tokens.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
def tokens_revoke(ctx: Context, token_id: int) -> None:
    """吊销令牌，立即失效。"""
    with ctx.session() as session:
        accounts.revoke_token(session, token_id)
    click.echo(f"令牌 {token_id} 已吊销")


# --- reference data ---------------------------------------------------------------------------


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
    group = _Group(name, help=group_help)

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


@main.group(cls=_Group)
def outbox() -> None:
    """通知发件箱（派遣、召集、超期）；本系统不发送，只交给短信/企业微信/邮件通道。"""


@outbox.command("drain")
@pass_ctx
def outbox_drain(ctx: Context) -> None:
    """先为新超期的案件写通知，再打印所有未发送的通知并标记为已发送（JSON，每行一条）。"""
    with ctx.session() as session:
        rows = outbox_service.drain(session)
    for row in rows:
        click.echo(json.dumps({**row, "created_at": row["created_at"].isoformat()}, ensure_ascii=False))
    click.echo(f"共 {len(rows)} 条通知", err=True)


# --- cases ------------------------------------------------------------------------------------


@main.group(cls=_Group)
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
@click.option("--encoding", help="CSV 编码（默认自动识别 UTF-8/带 BOM/GBK）")
@click.option("--rejects", type=click.Path(path_type=Path), help="把被拒绝的行（行号、原因）写到这个 CSV")
@pass_ctx
def cases_import(ctx: Context, path: Path, crs: str, source: str, encoding: str | None, rejects: Path | None,
                 **fields: str | None) -> None:
    """批量导入 CSV/XLSX 工单：按批原子写入，可重复运行（按 来源+工单编号 去重）。"""
    names = {k.removesuffix("_field"): v for k, v in fields.items()}
    _run_import(ctx, path, source=source, crs=crs, fields=names, encoding=encoding, rejects=rejects)


def _run_import(ctx: Context, path: Path, *, source: str, crs: str, fields: dict[str, str | None],
                encoding: str | None, rejects: Path | None) -> None:
    started = time.perf_counter()
    with ctx.session() as session:
        plan, summary = import_service.prepare_import(
            session, path, source=source, crs=crs, fields=fields, encoding=encoding,
            settings=ctx.case_settings(), batch_size=ctx.config["GRIDMAP_IMPORT_BATCH"])
    with tqdm(total=len(plan.validated.good), desc="导入", unit="行", file=sys.stderr) as bar:
        for batch in plan.batches():
            with ctx.session() as session:
                imported, skipped, refused = import_service.import_batch(session, plan, batch)
            summary.add(imported, skipped, refused)
            bar.update(len(batch))
    summary.seconds = time.perf_counter() - started
    if rejects is not None:
        import pandas as pd

        count = import_service.write_rejects(rejects, plan, pd.concat(summary.refused))
        click.echo(f"被拒绝的 {count} 行已写入 {rejects}")
    click.echo(summary.line())
    if summary.imported > 10_000:
        click.echo("提示：导入了大量案件。运行 gridmap stats refresh 把它们计入统计（可能要几分钟）；"
                   "在此之前，统计页面会提示先运行它。")


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


@cases.command("export")
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--status", multiple=True, help="只导出这些状态（可多次给出）")
@click.option("--source", help="只导出这个来源")
@pass_ctx
def cases_export(ctx: Context, output: Path, fmt: str, status: tuple[str, ...], source: str | None) -> None:
    """导出案件（WGS84）：id, external_id, source, category, status, lon, lat, 各级编码, 主责部门, 时间。"""
    with ctx.session() as session:
        count = export_cases(session, output, fmt, filters=CaseFilters(statuses=status, source=source))
    click.echo(f"已导出 {count} 个案件到 {output}")


# --- statistics -------------------------------------------------------------------------------


@main.group(cls=_Group)
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
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True)
@pass_ctx
def stats_export(ctx: Context, level: str, date_from: Any, date_to: Any, fmt: str, scope: str, output: Path) -> None:
    """导出指标表：案件数、响应率、解决率、满意率、按期办结率、报到及时率（分子分母并列）、综合得分与排名等。"""
    started = time.perf_counter()
    with ctx.session() as session:
        count = export_measures(session, level, fmt, output, date_from=date_from.date() if date_from else None,
                                date_to=date_to.date() if date_to else None, scope=scope,
                                weights=score_weights(ctx.config))
    click.echo(f"已导出 {count} 行到 {output}（{time.perf_counter() - started:.1f} 秒）")


@stats.command("refresh")
@click.option("--rebuild", is_flag=True, help="清空后按全部 case_event 重算（审计用）")
@pass_ctx
def stats_refresh(ctx: Context, rebuild: bool) -> None:
    """把新的案件事件计入统计事实表（查询时也会自动补上；定时运行可让第一次查询更快）。
    设置了只读副本 GRIDMAP_READ_DATABASE_URL 时查询不再补上，须在主库上定时运行（如每分钟一次）。"""
    started = time.perf_counter()
    with ctx.session() as session:
        count = rebuild_facts(session) if rebuild else refresh_facts(session)
    click.echo(f"已处理 {count} 个案件的事实（{time.perf_counter() - started:.1f} 秒）")


# --- backups ----------------------------------------------------------------------------------


@main.command("backup")
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True,
              help="备份文件（pg_dump 自定义格式），如 gridmap-2026-11-28.dump")
@pass_ctx
def backup(ctx: Context, output: Path) -> None:
    """用 pg_dump 备份整个数据库（结构、PostGIS、边界、案件、事件、照片）到一个文件；不影响在线使用。"""
    url = ctx.engine.url.render_as_string(hide_password=False)
    with ctx.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        report = backup_service.backup_database(conn, url, output)
    click.echo(f"已备份数据库 {report.database} 到 {report.path}（{report.size_bytes / 2**20:.1f} MB，"
               f"{report.seconds:.1f} 秒）：{backup_service.counts_line(report.counts)}")


@main.command("restore")
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="目标数据库不是空的也恢复：先删除备份里也有的对象（同一事务）")
@pass_ctx
def restore(ctx: Context, path: Path, force: bool) -> None:
    """用 pg_restore 把 gridmap backup 的文件恢复到 DATABASE_URL 指向的空数据库（单个事务：失败则不变）。"""
    report = backup_service.restore_database(ctx.engine, path, force=force)
    click.echo(f"已从 {report.path} 恢复到数据库 {report.database}（{report.seconds:.1f} 秒）："
               f"{backup_service.counts_line(report.counts)}")


# --- demo and serve ---------------------------------------------------------------------------


@main.command("demo")
@click.option("--if-empty", is_flag=True, help="数据库里已有边界时什么都不做")
@pass_ctx
def demo(ctx: Context, if_empty: bool) -> None:
    """加载示例数据（data/boundaries/ 中的合成边界）。"""
    with ctx.session() as session:
        if if_empty and boundary_service.has_boundaries(session):
            click.echo("已有边界数据，跳过示例数据。")
            return
        for spec in tqdm(SAMPLE_LOADS, desc="示例边界", unit="层", file=sys.stderr):
            options = {k: v for k, v in spec.items() if k not in ("path", "level")}
            report = boundary_service.load_boundaries(
                session, SAMPLE_DIR / spec["path"], spec["level"], settings=ctx.boundary_settings(), **options)
            _print_load_report(report)
        reference_service.load_departments(session, REFERENCE_DIR / "departments.csv")
        reference_service.load_departments(session, REFERENCE_DIR / "police_units.geojson")
        rules = reference_service.load_duties(session, REFERENCE_DIR / "duties.csv")
        click.echo(f"已加载示例部门和责任清单（{rules} 条规则）")
        for username, role, scope, department, name in DEMO_USERS:
            accounts.create_user(session, username, role=role, password=DEMO_PASSWORD, scope=scope,
                                 department=department, display_name=name)
        click.echo(f"示例用户（密码都是 {DEMO_PASSWORD}，仅供演示，上线前请删除）：")
        for username, role, scope, department, name in DEMO_USERS:
            click.echo(f"  {username:<10} {ROLE_NAMES[role]}  {name}  范围 {scope or '全市'}"
                       f"{'  部门 ' + department if department else ''}")
    if DEMO_TICKETS.exists():
        _run_import(ctx, DEMO_TICKETS, source="12345", crs="gcj02", fields={}, encoding=None, rejects=None)
        with ctx.session() as session:
            events = simulate_history(session)
        click.echo(f"已为示例案件生成 {events} 条处理记录（派遣、签收……回访），供统计和热点演示")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", type=int, help="工作进程数（默认 GRIDMAP_SERVE_WORKERS；1 表示单进程 waitress）")
@click.option("--threads", type=int, help="每个进程的线程数（默认 GRIDMAP_SERVE_THREADS）")
@click.option("--upgrade", is_flag=True, help="先升级数据库结构（同 gridmap db upgrade）")
@click.option("--demo-if-empty", is_flag=True, help="数据库没有边界时先加载示例数据（同 gridmap demo --if-empty）")
@click.option("--no-warm", is_flag=True, help="不预编译热点分析（Gi*）；第一次热点请求会慢（测试用）")
@click.pass_context
def serve(click_ctx: click.Context, host: str, port: int, workers: int | None, threads: int | None,
          upgrade: bool, demo_if_empty: bool, no_warm: bool) -> None:
    """用生产级 WSGI 服务器提供网页和 API：gunicorn 多进程（或 waitress 单进程）。"""
    from webmap.serving import serve as run_server

    if upgrade:
        click_ctx.invoke(db_upgrade)
    if demo_if_empty:
        click_ctx.invoke(demo, if_empty=True)
    ctx = click_ctx.ensure_object(Context)

    workers = workers or ctx.config["GRIDMAP_SERVE_WORKERS"]
    threads = threads or ctx.config["GRIDMAP_SERVE_THREADS"]
    click.echo(f"gridmap 启动中：http://{host}:{port}/ （{workers} 个进程 × {threads} 个线程，Ctrl-C 停止）")
    run_server(host=host, port=port, workers=workers, threads=threads, warm_hotspots=not no_warm)
