"""One SQLAlchemy Session per request; the request (the edge) decides to commit.

Reads that tolerate a replica's lag (the map, boundary layers, statistics, hotspots) take
``get_read_session()``: a session on ``GRIDMAP_READ_DATABASE_URL`` when that is set (a streaming
replica: read-only), else the request's one session.
"""

from __future__ import annotations

import contextlib

from flask import Flask, current_app, g
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

__all__ = ["commit", "get_read_session", "get_session", "init_app", "reads_from_replica"]


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["gridmap"]["sessionmaker"]()
    session: Session = g.db_session
    return session


def reads_from_replica() -> bool:
    """True when read endpoints go to a separate (read-only) database: they must not write."""
    return current_app.extensions["gridmap"].get("read_sessionmaker") is not None


def get_read_session() -> Session:
    """The session for replica-safe reads: never write through it."""
    if not reads_from_replica():
        return get_session()
    if "db_read_session" not in g:
        g.db_read_session = current_app.extensions["gridmap"]["read_sessionmaker"]()
    session: Session = g.db_read_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    for name in ("db_session", "db_read_session"):
        session = g.pop(name, None)
        if session is None:
            continue
        try:
            session.close()  # rolls back whatever was not committed
        except DBAPIError:
            # The ROLLBACK met a connection the database dropped (a restart): the server has
            # rolled back already. Discard the connection; an error raised from teardown would
            # replace the response already made (a 200 or the 503) with the WSGI server's 500.
            with contextlib.suppress(DBAPIError):
                session.invalidate()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)


def commit() -> None:
    """The request is the edge: it commits what the service did."""
    get_session().commit()
