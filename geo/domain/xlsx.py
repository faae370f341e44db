"""A small, fast XLSX writer for one table: header row frozen and filterable, codes as text.

openpyxl writes ~70,000 cells a second; a statistics export of 10,000 boundaries × 50 measures is
half a million cells, so this module builds the sheet XML column by column instead (≈ 20× faster
than openpyxl, ≈ 3× faster than XlsxWriter in constant-memory mode, which would miss the < 1 s
export goal: ``bench/xlsx_writers.py`` measures all three in one run). Every row and cell carries
its reference (``<row r="2">``, ``<c r="B2">``): the format makes them optional, but GDAL's XLSX
driver before 3.7 (QGIS on Debian 12) refused every row without them ("Invalid row: 0"), so
``tests/test_table_exports.py`` reads each export back with openpyxl, pyogrio and Debian's ``ogrinfo``.

>>> import tempfile, os
>>> from openpyxl import load_workbook
>>> frame = pd.DataFrame({"code": ["0101"], "rate": [0.5], "n": [3]})
>>> path = os.path.join(tempfile.mkdtemp(), "t.xlsx")
>>> write_xlsx(frame, path, headers={"code": "编码", "rate": "比率", "n": "数量"}, text=["code"],
...            percent=["rate"])
1
>>> sheet = load_workbook(path).active
>>> [c.value for c in sheet[1]], [c.value for c in sheet[2]], sheet.freeze_panes
(['编码', '比率', '数量'], ['0101', 0.5, 3], 'A2')
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd

__all__ = ["NOTES_SHEET", "write_xlsx"]

# Styles (cellXfs index): 0 default, 1 bold header, 2 text, 3 percent 0.0%, 4 number 0.00, 5 integer.
_HEADER, _TEXT, _PERCENT, _DECIMAL, _INTEGER = 1, 2, 3, 4, 5
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>
<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>
<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>
</Types>"""
_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>
</Relationships>"""
_WORKBOOK_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
</Relationships>"""
_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="1"><numFmt numFmtId="164" formatCode="0.0%"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="等线"/></font><font><b/><sz val="11"/><name val="等线"/></font></fonts>
<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="6">
<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>
<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>
<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="2" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>
</cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _text_cells(values: pd.Series, style: int, column: str) -> list[str]:
    """Data cells of one column from row 2 down; a missing value is no cell at all."""
    tail = f'" t="inlineStr" s="{style}"><is><t xml:space="preserve">'
    return ["" if v is None or v != v else f'<c r="{column}{row}{tail}{escape(_ILLEGAL.sub("", str(v)))}</t></is></c>'
            for row, v in enumerate(values.astype(object).tolist(), start=2)]


def _number_cells(values: pd.Series, style: int, column: str) -> list[str]:
    floats = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    tail = f'" s="{style}"><v>'
    if style == _INTEGER:
        return ["" if v != v or v in (np.inf, -np.inf) else f'<c r="{column}{row}{tail}{round(v)}</v></c>'
                for row, v in enumerate(floats.tolist(), start=2)]
    # 10 significant digits: what a rate or a median needs, and far less to write than repr's 17.
    return ["" if v != v or v in (np.inf, -np.inf) else f'<c r="{column}{row}{tail}{v:.10g}</v></c>'
            for row, v in enumerate(floats.tolist(), start=2)]


#: The name of the sheet that says what a file holds (scope, dates, when made, definitions).
NOTES_SHEET = "说明"
_NOTES_TYPE = ('<Override PartName="/xl/worksheets/sheet2.xml" '
               'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>')
_NOTES_REL = ('<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
              'worksheet" Target="worksheets/sheet2.xml"/>')


