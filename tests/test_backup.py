"""`gridmap backup` / `gridmap restore`: pg_dump's custom format carries the PostGIS extension,
every boundary version, case, event, whistle and photo into an empty database; a database that
already holds data is refused and left as it was."""

import uuid
from io import BytesIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.services.accounts import create_user
from geo.services.cases import NewCase, create_case
from geo.services.photos import add_photos
from geo.services.whistles import blow
from geo.services.workflow import act
from tests import geometries as g
from tests.conftest import _admin, _db_url, load_tiny_hierarchy, load_tiny_reference
from webmap.cli import main

EAST = {"lon": 116.3175, "lat": 39.9025}  # grid 110101002001002, street 110101002
#: Every row of these tables must come back as it was (photos' bytes included).
COMPARED = {
    "boundary_version": "id", "boundary": "id", "cases": "id", "case_event": "id", "whistle": "id",
    "whistle_summons": "whistle_id, department_code", "case_photo": "id", "app_user": "id",
    "department": "code", "duty_rule": "id", "alembic_version": "version_num",
}


def _png() -> bytes:
    buf = BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def _fill(url: str, folder: Path) -> None:
    """Boundaries (the grid level loaded twice: two versions), reference data, three cases, a
    dispatch and a sign through the workflow, a whistle and a photo, committed."""
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, folder)
        from geo.services.boundaries import load_boundaries

        load_boundaries(session, g.write(g.frame("grid"), folder / "grid-v2.geojson"), "grid",
                        parent_field="parent_code")
        load_tiny_reference(session, folder / "reference")
        leader = create_user(session, "leader", role="street_leader", password="password-leader",
                             scope="110101002")
        cgw = create_user(session, "cgw", role="department_staff", password="password-cgw", department="CGW")
        cases = [create_case(session, NewCase(**EAST, category=c, description=f"案件 {i}"), user=leader)["id"]
                 for i, c in enumerate(("0101", "0503", "0602"))]
        act(session, leader, cases[0], "dispatch")
        act(session, cgw, cases[0], "sign")
        blow(session, leader, case_nos=cases[1:], lead="GA", co=["HBJ"], reason="综合执法")
        add_photos(session, leader, cases[2], [("photo", _png())])
    engine.dispose()


def _rows(url: str) -> dict[str, list[tuple]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = {table: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY {key}"))]
                for table, key in COMPARED.items()}
        rows["postgis"] = [tuple(r) for r in conn.execute(text(
            "SELECT extname, extversion FROM pg_extension WHERE extname = 'postgis'"))]
        rows["photo_bytes"] = [(bytes(r[0]),) for r in conn.execute(text("SELECT data FROM case_photo ORDER BY id"))]
    engine.dispose()
    return rows


@pytest.fixture
def cli():
    runner = CliRunner()

    def run(url: str, *args: str):
        return runner.invoke(main, list(args), env={"DATABASE_URL": url}, catch_exceptions=False)

    return run


@pytest.fixture
def empty_db(admin_url):
    """A database made from template0: not even the postgis extension is in it."""
    name = f"gridmap_restore_{uuid.uuid4().hex[:10]}"
    _admin(admin_url, f"CREATE DATABASE {name} TEMPLATE template0")
    yield _db_url(admin_url, name)
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def dump(fresh_db, cli, tmp_path) -> Path:
    _fill(fresh_db, tmp_path)
    path = tmp_path / "gridmap.dump"
    result = cli(fresh_db, "backup", "-o", str(path))
    assert result.exit_code == 0, result.output
    assert "案件 3，事件 12，边界版本 5，照片 1，吹哨 1" in result.output
    assert path.stat().st_mode & 0o777 == 0o600  # a backup holds password hashes: owner only
    return path


def test_restore_into_an_empty_database_brings_back_everything(fresh_db, empty_db, dump, cli):
    before = _rows(fresh_db)
    engine = create_engine(empty_db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pg_extension WHERE extname = 'postgis'")).scalar() == 0
    engine.dispose()

    result = cli(empty_db, "restore", str(dump))

    assert result.exit_code == 0, result.output
    assert "案件 3，事件 12，边界版本 5，照片 1，吹哨 1" in result.output
    after = _rows(empty_db)
    for table in [*COMPARED, "postgis", "photo_bytes"]:
        assert after[table] == before[table], table
    assert len(after["boundary_version"]) == 5  # district, street, community and two of grid
    assert after["photo_bytes"][0][0].startswith(b"\x89PNG")
    status = cli(empty_db, "db", "status")
    assert status.exit_code == 0 and "最新" in status.output, status.output


def test_restore_refuses_a_database_that_holds_data(fresh_db, dump, cli):
    before = _rows(fresh_db)

    result = cli(fresh_db, "restore", str(dump))

    assert result.exit_code == 1
    assert "不是空的" in result.output and "案件 3" in result.output and "--force" in result.output
    assert "数据库没有任何改动" in result.output
    assert _rows(fresh_db) == before
