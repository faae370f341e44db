"""CLI for people and reference data: users, tokens, duty list, calendar, outbox (fresh database)."""

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.domain.errors import Unauthorized
from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from webmap.cli import main


@pytest.fixture
def cli(fresh_db, tmp_path):
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "b")
        load_tiny_reference(session, tmp_path / "r")

    def run(*args: str, stdin: str | None = None):
        return CliRunner().invoke(main, list(args), input=stdin, env={"DATABASE_URL": fresh_db})

    yield run, engine
    engine.dispose()


def test_users_and_tokens(cli):
    run, engine = cli
    made = run("users", "create", "zhang", "--role", "department_staff", "--department", "CGW", "--password-stdin",
               stdin="long-enough-password\n")
    assert made.exit_code == 0 and "部门 CGW" in made.output
    weak = run("users", "create", "li", "--role", "planner", "--password-stdin", stdin="short\n")
    assert weak.exit_code == 1 and "[weak_password]" in weak.output
    no_scope = run("users", "create", "wang", "--role", "street_leader", "--password-stdin", stdin="x" * 12 + "\n")
    assert no_scope.exit_code == 1 and "[bad_scope]" in no_scope.output
    again = run("users", "create", "zhang", "--role", "planner", "--password-stdin", stdin="x" * 12 + "\n")
    assert again.exit_code == 1 and "[duplicate]" in again.output
    token = run("tokens", "create", "zhang", "--name", "12345 对接")
    assert token.exit_code == 0 and token.stdout.strip().startswith("gm_")
    with engine.connect() as conn:
        token_id = conn.execute(text("SELECT id FROM api_token")).scalar_one()
    assert run("tokens", "revoke", str(token_id)).exit_code == 0
    assert run("tokens", "revoke", str(token_id)).exit_code == 1


def test_bad_duty_list_is_refused_whole(cli, tmp_path):
    run, engine = cli
    path = tmp_path / "duties.csv"
    path.write_text("category,scope,lead,co\n0101,,CGW,\n0102,,NOPE,\n0103,weird scope,CGW,\n", encoding="utf-8")
    result = run("duties", "load", str(path))
    assert result.exit_code == 1 and "第 3 行部门 NOPE" in result.output and "第 4 行" in result.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM duty_rule")).scalar_one() == 6  # the tiny list, untouched


def test_calendar_and_outbox(cli, tmp_path):
    run, engine = cli
    path = tmp_path / "cal.csv"
    path.write_text("day,kind,name\n2026-10-01,节假日,国庆节\n2026-10-10,调休,国庆调休\n", encoding="gbk")
    assert "已加载 2 天" in run("calendar", "load", str(path)).output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT kind FROM calendar_day ORDER BY day")).scalars().all() == [
            "holiday", "workday"]
    bad = tmp_path / "bad.csv"
    bad.write_text("day,kind\n2026-13-01,holiday\n", encoding="utf-8")
    assert run("calendar", "load", str(bad)).exit_code == 1
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO outbox (kind, recipient, payload) "
                          "VALUES ('dispatch', 'CGW', CAST(:p AS jsonb))"), {"p": json.dumps({"case": "x"})})
    drained = run("outbox", "drain")
    lines = [json.loads(line) for line in drained.stdout.splitlines()]
    assert [(r["kind"], r["recipient"]) for r in lines] == [("dispatch", "CGW")]
    assert run("outbox", "drain").stdout.strip() == ""


