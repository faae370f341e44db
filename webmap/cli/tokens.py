"""``gridmap tokens``: API bearer tokens (stored hashed, shown once)."""

from __future__ import annotations

import click

from geo.services import accounts
from webmap.cli.context import Context, Group, main, pass_ctx


@main.group(cls=Group)
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