def _notes_sheet(notes: Sequence[tuple[str, str]]) -> str:
    """A two-column sheet (项目, 内容), all text."""
    def cell(ref: str, value: str, style: int) -> str:
        return (f'<c r="{ref}" t="inlineStr" s="{style}"><is><t xml:space="preserve">'
                f'{escape(_ILLEGAL.sub("", value))}</t></is></c>')
    rows = "".join(f'<row r="{n}">{cell(f"A{n}", k, _HEADER)}{cell(f"B{n}", v, _TEXT)}</row>'
                   for n, (k, v) in enumerate(notes, start=1))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<cols><col min="1" max="1" width="16" customWidth="1"/><col min="2" max="2" width="80" customWidth="1"/>'
            f"</cols><sheetData>{rows}</sheetData></worksheet>")


def write_xlsx(frame: pd.DataFrame, path: str | Path, *, headers: Mapping[str, str] | None = None,
               text: Iterable[str] = (), percent: Iterable[str] = (), sheet: str = "Sheet1",
               notes: Sequence[tuple[str, str]] = ()) -> int:
    """Write ``frame`` as one sheet: a bold header row (``headers`` renames columns), frozen and
    with an auto-filter; ``text`` columns stay text (codes keep leading zeros, never 1.1E+14),
    ``percent`` columns show as 0.0 %, integers as integers. Missing values are empty cells.
    ``notes`` (label, text) pairs become a second sheet, 说明: what the table covers and means."""
    headers = headers or {}
    text, percent = set(text), set(percent)
    columns = list(frame.columns)
    letters = [_column_letter(i) for i in range(len(columns))]
    parts = []
    for name, letter in zip(columns, letters, strict=True):
        values = frame[name]
        if name in text or not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            parts.append(_text_cells(values, _TEXT if name in text else 0, letter))
        elif name in percent:
            parts.append(_number_cells(values, _PERCENT, letter))
        elif pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
            parts.append(_number_cells(values.astype("Int64"), _INTEGER, letter))
        else:
            parts.append(_number_cells(values, _DECIMAL, letter))
    rows = [f'<row r="{row}">' + "".join(cells) for row, cells in enumerate(zip(*parts, strict=True), start=2)]
    head = "".join(f'<c r="{letter}1" t="inlineStr" s="{_HEADER}"><is><t>'
                   f'{escape(_ILLEGAL.sub("", str(headers.get(c, c))))}</t></is></c>'
                   for c, letter in zip(columns, letters, strict=True))
    last = _column_letter(max(len(columns) - 1, 0))
    widths = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{_width(headers.get(c, c), c in text)}" '
                     'customWidth="1"/>' for i, c in enumerate(columns))
    sheet_xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
        'state="frozen"/></sheetView></sheetViews>'
        f'<cols>{widths}</cols><sheetData><row r="1">{head}</row>' + "</row>".join(rows)
        + ("</row>" if len(rows) else "") + f'</sheetData><autoFilter ref="A1:{last}{len(frame) + 1}"/></worksheet>'
    )
    workbook = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        f'<sheets><sheet name="{escape(sheet[:31])}" sheetId="1" r:id="rId1"/>'
        + (f'<sheet name="{NOTES_SHEET}" sheetId="2" r:id="rId3"/>' if notes else "") + "</sheets>"
        f'<definedNames><definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">'
        f"'{escape(sheet[:31])}'!$A$1:${last}${len(frame) + 1}</definedName></definedNames></workbook>"
    )
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES.replace("</Types>", _NOTES_TYPE + "</Types>")
                   if notes else _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", workbook)
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS.replace("</Relationships>",
                                                                         _NOTES_REL + "</Relationships>")
                   if notes else _WORKBOOK_RELS)
        z.writestr("xl/styles.xml", _STYLES)
        z.writestr("xl/worksheets/sheet1.xml", sheet_xml)
        if notes:
            z.writestr("xl/worksheets/sheet2.xml", _notes_sheet(notes))
    return len(frame)


def _width(header: str, is_text: bool) -> int:
    wide = sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(header))
    return max(wide + 2, 18 if is_text else 8)