def test_the_account_lifecycle(cli, fresh_db):
    """passwd, disable, enable, unlock, delete and list: what an operator needs without SQL."""
    from geo.services import accounts, workflow
    from geo.services.cases import NewCase, create_case

    run, engine = cli
    assert run("users", "create", "zhou", "--role", "planner", "--password-stdin", stdin="first-password\n"
               ).exit_code == 0
    assert run("tokens", "create", "zhou").exit_code == 0
    with Session(engine) as session, session.begin():
        for _ in range(accounts.FREE_ATTEMPTS):
            with pytest.raises(Unauthorized):
                accounts.authenticate(session, "zhou", "wrong-password")
    assert "已锁定" in run("users", "list").output
    assert run("users", "unlock", "zhou").exit_code == 0
    listed = run("users", "list").output
    assert "zhou\t规划/分析人员\t全市\t-\t正常" in listed
    assert run("users", "passwd", "zhou", "--password-stdin", stdin="second-password\n").exit_code == 0
    with Session(engine) as session, session.begin():
        assert accounts.authenticate(session, "zhou", "second-password").username == "zhou"
    assert run("users", "disable", "zhou").exit_code == 0
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM api_token WHERE revoked_at IS NULL")).scalar_one() == 0
    with Session(engine) as session, session.begin(), pytest.raises(Unauthorized):
        accounts.authenticate(session, "zhou", "second-password")
    assert run("users", "enable", "zhou").exit_code == 0
    assert run("users", "delete", "zhou").exit_code == 0  # never acted: gone
    assert "zhou" not in run("users", "list").output
    # someone who acted is kept (the events name them): delete is refused, disable is the way
    assert run("users", "create", "lead", "--role", "street_leader", "--scope", "110101002", "--password-stdin",
               stdin="leader-password\n").exit_code == 0
    with Session(engine) as session, session.begin():
        lead = accounts.authenticate(session, "lead", "leader-password")
        case = create_case(session, NewCase(lon=116.3175, lat=39.9025, category="0101"), user=lead)
        workflow.act(session, lead, case["id"], "dispatch")
    refused = run("users", "delete", "lead")
    assert refused.exit_code == 1 and "[in_use]" in refused.output and "disable" in refused.output
    assert run("users", "unlock", "ghost").exit_code == 1


@pytest.mark.parametrize(("role", "scope", "code"), [
    ("street_leader", "110101", "bad_scope"),  # a district: wider than a street leader's level
    ("street_leader", "110101001001", "bad_scope"),  # a community: not a street leader's level
    ("community_leader", "110101001", "bad_scope"),
    ("grid_worker", "110101001", "bad_scope"),
    ("hotline", "110101001", "bad_scope"),
    ("department_staff", "110101", "bad_scope"),
    ("admin", "110101", "bad_scope"),
    ("street_leader", "110101009", "unknown_scope"),  # the right length, but no such street is loaded
    ("grid_worker", "110101001001999", "unknown_scope"),
    ("hotline", "110199", "unknown_scope"),
])
def test_a_scope_must_be_a_loaded_code_of_the_roles_level(cli, role, scope, code):
    run, engine = cli
    department = ["--department", "CGW"] if role == "department_staff" else []
    made = run("users", "create", "wrong", "--role", role, "--scope", scope, *department, "--password-stdin",
               stdin="long-enough-password\n")
    assert made.exit_code == 1 and f"[{code}]" in made.output and "（scope）" in made.output, made.output
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM app_user WHERE username = 'wrong'")).scalar_one() == 0


@pytest.mark.parametrize(("role", "scope"), [
    ("street_leader", "110101001"), ("community_leader", "110101001001"), ("grid_worker", "110101001001"),
    ("grid_worker", "110101001001001"), ("hotline", "110101"), ("hotline", ""), ("planner", "110101001"),
])
def test_a_scope_of_the_roles_level_that_is_loaded_is_accepted(cli, role, scope):
    run, _ = cli
    made = run("users", "create", "right", "--role", role, "--scope", scope, "--password-stdin",
               stdin="long-enough-password\n")
    assert made.exit_code == 0, made.output


def test_the_list_points_out_accounts_whose_scope_no_longer_fits(cli):
    run, engine = cli
    from geo.services import accounts

    with Session(engine) as session, session.begin():  # made before scopes were checked
        accounts.create_user(session, "old_leader", role="street_leader", scope="110101", password="x" * 12)
    listed = run("users", "list")
    assert listed.exit_code == 0
    assert "old_leader" in listed.stdout
    assert "用户 old_leader 的范围有误：街道负责人的范围应为街道编码（9 位），110101 不是" in listed.stderr
