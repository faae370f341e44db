"""`gridmap cases import` / `cases export` against a fresh database: encodings, XLSX, rejects,
idempotence, and batches that are whole or absent when an import dies."""

from pathlib import Path

import pandas as pd
import pyogrio
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from tests.conftest import load_tiny_hierarchy, load_tiny_reference
from webmap.cli import main

GOOD = [
    ("T-1", "2026/11/01 08:00:00", "暴露垃圾", "东门垃圾", 116.3025, 39.9025),
    ("T-2", "2026-11-02 09:30", "0602", "夜里施工", 116.3175, 39.9025),
    ("T-3", "2026年11月3日 10:00", "0503", "占用消防通道", 116.3025, 39.9175),
]
BAD = [
    ("T-1", "2026/11/01 08:00:00", "0101", "重复", 116.3025, 39.9025),  # duplicate id in the file
    ("T-5", "2026/11/01 08:00:00", "0101", "没坐标", None, None),
    ("T-6", "2026/11/01 08:00:00", "0101", "写反了", 39.9, 116.3),
    ("T-7", "2026/11/01 08:00:00", "0101", "在外面", 117.5, 40.5),
    ("T-8", "2026/11/01 08:00:00", "9999", "没这个分类", 116.3025, 39.9025),
    ("T-9", "下周一", "0101", "时间错", 116.3025, 39.9025),
]
COLUMNS = ["工单编号", "受理时间", "问题分类", "诉求内容", "经度", "纬度"]


@pytest.fixture
def db(fresh_db, tmp_path):
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path / "boundaries")
        load_tiny_reference(session, tmp_path / "reference")
    yield engine
    engine.dispose()


@pytest.fixture
def cli(fresh_db, monkeypatch):
    def run(*args: str, batch: int = 100_000):
        monkeypatch.setenv("GRIDMAP_IMPORT_BATCH", str(batch))
        return CliRunner().invoke(main, list(args), env={"DATABASE_URL": fresh_db}, catch_exceptions=False)

    return run


