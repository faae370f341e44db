"""Read the tables people export: CSV (UTF-8 with or without BOM, or GBK) and XLSX (python-calamine).

Everything is read as text (codes keep their leading zeros; numbers are parsed where needed),
column names are stripped, and the encoding of a CSV is detected when not given.

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
>>> _ = open(path, "wb").write("工单编号,经度\\n1,116.4\\n".encode("gbk"))
>>> read_table(path).to_dict("records")
[{'工单编号': '1', '经度': '116.4'}]
"""

from __future__ import annotations

import codecs
import csv
import zipfile
from pathlib import Path

import pandas as pd
from python_calamine import CalamineError

from geo.domain.errors import InvalidInput

__all__ = ["TABLE_SUFFIXES", "detect_encoding", "read_table"]

TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")
_SNIFF_BYTES = 4 * 1024 * 1024


def detect_encoding(path: Path) -> str:
    """'utf-8-sig' for a BOM, 'utf-8' when the head decodes as UTF-8, else 'gb18030' (a GBK superset)."""
    head = path.read_bytes()[:_SNIFF_BYTES] if path.stat().st_size <= _SNIFF_BYTES else _head(path)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        head.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:  # a character cut at the sniff boundary
            return "utf-8"
        mixed_at = _mixed_utf8_line(head)
        if mixed_at is not None:
            # Lines of Chinese that are valid UTF-8, and lines that are not: two encodings in one
            # file (rows pasted from another export). Read either way, half the text is garbled.
            line = mixed_at
            raise InvalidInput(f"{path.name} 混合了两种编码：前面是 UTF-8，第 {line} 行起出现不是 UTF-8 的文字"
                               "（多半是 GBK）。请在 Excel/WPS 中把整个文件另存为“CSV UTF-8”后再导入。",
                               field="encoding", code="mixed_encoding") from exc
    try:
        head.decode("gb18030")
        return "gb18030"
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name} 既不是 UTF-8 也不是 GBK 编码，请用 --encoding 指定。",
                           field="encoding", code="bad_encoding") from exc


def _mixed_utf8_line(head: bytes) -> int | None:
    """The first line that is not UTF-8 when an earlier line is UTF-8 Chinese (3-byte characters),
    else None. A GBK line passes as UTF-8 Chinese only by freak chance, so this never fires on a
    file that is GBK throughout."""
    seen_utf8_chinese = False
    for number, raw in enumerate(head.split(b"\n")[:-1], start=1):  # the last piece may be cut
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if seen_utf8_chinese:
                return number
            return None
        seen_utf8_chinese = seen_utf8_chinese or any(ord(ch) >= 0x800 for ch in text)
    return None


def _head(path: Path) -> bytes:
    with path.open("rb") as fh:
        return fh.read(_SNIFF_BYTES)


def read_table(path: str | Path, *, encoding: str | None = None, sheet: str | int = 0) -> pd.DataFrame:
    """All cells as strings (empty cells as None); raises ``InvalidInput`` naming the fix."""
    path = Path(path)
    if not path.exists():
        raise InvalidInput(f"文件不存在：{path}", field="path", code="file_not_found")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InvalidInput(f"不支持的文件类型 {suffix or '（无扩展名）'}：请用 CSV 或 XLSX。", field="path",
                           code="unsupported_format")
    frame = _read_xlsx(path, sheet) if suffix in (".xlsx", ".xlsm") else _read_csv(path, encoding)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]
    return frame.astype(object).where(frame.notna(), None)


def _read_csv(path: Path, encoding: str | None) -> pd.DataFrame:
    if encoding:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError as exc:
            raise InvalidInput(f"不认识的编码名 {encoding!r}。常用的有 utf-8、gbk。", field="encoding",
                               code="bad_encoding") from exc
    enc = encoding or detect_encoding(path)
    try:
        return pd.read_csv(path, dtype=str, encoding=enc, keep_default_na=False, na_values=[""],
                           skipinitialspace=True, quoting=csv.QUOTE_MINIMAL)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name} 无法按 {enc} 解码（第 {exc.start} 字节附近）。请用 --encoding 指定，"
                           "12345 导出常见的是 gbk 或 utf-8。", field="encoding", code="bad_encoding") from exc
    except pd.errors.EmptyDataError as exc:
        raise InvalidInput(f"{path.name} 是空文件。", field="path", code="empty_file") from exc
    except pd.errors.ParserError as exc:
        raise InvalidInput(f"{path.name} 不是有效的 CSV：{exc}", field="path", code="unreadable_file") from exc


def _read_xlsx(path: Path, sheet: str | int) -> pd.DataFrame:
    # calamine (Rust) reads ≈ 10–20× faster than openpyxl (bench/xlsx_intake.py) and converts cells
    # as pandas' openpyxl reader does (whole numbers as int, dates as datetime).
    try:
        return pd.read_excel(path, sheet_name=sheet, dtype=str, engine="calamine")
    except (CalamineError, ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise InvalidInput(f"{path.name} 无法作为 XLSX 读取：{exc}", field="path", code="unreadable_file") from exc
