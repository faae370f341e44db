"""Validating 12345 export rows (pure): columns, reasons, time forms."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from geo.domain.errors import InvalidInput
from geo.domain.tickets import resolve_columns, validate_rows

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
SHANGHAI = ZoneInfo("Asia/Shanghai")
CATEGORIES = {"0101": "0101", "暴露垃圾": "0101", "0602": "0602"}


def _validate(rows):
    frame = pd.DataFrame(rows, columns=["工单编号", "受理时间", "问题分类", "诉求内容", "经度", "纬度"])
    cols = resolve_columns(list(frame.columns), {})
    return validate_rows(frame, cols, categories=CATEGORIES, tz=SHANGHAI, now=NOW)


def test_columns_found_by_chinese_names_or_named_explicitly():
    cols = resolve_columns(["编号", "X", "Y", "类别", "时间"], {"lon": "x", "lat": "Y"})
    assert (cols.id, cols.lon, cols.lat, cols.category, cols.time) == ("编号", "X", "Y", "类别", "时间")
    assert cols.description is None


def test_missing_column_lists_what_the_file_has():
    with pytest.raises(InvalidInput) as err:
        resolve_columns(["编号", "经度", "纬度", "时间"], {})
    assert err.value.field == "category_field" and "编号, 经度, 纬度, 时间" in err.value.message


@pytest.mark.parametrize(("row", "reason"), [
    (["", "2026-11-01 08:00", "0101", "", "116.3", "39.9"], "missing_id"),
    (["A2", "2026-11-01 08:00", "0101", "", "", "39.9"], "missing_coordinates"),
    (["A3", "2026-11-01 08:00", "0101", "", "东经116", "39.9"], "non_numeric_coordinates"),
    (["A4", "2026-11-01 08:00", "0101", "", "NaN", "39.9"], "nan_coordinates"),
    (["A5", "2026-11-01 08:00", "0101", "", "39.9", "116.3"], "out_of_range_coordinates"),
    (["A6", "2026-11-01 08:00", "9999", "", "116.3", "39.9"], "unknown_category"),
    (["A7", "昨天下午", "0101", "", "116.3", "39.9"], "bad_time"),
    (["A8", "2027-01-01 08:00", "0101", "", "116.3", "39.9"], "bad_time"),
])
def test_each_bad_row_gets_its_reason_and_line(row, reason):
    good_row = ["A1", "2026-11-01 08:00", "0101", "", "116.3", "39.9"]
    result = _validate([good_row, row])
    assert list(result.good["external_id"]) == ["A1"]
    assert result.refused.to_dict("records") == [{"line": 3, "reason": reason}]


def test_repeated_id_is_kept_once():
    row = ["A1", "2026-11-01 08:00", "0101", "", "116.3", "39.9"]
    result = _validate([row, row])
    assert list(result.good["line"]) == [2]
    assert result.refused.to_dict("records") == [{"line": 3, "reason": "duplicate"}]


@pytest.mark.parametrize(("text", "expected_utc"), [
    ("2026/11/01 08:00:00", "2026-11-01T00:00:00+00:00"),
    ("2026-11-01T08:00", "2026-11-01T00:00:00+00:00"),
    ("2026年11月1日 08:00", "2026-11-01T00:00:00+00:00"),
    ("2026-11-01T08:00:00+00:00", "2026-11-01T08:00:00+00:00"),
    ("2026-11-01 08:00:00Z", "2026-11-01T08:00:00+00:00"),
])
def test_time_forms_naive_ones_local_to_beijing(text, expected_utc):
    result = _validate([["A1", text, "暴露垃圾", "x", "116.3", "39.9"]])
    assert result.good["reported_at"].iloc[0].isoformat() == expected_utc
    assert result.good["category_code"].iloc[0] == "0101"


def test_a_file_mixing_utf8_and_gbk_lines_is_refused_but_pure_gbk_is_read(tmp_path):
    from geo.domain.errors import InvalidInput
    from geo.domain.tables import detect_encoding

    pure = tmp_path / "gbk.csv"
    pure.write_bytes("位置,工单编号\n位于东门,T-1\n".encode("gbk"))  # 位 in GBK happens to look like UTF-8
    assert detect_encoding(pure) == "gb18030"
    mixed = tmp_path / "mixed.csv"
    mixed.write_bytes("位置,工单编号\n".encode() + "位于东门,T-1\n".encode("gbk"))
    with pytest.raises(InvalidInput) as err:
        detect_encoding(mixed)
    assert err.value.code == "mixed_encoding" and err.value.field == "encoding" and "第 2 行" in err.value.message