def _cases(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(text(
            "SELECT external_id, grid_code, category_code, lead_department, to_char(reported_at AT TIME ZONE "
            "'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') FROM cases ORDER BY external_id")).all()


def _write(rows, path: Path, **kwargs) -> Path:
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if path.suffix == ".xlsx":
        frame.to_excel(path, index=False)
    else:
        frame.to_csv(path, index=False, **kwargs)
    return path


@pytest.mark.parametrize(("name", "kwargs"), [
    ("utf8.csv", {"encoding": "utf-8"}),
    ("bom.csv", {"encoding": "utf-8-sig"}),
    ("gbk.csv", {"encoding": "gbk"}),
    ("export.xlsx", {}),
])
def test_import_reads_every_export_form(db, cli, tmp_path, name, kwargs):
    path = _write(GOOD, tmp_path / name, **kwargs)
    result = cli("cases", "import", str(path), "--crs", "wgs84", "--source", "12345")
    assert result.exit_code == 0, result.output
    assert "导入 3" in result.output
    assert _cases(db) == [
        ("T-1", "110101001001001", "0101", "CGW", "2026-11-01 08:00"),
        ("T-2", "110101002001002", "0602", "GA", "2026-11-02 09:30"),
        ("T-3", "110101001002001", "0503", "GA-W", "2026-11-03 10:00"),
    ]


def test_bad_rows_go_to_the_rejects_file_with_line_and_reason(db, cli, tmp_path):
    path = _write(GOOD + BAD, tmp_path / "mixed.csv", encoding="gbk")
    rejects = tmp_path / "rejects.csv"
    result = cli("cases", "import", str(path), "--crs", "wgs84", "--source", "12345", "--rejects", str(rejects))
    assert result.exit_code == 0, result.output
    assert "导入 3" in result.output and "拒绝 6" in result.output
    table = pd.read_csv(rejects, dtype=str, encoding="utf-8-sig")
    assert list(zip(table["line"], table["reason"], strict=True)) == [
        ("5", "duplicate"), ("6", "missing_coordinates"), ("7", "out_of_range_coordinates"),
        ("8", "outside_area"), ("9", "unknown_category"), ("10", "bad_time")]
    assert list(table["工单编号"]) == ["T-1", "T-5", "T-6", "T-7", "T-8", "T-9"]
    assert len(_cases(db)) == 3


def test_importing_the_same_file_twice_adds_nothing(db, cli, tmp_path):
    path = _write(GOOD, tmp_path / "a.csv")
    cli("cases", "import", str(path), "--crs", "wgs84", "--source", "12345")
    again = cli("cases", "import", str(path), "--crs", "wgs84", "--source", "12345")
    assert "导入 0" in again.output and "已存在跳过 3" in again.output
    assert len(_cases(db)) == 3
    other_source = cli("cases", "import", str(path), "--crs", "wgs84", "--source", "grid_app")
    assert "导入 3" in other_source.output


def test_gcj02_import_lands_in_the_same_grids_as_wgs84(db, cli, tmp_path):
    import numpy as np

    from geo.domain.coordinates import wgs84_to_gcj02

    rows = []
    for row in GOOD:
        x, y = wgs84_to_gcj02(np.array([row[4]]), np.array([row[5]]))
        rows.append((*row[:4], round(float(x[0]), 7), round(float(y[0]), 7)))
    cli("cases", "import", str(_write(rows, tmp_path / "gcj.csv")), "--crs", "gcj02", "--source", "12345")
    assert [c[1] for c in _cases(db)] == ["110101001001001", "110101002001002", "110101001002001"]


def test_an_import_that_dies_leaves_whole_batches_and_a_rerun_completes_it(db, cli, tmp_path, monkeypatch):
    from geo.store import case_copy as case_store

    rows = [(f"K-{i:02d}", "2026/11/01 08:00", "0101", "", 116.3025 + i * 1e-4, 39.9025) for i in range(10)]
    path = _write(rows, tmp_path / "big.csv")
    real_copy, calls = case_store.copy_cases, []

    class Killed(Exception):
        pass

    def dies_on_second_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Killed("the process died here")
        return real_copy(*args, **kwargs)

    monkeypatch.setattr(case_store, "copy_cases", dies_on_second_batch)
    with pytest.raises(Killed):
        cli("cases", "import", str(path), "--crs", "wgs84", "--source", "12345", batch=4)
    assert [c[0] for c in _cases(db)] == [f"K-{i:02d}" for i in range(4)]  # batch 1 whole, batch 2 absent
    monkeypatch.setattr(case_store, "copy_cases", real_copy)
    result = cli("cases", "import", str(path), "--crs", "wgs84", "--source", "12345", batch=4)
    assert "导入 6" in result.output and "已存在跳过 4" in result.output
    assert [c[0] for c in _cases(db)] == [f"K-{i:02d}" for i in range(10)]
    with db.connect() as conn:
        numbers = conn.execute(text("SELECT case_no FROM cases ORDER BY case_no")).scalars().all()
    assert len(set(numbers)) == 10


def test_missing_column_is_refused_naming_the_option(db, cli, tmp_path):
    frame = pd.DataFrame([("T-1", "2026/11/01", "0101", 117.3, 39.9)],
                         columns=["编号", "时间", "分类", "X坐标", "纬度"])
    frame.to_csv(tmp_path / "odd.csv", index=False)
    result = cli("cases", "import", str(tmp_path / "odd.csv"), "--crs", "wgs84", "--source", "12345")
    assert result.exit_code == 1 and "--lon-field" in result.output and "X坐标" in result.output
    ok = cli("cases", "import", str(tmp_path / "odd.csv"), "--crs", "wgs84", "--source", "12345",
             "--lon-field", "X坐标")
    assert ok.exit_code == 0 and "拒绝 1（outside_area 1）" in ok.output


@pytest.mark.parametrize("fmt", ["csv", "geojson", "gpkg"])
def test_export_reads_back(db, cli, tmp_path, fmt):
    cli("cases", "import", str(_write(GOOD, tmp_path / "a.csv")), "--crs", "wgs84", "--source", "12345")
    out = tmp_path / f"cases.{fmt}"
    result = cli("cases", "export", "-o", str(out), "--format", fmt)
    assert result.exit_code == 0 and "已导出 3 个" in result.output
    table = pd.read_csv(out, dtype=str, encoding="utf-8-sig") if fmt == "csv" else pyogrio.read_dataframe(out)
    for column in ("id", "external_id", "source", "category", "status", "lon", "lat", "grid_code", "community_code",
                   "street_code", "district_code", "lead_department", "reported_at"):
        assert column in table.columns, column
    assert sorted(table["external_id"]) == ["T-1", "T-2", "T-3"]
    row = table[table["external_id"] == "T-2"].iloc[0]
    assert (row["grid_code"], row["lead_department"], float(row["lon"])) == ("110101002001002", "GA", 116.3175)


def test_a_ticket_number_taken_with_other_content_is_a_conflict_not_a_skip(db, cli, tmp_path):
    """The same ticket imported again is skipped; one whose number a case with other content holds
    is reported as a conflict in the summary and the rejects file, never silently skipped."""
    first = _write(GOOD, tmp_path / "a.csv")
    assert cli("cases", "import", str(first), "--crs", "wgs84", "--source", "12345").exit_code == 0
    changed = [("T-1", "2026/11/05 08:00:00", "0602", "另一件事", 116.3175, 39.9025), GOOD[1]]
    path = _write(changed, tmp_path / "b.csv")
    result = cli("cases", "import", str(path), "--crs", "wgs84", "--source", "12345",
                 "--rejects", str(tmp_path / "r.csv"))
    assert "导入 0" in result.output and "已存在跳过 1" in result.output and "拒绝 1" in result.output
    rejects = pd.read_csv(tmp_path / "r.csv", dtype=str)
    assert rejects[["line", "reason"]].values.tolist() == [["2", "conflict"]]
    assert tuple(_cases(db)[0][:3]) == ("T-1", "110101001001001", "0101")  # the first one stands


def _counter(engine, last: int) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM case_counter"))
        conn.execute(text("INSERT INTO case_counter (district_code, day, last) VALUES ('110101', '2026-11-01', :l)"),
                     {"l": last})


def test_a_district_day_past_a_million_cases_gets_wider_numbers_not_cut_ones(db, cli, tmp_path):
    _counter(db, 999_998)  # the 999,998 cases before these are not needed to reach the counter
    rows = [(f"M-{i}", "2026/11/01 08:00", "0101", "", 116.3025 + i * 1e-4, 39.9025) for i in range(3)]
    result = cli("cases", "import", str(_write(rows, tmp_path / "m.csv")), "--crs", "wgs84", "--source", "12345")
    assert result.exit_code == 0, result.output
    with db.connect() as conn:
        numbers = conn.execute(text("SELECT external_id, case_no FROM cases ORDER BY external_id")).all()
        last = conn.execute(text("SELECT last FROM case_counter")).scalar_one()
    assert numbers == [("M-0", "110101-20261101-999999"), ("M-1", "110101-20261101-1000000"),
                       ("M-2", "110101-20261101-1000001")]
    assert last == 1_000_001


def test_a_batch_the_database_refuses_ends_with_a_message_naming_it_not_a_traceback(db, cli, tmp_path):
    first = [(f"A-{i}", "2026/11/01 08:00", "0101", "", 116.3025 + i * 1e-4, 39.9025) for i in range(4)]
    assert cli("cases", "import", str(_write(first, tmp_path / "a.csv")), "--crs", "wgs84",
               "--source", "12345").exit_code == 0
    _counter(db, 2)  # a counter set back (a partial restore): the next numbers are taken
    second = [(f"B-{i}", "2026/11/01 09:00", "0101", "", 116.3025 + i * 1e-4, 39.9025) for i in range(6)]
    result = cli("cases", "import", str(_write(second, tmp_path / "b.csv")), "--crs", "wgs84", "--source", "12345",
                 batch=3)
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "UniqueViolation" not in result.output
    assert "第 1 批（文件第 2–4 行，3 行）写入失败" in result.output and "案件编号重复" in result.output
    assert "case_counter" in result.output and "数据库没有任何改动" in result.output
    assert [c[0] for c in _cases(db)] == [f"A-{i}" for i in range(4)]


def test_an_import_ends_with_the_statistics_current(db, cli, tmp_path):
    piled = [(f"P-{i}", f"2026/11/0{1 + i} 08:00", "0101", "", 116.3025, 39.9025) for i in range(3)]
    result = cli("cases", "import", str(_write(GOOD + piled, tmp_path / "p.csv")), "--crs", "wgs84",
                 "--source", "12345")
    assert result.exit_code == 0, result.output
    assert "统计已更新：计入 6 个案件" in result.output
    with db.connect() as conn:
        facts = conn.execute(text("SELECT c.external_id, f.is_repeat FROM case_fact f JOIN cases c ON c.id = f.case_id "
                                  "ORDER BY c.external_id")).all()
        behind = conn.execute(text("SELECT (SELECT max(id) FROM case_event) - last_event_id FROM case_fact_state"
                                   )).scalar_one()
    # T-1 (11-01, same place and category) comes first: each later pile-up ticket repeats it.
    assert facts == [("P-0", True), ("P-1", True), ("P-2", True), ("T-1", False), ("T-2", False), ("T-3", False)]
    assert behind == 0


def test_no_stats_leaves_the_fold_to_stats_refresh(db, cli, tmp_path):
    path = _write(GOOD, tmp_path / "g.csv")
    result = cli("cases", "import", str(path), "--crs", "wgs84", "--source", "12345", "--no-stats")
    assert result.exit_code == 0 and "统计已更新" not in result.output
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_fact")).scalar_one() == 0
    assert cli("stats", "refresh").exit_code == 0
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM case_fact")).scalar_one() == 3


def test_a_refused_batch_names_the_row_the_database_names():
    from types import SimpleNamespace

    from geo.services.imports import ImportSummary, batch_failure

    diag = SimpleNamespace(constraint_name="uq_cases_source_external_id", message_primary="duplicate key",
                           message_detail="Key (source, external_id)=(12345, T-7) already exists.")
    batch = pd.DataFrame({"line": [11, 12, 13], "external_id": ["T-6", "T-7", "T-8"]})
    error = batch_failure(2, batch, ImportSummary(imported=5), SimpleNamespace(orig=SimpleNamespace(diag=diag)))
    assert "第 2 批（文件第 11–13 行，3 行）" in error.message and "第 12 行（工单编号 T-7）" in error.message
    assert "另一次同时运行的导入" in error.message and "导入 5 行" in error.message
    assert error.code == "batch_failed" and error.details["committed_rows"] == 5
