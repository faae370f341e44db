"""``gridmap outbox``: the notices waiting for an SMS, WeCom or mail channel."""

from __future__ import annotations

import json

import click

from geo.services import outbox as outbox_service
from webmap.cli.context import Context, Group, main, pass_ctx


@main.group(cls=Group)
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
