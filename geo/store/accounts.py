"""Users and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = [
    "TOKEN_USE_RECORDED",
    "all_users",
    "bump_session_epoch",
    "delete_user",
    "department_units",
    "forgive_failures",
    "insert_token",
    "insert_user",
    "record_login",
    "reserve_attempt",
    "revoke_token",
    "revoke_tokens_of",
    "set_active",
    "set_password",
    "unlock",
    "user_by_id",
    "user_by_name",
    "user_by_token_hash",
]

_USER = ("SELECT id, username, display_name, password_hash, role, scope, department_code, active, failed_logins, "
         "locked_until, session_epoch FROM app_user")


def insert_user(session: Session, **values: Any) -> int:
    return int(session.execute(text(
        "INSERT INTO app_user (username, display_name, password_hash, role, scope, department_code) "
        "VALUES (:username, :display_name, :password_hash, :role, :scope, :department_code) RETURNING id"),
        values).scalar_one())


def user_by_name(session: Session, username: str) -> dict[str, Any] | None:
    row = session.execute(text(_USER + " WHERE username = :u"), {"u": username}).mappings().first()
    return dict(row) if row else None


def user_by_id(session: Session, user_id: int) -> dict[str, Any] | None:
    row = session.execute(text(_USER + " WHERE id = :id"), {"id": user_id}).mappings().first()
    return dict(row) if row else None


#: ``session.info`` key set when user_by_token_hash wrote the token's last use: only then has the
#: caller something to commit (a commit per request would cost a transaction and a pool check-out).
TOKEN_USE_RECORDED = "gridmap.token_use_recorded"  # noqa: S105 (a dictionary key, not a secret)


def user_by_token_hash(session: Session, token_hash: str) -> dict[str, Any] | None:
    """The token's user (one query with the token: every API request asks)."""
    row = session.execute(text(
        "SELECT u.id, u.username, u.display_name, u.password_hash, u.role, u.scope, u.department_code, u.active, "
        "u.failed_logins, u.locked_until, u.session_epoch, "
        "t.last_used_at < now() - interval '1 minute' OR t.last_used_at IS NULL AS stale "
        "FROM api_token t JOIN app_user u ON u.id = t.user_id "
        "WHERE t.token_hash = :h AND t.revoked_at IS NULL"), {"h": token_hash}).mappings().first()
    if row is None:
        return None
    user = dict(row)
    if user.pop("stale"):  # record use at most once a minute: no write (and lock) per request
        session.execute(text("UPDATE api_token SET last_used_at = now() WHERE token_hash = :h"), {"h": token_hash})
        session.info[TOKEN_USE_RECORDED] = True  # the caller commits it before the request's own work
    return user


def reserve_attempt(session: Session, user_id: int, *, now: datetime, free: int, base_s: float, max_s: float
                    ) -> int | None:
    """Count one login attempt before its password is checked, atomically (the row lock queues
    parallel attempts), and lock the account already when this attempt is one past the free ones —
    as if it failed; a success clears it. None: the account is locked now (nothing is checked)."""
    row = session.execute(text(
        "UPDATE app_user SET failed_logins = failed_logins + 1, "
        "locked_until = CASE WHEN failed_logins + 1 >= :free THEN CAST(:now AS timestamptz) "
        "  + least(:base * power(2, failed_logins + 1 - :free), :max) * interval '1 second' ELSE NULL END "
        "WHERE id = :id AND (locked_until IS NULL OR locked_until <= :now) RETURNING failed_logins"),
        {"id": user_id, "now": now, "free": free, "base": base_s, "max": max_s}).first()
    return None if row is None else int(row[0])


def record_login(session: Session, user_id: int, *, ok: bool, locked_until: datetime | None) -> None:
    if ok:
        session.execute(text("UPDATE app_user SET failed_logins = 0, locked_until = NULL WHERE id = :id"),
                        {"id": user_id})
    else:
        session.execute(text("UPDATE app_user SET failed_logins = failed_logins + 1, locked_until = :until "
                             "WHERE id = :id"), {"id": user_id, "until": locked_until})


def insert_token(session: Session, user_id: int, name: str, token_hash: str) -> int:
    return int(session.execute(text(
        "INSERT INTO api_token (user_id, name, token_hash) VALUES (:u, :n, :h) RETURNING id"),
        {"u": user_id, "n": name, "h": token_hash}).scalar_one())


def revoke_token(session: Session, token_id: int) -> bool:
    row = session.execute(text("UPDATE api_token SET revoked_at = now() WHERE id = :id AND revoked_at IS NULL "
                               "RETURNING id"), {"id": token_id}).first()
    return row is not None


def department_units(session: Session, department: str) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in session.execute(text(
        "SELECT code, parent_code FROM department WHERE code = :d OR parent_code = :d"), {"d": department}).all()]


def bump_session_epoch(session: Session, user_id: int) -> int:
    """Every session cookie issued to the user so far stops working; returns the new epoch."""
    return int(session.execute(text(
        "UPDATE app_user SET session_epoch = session_epoch + 1 WHERE id = :id RETURNING session_epoch"),
        {"id": user_id}).scalar_one())


def set_password(session: Session, user_id: int, password_hash: str) -> None:
    session.execute(text("UPDATE app_user SET password_hash = :h, failed_logins = 0, locked_until = NULL "
                         "WHERE id = :id"), {"id": user_id, "h": password_hash})


def set_active(session: Session, user_id: int, active: bool) -> None:
    session.execute(text("UPDATE app_user SET active = :a WHERE id = :id"), {"id": user_id, "a": active})


def unlock(session: Session, user_id: int) -> None:
    session.execute(text("UPDATE app_user SET failed_logins = 0, locked_until = NULL WHERE id = :id"),
                    {"id": user_id})


def revoke_tokens_of(session: Session, user_id: int) -> int:
    return len(session.execute(text("UPDATE api_token SET revoked_at = now() WHERE user_id = :id "
                                    "AND revoked_at IS NULL RETURNING id"), {"id": user_id}).all())


def delete_user(session: Session, user_id: int) -> None:
    session.execute(text("DELETE FROM api_token WHERE user_id = :id"), {"id": user_id})
    session.execute(text("DELETE FROM app_user WHERE id = :id"), {"id": user_id})


def all_users(session: Session) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(text(
        "SELECT username, display_name, role, scope, department_code, active, locked_until FROM app_user "
        "ORDER BY username")).mappings()]


def forgive_failures(session: Session, *, expired_before: datetime) -> int:
    """Clear the failed-login count of accounts whose last lock ended before ``expired_before``."""
    result = session.execute(text(
        "UPDATE app_user SET failed_logins = 0, locked_until = NULL WHERE locked_until < :before"),
        {"before": expired_before})
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
