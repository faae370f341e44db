"""``gridmap users``: accounts with a role, a scope (区划编码前缀) and a department."""

from __future__ import annotations

import sys

import click

from geo.domain.workflow import ROLE_NAMES, ROLES
from geo.services import accounts
from webmap.cli.context import Context, Group, main, pass_ctx


@main.group(cls=Group)
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
