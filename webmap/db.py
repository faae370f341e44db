"""One SQLAlchemy Session per request; the request (the edge) decides to commit."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

__all__ = ["commit", "get_session", "init_app"]


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["gridmap"]["sessionmaker"]()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()  # rolls back whatever was not committed


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)


def commit() -> None:
    """The request is the edge: it commits what the service did."""
    get_session().commit()
