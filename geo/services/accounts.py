"""Accounts: users with a role and a boundary scope, logins that slow down attackers, API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.domain.errors import Conflict, InvalidInput, NotFound, Unauthorized
from geo.domain.passwords import hash_password, verify_password
from geo.domain.permissions import User, check_account, family
from geo.domain.scopes import check_scope_level
from geo.store import accounts as store
from geo.store import boundaries as boundary_store
from geo.store import reference as reference_store

__all__ = ["MIN_PASSWORD", "authenticate", "check_scope", "create_token", "create_user", "delete_user", "end_sessions",
           "forgive_old_failures", "list_users", "load_user", "register_user", "revoke_token", "set_active",
           "set_password", "token_use_pending", "unlock", "user_from_token"]

MIN_PASSWORD = 8
#: After this many failed logins in a row, each further failure locks the account for longer.
FREE_ATTEMPTS = 5
LOCK_BASE = timedelta(seconds=30)
LOCK_MAX = timedelta(minutes=15)
#: A day after an account's last lock ended its failures are forgiven (the ``lockout_cleanup``
#: job): one typo a month later does not lock it again for the doubled time.
FORGIVE_AFTER = timedelta(hours=24)
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{2,64}$")


@cache
def _dummy_hash() -> str:
    return hash_password("a password nobody has")


def register_user(session: Session, username: str, *, role: str, password: str, scope: str = "",
                  department: str | None = None, display_name: str = "") -> User:
    """An account as an operator makes it (``gridmap users create``, the demo): besides what
    ``create_user`` checks, the scope must be a loaded boundary code of the role's level — a street
    leader scoped to a district, or to a code no boundary has, is refused."""
    check_account(role, scope, department)
    check_scope(session, role, scope)
    return create_user(session, username, role=role, password=password, scope=scope, department=department,
                       display_name=display_name)


def check_scope(session: Session, role: str, scope: str) -> None:
    level = check_scope_level(role, scope)
    if level and boundary_store.level_of(session, scope) != level:
        raise InvalidInput(f"范围 {scope} 不是已加载的边界编码：先用 gridmap boundaries load 加载边界，"
                           "或核对编码（地图上方的搜索框可按名称查到编码）。", field="scope", code="unknown_scope")


def create_user(session: Session, username: str, *, role: str, password: str, scope: str = "",
                department: str | None = None, display_name: str = "") -> User:
    if not _USERNAME.fullmatch(username):
        raise InvalidInput("用户名应为 2–64 位字母、数字或 _.@-。", field="username", code="bad_username")
    check_account(role, scope, department)
    if department is not None and department not in reference_store.department_codes(session):
        raise InvalidInput(f"部门 {department} 不存在。", field="department", code="unknown_department")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD} 位。", field="password", code="weak_password")
    try:
        with session.begin_nested():
            user_id = store.insert_user(session, username=username, display_name=display_name or username,
                                        password_hash=hash_password(password), role=role, scope=scope,
                                        department_code=department)
    except IntegrityError as exc:
        raise Conflict(f"用户名 {username} 已存在。", field="username", code="duplicate") from exc
    return load_user(session, user_id)


def _user(session: Session, row: dict[str, Any]) -> User:
    department = row["department_code"]
    units = store.department_units(session, department) if department else []
    return User(row["id"], row["username"], row["role"], row["scope"], department, row["display_name"],
                family(department, units), session_epoch=row["session_epoch"])


def load_user(session: Session, user_id: int) -> User:
    row = store.user_by_id(session, user_id)
    if row is None or not row["active"]:
        raise NotFound("用户不存在或已停用。", field="user", code="not_found")
    return _user(session, row)


def authenticate(session: Session, username: str, password: str, *, now: datetime | None = None) -> User:
    """The user, or Unauthorized with one message for every failure (no account enumeration).

    After ``FREE_ATTEMPTS`` failures the account locks for 30 s, doubling per failure up to 15 min.
    """
    now = now or datetime.now(UTC)
    row = store.user_by_name(session, username)
    # One message for every refusal — unknown name, wrong password, locked account — so the answer
    # never tells which user names exist.
    refused = Unauthorized("用户名或密码不正确，或尝试过于频繁（请稍后再试）。", field="password",
                           code="bad_credentials")
    if row is None or not row["active"]:
        verify_password(password, _dummy_hash())  # same time as a real check
        raise refused
    attempt = store.reserve_attempt(session, row["id"], now=now, free=FREE_ATTEMPTS,
                                    base_s=LOCK_BASE.total_seconds(), max_s=LOCK_MAX.total_seconds())
    if attempt is None:  # locked: the password is not even checked
        verify_password(password, _dummy_hash())
        raise refused
    if not verify_password(password, row["password_hash"]):
        raise refused  # counted (and the account locked past the free attempts) by the reservation
    store.record_login(session, row["id"], ok=True, locked_until=None)
    return _user(session, row)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, username: str, *, name: str = "") -> tuple[int, str]:
    """A new bearer token (shown once; only its SHA-256 is stored)."""
    row = store.user_by_name(session, username)
    if row is None:
        raise NotFound(f"用户 {username} 不存在。", field="username", code="not_found")
    token = "gm_" + secrets.token_urlsafe(32)
    return store.insert_token(session, row["id"], name, _token_hash(token)), token


def revoke_token(session: Session, token_id: int) -> None:
    if not store.revoke_token(session, token_id):
        raise NotFound(f"令牌 {token_id} 不存在或已吊销。", field="token", code="not_found")


def user_from_token(session: Session, token: str) -> User | None:
    """The token's active user; the token's last use is recorded at most once a minute (see
    token_use_pending: the caller commits it then)."""
    row = store.user_by_token_hash(session, _token_hash(token))
    return None if row is None or not row["active"] else _user(session, row)


def token_use_pending(session: Session) -> bool:
    """True once after user_from_token wrote the token's last use in ``session``: commit it then, and
    only then (a commit per request costs a transaction and a second pool check-out)."""
    return bool(session.info.pop(store.TOKEN_USE_RECORDED, False))


def end_sessions(session: Session, user_id: int) -> int:
    """Sign the user out everywhere: cookies issued before no longer identify anyone."""
    return store.bump_session_epoch(session, user_id)


# --- the account lifecycle (gridmap users …) ------------------------------------------------------


def _row(session: Session, username: str) -> dict[str, Any]:
    row = store.user_by_name(session, username)
    if row is None:
        raise NotFound(f"用户 {username} 不存在（gridmap users list 列出全部用户）。", field="username",
                       code="not_found")
    return row


def set_password(session: Session, username: str, password: str) -> None:
    """A new password; it also unlocks the account and signs it out everywhere."""
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"密码至少 {MIN_PASSWORD} 位。", field="password", code="weak_password")
    row = _row(session, username)
    store.set_password(session, row["id"], hash_password(password))
    store.bump_session_epoch(session, row["id"])


def set_active(session: Session, username: str, active: bool) -> None:
    """Disable (signed out everywhere, its tokens revoked) or enable an account; its history stays."""
    row = _row(session, username)
    store.set_active(session, row["id"], active)
    if not active:
        store.bump_session_epoch(session, row["id"])
        store.revoke_tokens_of(session, row["id"])


def unlock(session: Session, username: str) -> None:
    """Clear failed logins and a lock (after the owner proved who they are another way)."""
    store.unlock(session, _row(session, username)["id"])


def delete_user(session: Session, username: str) -> None:
    """Delete an account that never acted; one that did is disabled instead (its events name it)."""
    row = _row(session, username)
    try:
        with session.begin_nested():
            store.delete_user(session, row["id"])
    except IntegrityError as exc:
        raise Conflict(f"用户 {username} 已有处理记录，不能删除（记录要能追溯到人）。请改用 gridmap users disable。",
                       field="username", code="in_use") from exc


def list_users(session: Session) -> list[dict[str, Any]]:
    """Every account, with ``scope_problem``: why its scope no longer fits (boundaries reloaded
    without that code, or an account made before scopes were checked), else ""."""
    rows = store.all_users(session)
    for row in rows:
        try:
            check_scope(session, row["role"], row["scope"])
            row["scope_problem"] = ""
        except InvalidInput as exc:
            row["scope_problem"] = exc.message
    return rows


def forgive_old_failures(session: Session, *, now: datetime | None = None) -> int:
    """Reset the failed-login count of every account whose last lock ended ``FORGIVE_AFTER`` ago."""
    return store.forgive_failures(session, expired_before=(now or datetime.now(UTC)) - FORGIVE_AFTER)
