"""Engines and sessions for PostgreSQL + PostGIS (psycopg 3)."""

from __future__ import annotations

import time
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["DATABASE_ERRORS", "make_engine", "make_sessionmaker", "normalize_url"]

#: What the database raises when it refuses a statement: through SQLAlchemy, or from psycopg
#: directly on the COPY paths that use the driver's connection.
DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, psycopg.Error)

#: A pooled connection is pinged (``SELECT 1``) before use only when it sat unused in the pool
#: longer than this. Under load connections go back and forth within milliseconds, and a ping
#: per request was one of its few round trips (on a busy 2-core machine each costs milliseconds
#: of waiting: bench/README.md, issue 14 goal 5). A connection that died in a database restart
#: while idle is still replaced before use; one in use when it died fails its request (503), and
#: SQLAlchemy then discards every connection of the pool made before.
PING_AFTER_IDLE_S = 1.0


def normalize_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and select the psycopg 3 driver.

    >>> normalize_url("postgresql://u@h:5432/db")
    'postgresql+psycopg://u@h:5432/db'
    """
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(
    url: str, *, pool_size: int = 5, max_overflow: int = 10, timezone: str = "Asia/Shanghai", echo: bool = False,
    transaction_pooler: bool = False,
) -> Engine:
    """An engine whose pool pings connections idle past PING_AFTER_IDLE_S (they survive a database
    restart; see the constant) and whose sessions speak
    ``timezone``, so timestamps come back as local times (+08:00 in Beijing). Server options in the
    URL (``?options=-c%20default_transaction_read_only%3Don``) are kept beside the time zone.

    ``transaction_pooler``: the URL is a PgBouncer in transaction mode, where consecutive
    transactions may run on different server connections. psycopg then prepares no statements
    (PgBouncer < 1.21 cannot route them), and the time zone is set in each transaction
    (``SET LOCAL``) instead of once per connection (PgBouncer < 1.20 refuses ``options``)."""
    parsed = make_url(normalize_url(url))
    given = parsed.query.get("options")
    given = given[-1] if isinstance(given, tuple) else given
    options = " ".join(o for o in (given, None if transaction_pooler else f"-c timezone={timezone}") if o)
    pooled: dict[str, object] = {"prepare_threshold": None} if transaction_pooler else {}
    engine = create_engine(
        parsed.difference_update_query(["options"]),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,  # _ping_if_idle below: only connections idle past PING_AFTER_IDLE_S
        echo=echo,
        # A failed statement's exception (and so a logged traceback) never carries the bound values: they
        # may be a requester's name and phone (personal data never goes into logs).
        hide_parameters=True,
        # A database host that drops packets fails a request (and /readyz) in 5 s, not after TCP's minutes;
        # a connect_timeout in the URL wins.
        connect_args={**({"options": options} if options else {}), **pooled,
                      **({} if "connect_timeout" in parsed.query else {"connect_timeout": 5})},
    )
    _ping_if_idle(engine)
    if transaction_pooler:
        @event.listens_for(engine, "begin")
        def _local_time_zone(conn: Connection) -> None:
            conn.exec_driver_sql("SELECT set_config('TimeZone', %(tz)s, true)", {"tz": timezone})
    return engine


def _ping_if_idle(engine: Engine) -> None:
    """SQLAlchemy's pessimistic disconnect handling (its pre-ping), for connections that were idle:
    a failed ping raises DisconnectionError, and the pool then makes a new connection."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi: Any, record: Any) -> None:
        record.info["gridmap_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("gridmap_idle_since")
        if since is None or time.monotonic() - since <= PING_AFTER_IDLE_S:
            return  # a new connection, or one used a moment ago
        try:
            engine.dialect.do_ping(dbapi)
        except psycopg.Error as exc:
            raise DisconnectionError(f"a pooled connection is gone: {exc}") from exc


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)
