"""Repeat complaints (重复投诉) in case_fact: the candidates, the rule, the flags.

The rule has one home, geo.domain.stats.repeat_flags (same category, ≤ 50 m, ≤ 30 days; the later
case of a close pair repeats the earlier). It sorts instead of joining pairs, so its cost is
linear in the cases it is given whatever the planner estimates: a SQL self-join on the 50 m cells
made 52 M rows for 10⁵ cases and flipped plans with table statistics. Flags are only ever set: a
case never moves or changes category or time, so a flag once true stays true.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.stats import REPEAT_DAYS, REPEAT_RADIUS_M, repeat_flags

__all__ = ["METRIC_SRID", "flag_new", "flags", "points"]

#: DOMAIN's metric CRS (EPSG:4548, Gauss-Krüger): case_fact.x, y and the 50 m cells are in it.
METRIC_SRID = 4548
_EPOCH_US = "floor(extract(epoch FROM {t}) * 1000000)::bigint"

#: The cases in the 3 × 3 cells (same category) around the new ones (fact_new), reported within
#: the repeat window of one of them: a semi-join, each candidate once, never a pair.
_CANDIDATES_SQL = f"""
SELECT o.case_id, o.category_code, o.x, o.y, {_EPOCH_US.format(t="o.reported_at")} FROM case_fact o
WHERE (o.category_code, o.cell_x, o.cell_y) IN (
        SELECT n.category_code, n.cell_x + dx.d, n.cell_y + dy.d
        FROM fact_new nn JOIN case_fact n ON n.case_id = nn.case_id
        CROSS JOIN (VALUES (-1), (0), (1)) dx(d) CROSS JOIN (VALUES (-1), (0), (1)) dy(d))
  AND o.reported_at BETWEEN (SELECT min(reported_at) FROM fact_new JOIN case_fact USING (case_id)) - :window
                        AND (SELECT max(reported_at) FROM fact_new JOIN case_fact USING (case_id)) + :window
"""
#: {cases}: the cases (alias c) placed in metres, as CSV: the fold's case_fact.x, y come from here too.
_POINTS_SQL = f"""
COPY (SELECT c.id, c.category_code, ST_X(p.g), ST_Y(p.g), {_EPOCH_US.format(t="c.reported_at")}
      FROM {{cases}}, LATERAL (SELECT ST_Transform(c.geom, {METRIC_SRID}) AS g) p) TO STDOUT (FORMAT csv)
"""
_POINT_COLUMNS = ("case_id", "category_code", "x", "y", "reported_us")


def flag_new(session: Session) -> int:
    """After a catch-up's fold: set is_repeat where the new cases (fact_new) make a repeat, among
    them or with the cases around them. Returns the cases flagged."""
    ids = _repeats(session, _CANDIDATES_SQL, {"window": timedelta(days=REPEAT_DAYS)})
    session.execute(text("UPDATE case_fact SET is_repeat = true WHERE case_id = ANY(:ids) AND NOT is_repeat"),
                    {"ids": [int(i) for i in ids]})
    return len(ids)


def points(session: Session, cases: str) -> pd.DataFrame:
    """The cases ``cases`` (SQL after FROM, alias c) in metres, by id: case_id, category_code, x, y,
    reported_us — one CSV COPY read by Arrow (a million cases as Python rows took seconds)."""
    raw: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    data = bytearray()
    with raw.cursor() as cur, cur.copy(_POINTS_SQL.format(cases=cases)) as copy:
        for chunk in copy:
            data += chunk
    types = {"case_id": pa.int64(), "category_code": pa.string(), "x": pa.float64(), "y": pa.float64(),
             "reported_us": pa.int64()}
    if not data:  # no cases: Arrow refuses an empty CSV
        return pa.schema([(n, types[n]) for n in _POINT_COLUMNS]).empty_table().to_pandas()
    table = pa_csv.read_csv(pa.py_buffer(bytes(data)),
                            read_options=pa_csv.ReadOptions(column_names=list(_POINT_COLUMNS)),
                            convert_options=pa_csv.ConvertOptions(column_types=types, quoted_strings_can_be_null=False))
    return table.to_pandas().sort_values("case_id", kind="stable", ignore_index=True)


def flags(placed: pd.DataFrame) -> np.ndarray:
    """Per case of ``points``: does it repeat an earlier one among them (geo.domain.stats.repeat_flags)."""
    if len(placed) < 2:
        return np.zeros(len(placed), dtype=bool)
    when = pd.to_datetime(placed["reported_us"], unit="us", utc=True)
    return repeat_flags(placed["category_code"], when, placed["x"], placed["y"],
                        radius_m=REPEAT_RADIUS_M, days=REPEAT_DAYS, ids=placed["case_id"])


def _repeats(session: Session, sql: str, params: dict[str, Any] | None = None) -> np.ndarray:
    rows = session.execute(text(sql), params or {}).all()
    if len(rows) < 2:
        return np.empty(0, dtype=np.int64)
    frame = pd.DataFrame(rows, columns=["case_id", "category_code", "x", "y", "reported_us"])
    when = pd.to_datetime(frame["reported_us"].astype("int64"), unit="us", utc=True)
    flags = repeat_flags(frame["category_code"], when, frame["x"], frame["y"],
                         radius_m=REPEAT_RADIUS_M, days=REPEAT_DAYS, ids=frame["case_id"])
    return frame["case_id"].to_numpy()[flags]
