"""Fixtures: a real PostGIS (started by `make test`), per-test rollback, fresh databases for CLI tests.

`make test` exports GRIDMAP_TEST_ADMIN_URL (a throwaway cluster). Without it the database tests
fail rather than skip: a skipped database test proves nothing.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from geo.services.schema import upgrade_schema
from geo.store.db import normalize_url
from webmap import create_app
from webmap.observability import JsonFormatter

# One template per xdist worker (make test runs two): CREATE DATABASE … TEMPLATE needs it unused.
TEMPLATE_DB = f"gridmap_test_template_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
ARTIFACTS = Path(__file__).parent / "artifacts"


# --- skipped tests fail the run ---------------------------------------------------------------

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and os.environ.get("GRIDMAP_FAIL_ON_SKIP"):
        print(f"\n{len(_skipped)} test(s) skipped; skips are failures here: {', '.join(_skipped)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# --- databases --------------------------------------------------------------------------------


def _db_url(admin_url: str, name: str) -> str:
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def _admin(admin_url: str, sql: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(sql))
    engine.dispose()


@pytest.fixture(scope="session")
def admin_url() -> str:
    url = os.environ.get("GRIDMAP_TEST_ADMIN_URL")
    if not url:
        pytest.fail("GRIDMAP_TEST_ADMIN_URL is not set: run the tests with `make test`, which starts PostGIS.")
    return normalize_url(url)


@pytest.fixture(scope="session")
def template_db(admin_url: str) -> str:
    """A database migrated to head, cloned by every other test database."""
    _admin(admin_url, f"DROP DATABASE IF EXISTS {TEMPLATE_DB} WITH (FORCE)")
    _admin(admin_url, f"CREATE DATABASE {TEMPLATE_DB}")
    engine = create_engine(_db_url(admin_url, TEMPLATE_DB))
    with engine.begin() as conn:
        upgrade_schema(conn)
    engine.dispose()
    return TEMPLATE_DB


def _clone(admin_url: str, template: str) -> tuple[str, str]:
    name = f"gridmap_test_{uuid.uuid4().hex[:10]}"
    _admin(admin_url, f"CREATE DATABASE {name} TEMPLATE {template}")
    return name, _db_url(admin_url, name)


@pytest.fixture(scope="session")
def db_url(admin_url: str, template_db: str) -> Iterator[str]:
    """The database that rolled-back tests share."""
    name, url = _clone(admin_url, template_db)
    yield url
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test."""
    with engine.connect() as conn:
        trans = conn.begin()
        yield conn
        trans.rollback()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    with Session(bind=connection, join_transaction_mode="create_savepoint") as s:
        yield s


@pytest.fixture
def fresh_db(admin_url: str, template_db: str) -> Iterator[str]:
    """A database of its own (migrated, empty) for tests that commit, such as CLI tests."""
    name, url = _clone(admin_url, template_db)
    yield url
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- the web app ------------------------------------------------------------------------------


@pytest.fixture
def app(db_url: str, connection: Connection) -> Flask:
    """The app, its requests running inside the test's rolled-back transaction."""
    application = create_app({"DATABASE_URL": db_url, "GRIDMAP_SECRET_KEY": "test", "TESTING": True})
    application.extensions["gridmap"]["sessionmaker"] = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    return application


@pytest.fixture
def anon(app: Flask) -> FlaskClient:
    """A client that has not signed in."""
    return app.test_client()


def make_user(session: Session, username: str, role: str, scope: str = "", department: str | None = None) -> str:
    """Create a user and return a bearer token for it."""
    from geo.services.accounts import create_token, create_user

    create_user(session, username, role=role, password="password-" + username, scope=scope, department=department)
    return create_token(session, username)[1]


@pytest.fixture
def client_as(app: Flask, session: Session):
    """client_as(role, scope, department) → a test client signed in (bearer token) as a new user."""
    counter = iter(range(1_000_000))

    def make(role: str, scope: str = "", department: str | None = None) -> FlaskClient:
        token = make_user(session, f"{role}{next(counter)}", role, scope, department)
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
        return client

    return make


@pytest.fixture
def client(client_as) -> FlaskClient:
    """Signed in as the street leader of the whole tiny district (may report and read everything there)."""
    return client_as("street_leader", "110101")


# --- logs -----------------------------------------------------------------------------------------


