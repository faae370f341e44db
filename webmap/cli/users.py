"""``gridmap users``: accounts with a role, a scope (区划编码前缀) and a department."""

from __future__ import annotations

import sys
from collections.abc import Callable

import click
from sqlalchemy.orm import Session

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
        user = accounts.register_user(session, username, role=role, password=password, scope=scope,
                                      department=department, display_name=display_name)
    click.echo(f"已创建用户 {user.username}（{ROLE_NAMES[user.role]}，范围 {user.scope or '全市'}"
               f"{'，部门 ' + user.department if user.department else ''}）")


@users.command("list")
@pass_ctx
def users_list(ctx: Context) -> None:
    """列出全部用户：用户名、角色、范围、部门、状态；范围与角色层级或已加载边界不符的用户单独提示。"""
    with ctx.session() as session:
        rows = accounts.list_users(session)
    for u in rows:
        state = "已停用" if not u["active"] else ("已锁定" if u["locked_until"] else "正常")
        click.echo(f"{u['username']}\t{ROLE_NAMES.get(u['role'], u['role'])}\t{u['scope'] or '全市'}\t"
                   f"{u['department_code'] or '-'}\t{state}\t{u['display_name']}")
    for u in rows:
        if u["scope_problem"]:
            click.secho(f"注意：用户 {u['username']} 的范围有误：{u['scope_problem']}", fg="yellow", err=True)


@users.command("passwd")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, required=True, help="从标准输入读新密码（不进命令历史）")
@pass_ctx
def users_passwd(ctx: Context, username: str, password_stdin: bool) -> None:
    """设置新密码（同时解锁，并让该用户在所有地方退出登录）。"""
    password = sys.stdin.readline().rstrip("\n")
    with ctx.session() as session:
        accounts.set_password(session, username, password)
    click.echo(f"已为 {username} 设置新密码；旧的登录已失效。")


#: The commands that take one user name: (name, help, the service step, what is printed).
_ONE_USER: tuple[tuple[str, str, Callable[[Session, str], None], str], ...] = (
    ("disable", "停用用户：不能再登录，已有登录和 API 令牌立即失效；处理记录保留。",
     lambda session, name: accounts.set_active(session, name, False), "已停用 {name}。"),
    ("enable", "重新启用已停用的用户（令牌需重新创建）。",
     lambda session, name: accounts.set_active(session, name, True), "已启用 {name}。"),
    ("unlock", "清除登录失败次数和锁定。", accounts.unlock, "已解锁 {name}。"),
    ("delete", "删除从未处理过案件的用户；有处理记录的请改用 disable。", accounts.delete_user, "已删除 {name}。"),
)


def _one_user_command(name: str, doc: str, step: Callable[[Session, str], None], done: str) -> None:
    @users.command(name, help=doc)
    @click.argument("username")
    @pass_ctx
    def command(ctx: Context, username: str) -> None:
        with ctx.session() as session:
            step(session, username)
        click.echo(done.format(name=username))


for _spec in _ONE_USER:
    _one_user_command(*_spec)
