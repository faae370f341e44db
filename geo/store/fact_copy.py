"""The statistics fold's I/O: case events out as columns, facts back into case_fact.

The rules of a fact live in geo.domain.facts (``fold``, numpy over whole columns); this module
only moves data. Events leave PostgreSQL in one binary COPY whose columns are all fixed-width
and never NULL (absent times are ``-infinity``, PostgreSQL's smallest timestamp, read as
geo.domain.facts.NO_TIME), so numpy reads the stream as an array without parsing a value; the
details' deadlines and callback answers are read by SQL (the same casts as every other reader).
The facts go back the same way into a temp table, and one INSERT joins them to the cases' intake
columns. No step's cost depends on a planner estimate: the COPYs have no plan, and the INSERT
looks each case up by its primary key (a LATERAL, so whatever the planner thinks of the temp
table's size).

>>> _EVENT_ROW.itemsize  # bytes a case_event row costs on the wire
80
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain import facts
from geo.domain.stats import REPEAT_RADIUS_M
from geo.domain.statuses import NUMBERS

__all__ = ["FACT_COLUMNS", "fold_events"]

FACT_COLUMNS = (
    "case_id", "grid_code", "community_code", "street_code", "district_code", "category_code", "lead_department",
    "reported_at", "status", "dispatch_due", "dispatched_at", "respond_clock_at", "respond_clock_due",
    "responded_at", "clock_at", "respond_due", "resolve_due", "resolved_at", "callback_contacted",
    "callback_solved", "callback_satisfied", "x", "y", "cell_x", "cell_y", "is_repeat", "last_event_id",
    "request_type",
)
_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8  # binary COPY header: no flags, no extension
_TRAILER = b"\xff\xff"


def _row_dtype(fields: list[tuple[str, str]]) -> np.dtype:
    """A binary COPY row of fixed-width, never-NULL fields: the field count, then length + value each."""
    layout: list[tuple[str, str]] = [("fields", ">i2")]
    for name, kind in fields:
        layout += [(f"{name}_len", ">i4"), (name, kind)]
    return np.dtype(layout)


_EVENT_ROW = _row_dtype([("case_id", ">i8"), ("event_id", ">i8"), ("at", ">i8"), ("action", ">i2"),
                         ("to_status", ">i2"), ("respond_due", ">i8"), ("resolve_due", ">i8"), ("callback", ">i2")])
_FACT_ROW = _row_dtype([("case_id", ">i8"), ("last_event_id", ">i8"), ("status", ">i2"),
                        *((name, ">i8") for name in facts.FACT_TIMES),
                        *((name, ">i2") for name in facts.ANSWERS), ("x", ">f8"), ("y", ">f8"), ("is_repeat", ">i2")])


def _literal(word: str) -> str:
    if not word.replace("_", "").isalnum():  # vocabulary words only, never input
        raise ValueError(f"not a vocabulary word: {word!r}")
    return f"'{word}'"


def _clock(column: str) -> str:
    clock = ", ".join(_literal(a) for a in facts.CLOCK_ACTIONS)
    return f"coalesce(CASE WHEN e.action IN ({clock}) THEN (e.details->>'{column}')::timestamptz END, '-infinity')"


_ACTION = ("(CASE e.action " + " ".join(f"WHEN {_literal(a)} THEN {facts.code(a)}" for a in facts.ACTIONS)
           + " ELSE 0 END)::int2")
_TO_STATUS = ("(CASE WHEN e.to_status IS NULL THEN 0 ELSE coalesce(CASE e.to_status "
              + " ".join(f"WHEN {_literal(s)} THEN {n}" for s, n in NUMBERS.items()) + " END, -1) END)::int2")
_ANSWERS = ("(CASE WHEN e.action = 'callback' THEN "
            + " + ".join(f"{3 ** k} * coalesce((e.details->>{_literal(a)})::boolean::int, 2)"
                         for k, a in enumerate(facts.ANSWERS)) + " ELSE 0 END)::int2")
#: {events}: the case_event rows (alias e) to fold.
_EVENTS_SQL = (f"COPY (SELECT e.case_id, e.id, coalesce(e.at, '-infinity'), {_ACTION}, {_TO_STATUS}, "
               f"{_clock('respond_due')}, {_clock('resolve_due')}, {_ANSWERS} FROM {{events}}) "
               "TO STDOUT (FORMAT binary)")

_STATUS_WORDS = ", ".join(_literal(s) for s, _ in sorted(NUMBERS.items(), key=lambda item: item[1]))
if sorted(NUMBERS.values()) != list(range(1, len(NUMBERS) + 1)):  # the array below is indexed by number
    raise ValueError("status numbers must run 1…n")


def _time(name: str) -> str:
    return f"nullif(t.{name}, '-infinity')"


def _answer(name: str) -> str:
    return f"CASE t.{name} WHEN 1 THEN true WHEN 0 THEN false END"


_FOLD_TEMP = ("fact_fold (case_id bigint, last_event_id bigint, status smallint, "
              + ", ".join(f"{name} timestamptz" for name in facts.FACT_TIMES) + ", "
              + ", ".join(f"{name} smallint" for name in facts.ANSWERS)
              + ", x float8, y float8, is_repeat smallint)")
_UPDATED = ("grid_code", "community_code", "street_code", "district_code", "lead_department", "status",
            "dispatched_at", "respond_clock_at", "respond_clock_due", "responded_at", "clock_at", "respond_due",
            "resolve_due", "resolved_at", "callback_contacted", "callback_solved", "callback_satisfied",
            "last_event_id", "request_type")
#: The folded facts (temp table fact_fold) joined to their cases' intake rows; {conflict}: the upsert.
_INSERT_SQL = f"""
INSERT INTO case_fact AS f ({", ".join(FACT_COLUMNS)})
SELECT c.id, c.grid_code, c.community_code, c.street_code, c.district_code, c.category_code, c.lead_department,
       c.reported_at, coalesce((ARRAY[{_STATUS_WORDS}])[nullif(t.status, 0)], c.status), c.dispatch_due,
       {", ".join(_time(name) for name in facts.FACT_TIMES)},
       {", ".join(_answer(name) for name in facts.ANSWERS)},
       t.x, t.y, floor(t.x / :cell)::int, floor(t.y / :cell)::int, t.is_repeat = 1, t.last_event_id, c.request_type