class LogLines(logging.Handler):
    """Every record of every logger, formatted as the production handler formats it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def json(self, logger: str | None = None) -> list[dict]:
        rows = [json.loads(line) for line in self.lines]
        return [r for r in rows if logger is None or r["logger"] == logger]


@pytest.fixture
def logs() -> Iterator[LogLines]:
    """The log lines written during the test (root logger at INFO), as JSON lines."""
    handler = LogLines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


# --- boundaries -------------------------------------------------------------------------------


def load_tiny_hierarchy(session: Session, folder: Path) -> None:
    """Load the four levels of tests/geometries.py through the real service."""
    from geo.services.boundaries import load_boundaries
    from tests import geometries as g

    for level in ("district", "street", "community", "grid"):
        path = g.write(g.frame(level), folder / f"{level}.geojson")
        load_boundaries(session, path, level, parent_field=None if level == "district" else "parent_code")


@pytest.fixture
def loaded(session: Session, tmp_path: Path) -> Session:
    """The session, with the tiny hierarchy loaded (rolled back after the test)."""
    load_tiny_hierarchy(session, tmp_path)
    return session


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[pytest.TestReport]:
    """Keep each phase's report on the test item, so fixtures can react to failures (screenshots)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- reference data for routing -----------------------------------------------------------------

TINY_DEPARTMENTS = """code,name,parent_code
CGW,城管委,
CGZF,城管执法局,
GA,公安分局,
HBJ,生态环境局,
"""
TINY_DUTIES = """category,scope,lead,co,resolve_limit_hours
0101,,CGW,CGZF,
0503,,CGZF,GA,
0503,辖区:GA,GA,CGZF,
0602,,HBJ,GA;CGZF,
0602,110101,HBJ,CGZF,
0602,110101002,GA,HBJ,12
"""


def load_tiny_reference(session: Session, folder: Path) -> None:
    """Departments, a police unit whose jurisdiction (辖区) is the western street, and a duty list.

    0101 has only a citywide rule; 0503 has a citywide rule and one for GA's jurisdiction; 0602 has
    citywide, district 110101 and street 110101002 rules; 0699 has none (street fallback).
    """
    import geopandas as gpd
    import shapely

    from geo.services.reference import load_departments, load_duties
    from tests import geometries as g

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "departments.csv").write_text(TINY_DEPARTMENTS, encoding="utf-8")
    load_departments(session, folder / "departments.csv")
    units = gpd.GeoDataFrame({"code": ["GA-W"], "name": ["西派出所"], "parent_code": ["GA"]},
                             geometry=[shapely.box(*g.STREETS["110101001"])], crs="EPSG:4326")
    load_departments(session, g.write(units, folder / "units.geojson"))
    (folder / "duties.csv").write_text(TINY_DUTIES, encoding="utf-8")
    load_duties(session, folder / "duties.csv")


@pytest.fixture
def routed(loaded: Session, tmp_path: Path) -> Session:
    """The tiny hierarchy plus departments and duty list (rolled back after the test)."""
    load_tiny_reference(loaded, tmp_path / "reference")
    return loaded


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """scrypt's work factor makes each hash ~60 ms on purpose; the tests create hundreds of users.
    Hashes stay scrypt with the cost recorded in them (verification reads it back), just cheaper."""
    import geo.domain.passwords

    original = geo.domain.passwords._N
    geo.domain.passwords._N = 2**8
    yield
    geo.domain.passwords._N = original


# --- a real WSGI server ------------------------------------------------------------------------


@contextmanager
def live_server(database_url: str) -> Iterator[str]:
    """The app on waitress at 127.0.0.1 (a free port) over ``database_url``; yields its base URL."""
    import threading

    from waitress.server import create_server

    app = create_app({"DATABASE_URL": database_url, "GRIDMAP_SECRET_KEY": "test", "GRIDMAP_BASEMAP": "none"})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server or cluster a test starts)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_ready(base: str, seconds: float = 40) -> None:
    """Poll ``base``/readyz until it answers 200 (a `gridmap serve` subprocess starting; its workers
    import numpy, geopandas and numba, which takes seconds on a busy 2-core machine)."""
    import time
    import urllib.request

    deadline = time.monotonic() + seconds
    while True:
        try:
            if urllib.request.urlopen(base + "/readyz", timeout=2).status == 200:
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, f"{base} did not become ready in {seconds} s"
        time.sleep(0.1)
