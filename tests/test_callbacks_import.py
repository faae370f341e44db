"""`gridmap callbacks import`: the 12345 centre's callback results land on closed cases as
callback events (what 解决率 and 满意率 count), refused rows go to a rejects file with the reason,
and a second run changes nothing."""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.services import accounts, workflow
from geo.services.cases import NewCase, create_case
from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from webmap.cli import main

HEADERS = ["工单编号", "是否联系", "是否解决", "是否满意", "回访时间"]


@pytest.fixture
def db(fresh_db, tmp_path):
    """Tickets T-1 and T-2 closed, T-3 still open (source 12345)."""
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "boundaries")
        load_tiny_reference(session, tmp_path / "reference")
        leader = accounts.create_user(session, "leader", role="street_leader", scope="110101002", password="pw-123456")
        cgw = accounts.create_user(session, "cgw", role="department_staff", department="CGW", password="pw-123456")
        worker = accounts.create_user(session, "worker", role="grid_worker", scope="110101002001002",
                                      password="pw-123456")
        for ticket in ("T-1", "T-2", "T-3"):
            case = create_case(session, NewCase(lon=116.3175, lat=39.9025, category="0101", source="12345",
                                                external_id=ticket, reported_at="2026-11-20 09:00"))["id"]
            if ticket == "T-3":
                continue
            for who, action, note in ((leader, "dispatch", ""), (cgw, "sign", ""), (cgw, "start", ""),
                                      (cgw, "resolve", "已处理"), (worker, "check", ""), (leader, "close", "")):
                workflow.act(session, who, case, action, note=note)
    yield engine
    engine.dispose()


def run(fresh_db, *args):
    return CliRunner().invoke(main, ["callbacks", "import", *args], env={"DATABASE_URL": fresh_db},
                              catch_exceptions=False)


def _write(rows, path: Path) -> Path:
    pd.DataFrame(rows, columns=HEADERS).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _callbacks(engine):
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT c.external_id, e.actor_role, e.details->>'solved', e.details->>'satisfied', "
            "to_char(e.at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), c.callback->>'satisfied' "
            "FROM case_event e JOIN cases c ON c.id = e.case_id WHERE e.action = 'callback' "
            "ORDER BY c.external_id")).all()


def test_results_land_on_closed_cases_and_bad_rows_are_rejected_with_reasons(db, fresh_db, tmp_path):
    path = _write([
        ("T-1", "是", "是", "满意", "2026-11-28 10:00"),
        ("T-2", "1", "否", "不满意", "2026/11/28 11:30"),
        ("T-3", "是", "是", "是", "2026-11-28 12:00"),  # not closed yet
        ("T-9", "是", "是", "是", "2026-11-28 12:00"),  # no such ticket
        ("T-1", "是", "是", "是", "2026-11-28 12:00"),  # twice in the file
        ("T-2", "也许", "是", "是", "2026-11-28 12:00"),  # an answer nobody can read
        ("", "是", "是", "是", "2026-11-28 12:00"),
        ("T-2", "是", "是", "是", "1926-11-28 12:00"),  # a mistyped year
    ], tmp_path / "callbacks.csv")
    result = run(fresh_db, str(path), "--rejects", str(tmp_path / "rejects.csv"))
    assert result.exit_code == 0, result.output
    assert "记录回访 2" in result.output and "拒绝 6" in result.output
    assert _callbacks(db) == [("T-1", "hotline", "true", "true", "2026-11-28 10:00", "true"),
                              ("T-2", "hotline", "false", "false", "2026-11-28 11:30", "false")]
    rejects = pd.read_csv(tmp_path / "rejects.csv", dtype=str)
    assert dict(zip(rejects["line"].astype(int), rejects["reason"], strict=True)) == {
        4: "not_closed", 5: "unknown_ticket", 6: "duplicate", 7: "bad_answer", 8: "missing_id", 9: "bad_time"}
    assert set(rejects.columns) >= {"message", *HEADERS}


def test_a_second_run_changes_nothing_and_a_different_result_is_refused(db, fresh_db, tmp_path):
    first = _write([("T-1", "是", "是", "满意", "2026-11-28 10:00")], tmp_path / "a.csv")
    assert "记录回访 1" in run(fresh_db, str(first)).output
    assert "已记录跳过 1" in run(fresh_db, str(first)).output
    changed = _write([("T-1", "是", "否", "不满意", "2026-11-29 10:00")], tmp_path / "b.csv")
    output = run(fresh_db, str(changed)).output
    assert "拒绝 1" in output and "本轮已有不同的回访结果" in output
    assert len(_callbacks(db)) == 1


def test_a_file_without_the_columns_is_refused_naming_them(db, fresh_db, tmp_path):
    path = tmp_path / "wrong.csv"
    pd.DataFrame({"编号": ["T-1"], "满意": ["是"]}).to_csv(path, index=False)
    result = CliRunner().invoke(main, ["callbacks", "import", str(path)], env={"DATABASE_URL": fresh_db})
    assert result.exit_code != 0 and "是否联系" in result.output and "回访时间" in result.output