FROM fact_fold t CROSS JOIN LATERAL (SELECT * FROM cases c WHERE c.id = t.case_id OFFSET 0) c
{{conflict}}"""
_UPSERT = ("ON CONFLICT (case_id) DO UPDATE SET "
           + ", ".join(f"{name} = EXCLUDED.{name}" for name in _UPDATED))


def fold_events(session: Session, events: str, placed: pd.DataFrame, *, upsert: bool) -> dict[str, float]:
    """Fold the case_event rows ``events`` (SQL after FROM, alias e) into case_fact: events out,
    geo.domain.facts.fold, facts in (``upsert``: over the rows already there). ``placed``: the
    cases' case_id, x, y (geo.store.repeats.points) and is_repeat, by case_id; a case not in it gets
    no fact. Returns seconds per step."""
    import time

    raw: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    steps: dict[str, float] = {}
    t = time.perf_counter()
    rows = _copy_out(raw, _EVENTS_SQL.format(events=events), _EVENT_ROW)
    steps["events out (COPY)"] = time.perf_counter() - t
    t = time.perf_counter()
    if (rows["to_status"] < 0).any():
        raise ValueError("case_event.to_status outside the status vocabulary (geo.domain.statuses)")
    folded = _placed(facts.fold({name: rows[name] for name in facts.EVENT_COLUMNS}), placed)
    steps["fold (numpy)"] = time.perf_counter() - t
    t = time.perf_counter()
    session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {_FOLD_TEMP} ON COMMIT DELETE ROWS"))
    session.execute(text("TRUNCATE fact_fold"))
    _copy_in(raw, "fact_fold", _fact_rows(folded))
    steps["facts in (COPY)"] = time.perf_counter() - t
    t = time.perf_counter()
    session.execute(text(_INSERT_SQL.format(conflict=_UPSERT if upsert else "")), {"cell": REPEAT_RADIUS_M})
    steps["INSERT case_fact"] = time.perf_counter() - t
    return steps


def _placed(folded: dict[str, np.ndarray], placed: pd.DataFrame) -> dict[str, np.ndarray]:
    """The folded cases that have a place, with their x, y and is_repeat."""
    ids = placed["case_id"].to_numpy()
    at = np.minimum(np.searchsorted(ids, folded["case_id"]), max(len(ids) - 1, 0))
    found = ids[at] == folded["case_id"] if len(ids) else np.zeros(len(folded["case_id"]), dtype=bool)
    out = {name: values[found] for name, values in folded.items()}
    for name in ("x", "y", "is_repeat"):
        out[name] = placed[name].to_numpy()[at[found]]
    return out


def _copy_out(raw: Any, sql: str, dtype: np.dtype) -> np.ndarray:
    data = bytearray()
    with raw.cursor() as cur, cur.copy(sql) as copy:
        for chunk in copy:
            data += chunk
    body = memoryview(data)[len(_SIGNATURE):len(data) - len(_TRAILER)]
    return np.frombuffer(body, dtype=dtype)


def _fact_rows(folded: dict[str, np.ndarray]) -> np.ndarray:
    rows = np.zeros(len(folded["case_id"]), dtype=_FACT_ROW)
    names = _FACT_ROW.names or ()
    rows["fields"] = len(names) // 2
    for name in names[2::2]:
        rows[f"{name}_len"] = _FACT_ROW[name].itemsize
        if name not in facts.ANSWERS:
            rows[name] = folded[name]
    for name, values in facts.answers(folded["callback"]).items():
        rows[name] = values
    return rows


def _copy_in(raw: Any, table: str, rows: np.ndarray) -> None:
    with raw.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
        copy.write(_SIGNATURE)
        copy.write(rows.tobytes())
        copy.write(_TRAILER)
