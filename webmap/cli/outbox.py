"""``gridmap outbox``: the notices and their delivery (webhooks, e-mail; GRIDMAP_OUTBOX_CHANNELS)."""

from __future__ import annotations

import json

import click

from geo.services import outbox as outbox_service
from webmap.cli.context import Context, Group, main, pass_ctx


@main.group(cls=Group)
def outbox() -> None:
    """通知发件箱（派遣、召集、超期……）：后台任务 outbox_deliver 按 GRIDMAP_OUTBOX_CHANNELS 投递到
    企业微信、钉钉、webhook、邮件；这里查看投递状态、死信，重新投递，或手工导出。"""


@outbox.command("drain")
@pass_ctx
def outbox_drain(ctx: Context) -> None:
    """手工通道：先为新超期的案件写通知，再打印所有未发送的通知并标记为已发送（JSON，每行一条）。"""
    with ctx.session() as session:
        rows = outbox_service.drain(session)
    for row in rows:
        click.echo(json.dumps({**row, "created_at": row["created_at"].isoformat()}, ensure_ascii=False))
    click.echo(f"共 {len(rows)} 条通知", err=True)


@outbox.command("status")
@pass_ctx
def outbox_status(ctx: Context) -> None:
    """每个通道的待发（pending）、已发（sent）、死信（dead）数量。"""
    with ctx.session() as session:
        counts = outbox_service.delivery_counts(session)
    if not counts:
        click.echo("还没有投递记录（GRIDMAP_OUTBOX_CHANNELS 未设置，或还没有通知）。")
    for channel, states in counts.items():
        click.echo(f"{channel:<20} 待发 {states['pending']:>6}  已发 {states['sent']:>8}  死信 {states['dead']:>6}")


@outbox.command("dead")
@click.option("--limit", default=100, show_default=True, type=int)
@pass_ctx
def outbox_dead(ctx: Context, limit: int) -> None:
    """列出死信：多次投递失败后放弃的通知（JSON，每行一条，带最后一次错误）。"""
    with ctx.session() as session:
        rows = outbox_service.dead(session, limit=limit)
    for row in rows:
        click.echo(json.dumps({**row, "created_at": row["created_at"].isoformat(),
                               "failed_at": row["failed_at"].isoformat()}, ensure_ascii=False))
    click.echo(f"共 {len(rows)} 条死信", err=True)


@outbox.command("retry")
@click.argument("ids", nargs=-1, type=int)
@click.option("--channel", help="只重投这个通道的死信")
@click.option("--all", "all_dead", is_flag=True, help="重投全部死信")
@pass_ctx
def outbox_retry(ctx: Context, ids: tuple[int, ...], channel: str | None, all_dead: bool) -> None:
    """把死信（通知编号 IDS，或 --all 全部）重新放回待发，尝试次数清零，下次投递任务立即发送。"""
    if not ids and not all_dead:
        raise click.UsageError("给出通知编号，或用 --all 重投全部死信。")
    with ctx.session() as session:
        count = outbox_service.requeue(session, list(ids) or None, channel)
    click.echo(f"已重新排队 {count} 条投递")
