"""The bulk write of an import: routed rows straight into ``cases`` and ``case_event`` with COPY.

No staging table and no ``INSERT … SELECT``: case numbers and ids are allocated up front and the
COPY text is built column-wise by Arrow (bench/README.md says why: the staging path spent most
of a million-row import in per-row Python and in the insert).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pa_compute
import pyarrow.csv as pa_csv
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.cases import case_numbers

__all__ = ["analyze", "bulk_load", "copy_cases", "estimated_cases"]

#: cases columns the bulk COPY writes (status, received_at, revision take their defaults).
_CASE_COPY_COLUMNS = (
    "id", "case_no", "source", "external_id", "category_code", "description", "urgency", "reported_at", "geom",
    "orig_x", "orig_y", "orig_crs", "grid_code", "community_code", "street_code", "district_code",
    "boundary_version_id", "lead_department", "co_departments", "routing_rule", "dispatch_due", "respond_due",
    "resolve_due", "resolve_limit_hours", "requester_name", "requester_phone", "requester_email", "request_type",
    "address",
)
_EVENT_COPY_COLUMNS = ("case_id", "at", "actor_name", "action", "to_status", "lon", "lat", "details")
_TEXT_COLUMNS = ("external_id", "category_code", "urgency", "grid_code", "community_code", "street_code",
                 "district_code", "lead_department", "routing_rule", "requester_name", "requester_phone",
                 "requester_email", "request_type")
_TIME_COLUMNS = ("reported_at", "dispatch_due", "respond_due", "resolve_due")


def copy_cases(session: Session, frame: pd.DataFrame, *, source: str, orig_crs: str, version_id: int,
               locked: bool = False) -> int:
    """Write routed rows straight into ``cases`` and their ``receive`` events into ``case_event``,
    with two COPYs; returns the number of cases written.

    Numbers and ids are allocated up front: one statement reserves a block of sequence numbers
    per (district, local day) in ``case_counter`` (the rows stay locked until the caller commits,
    as for a single create) and one takes the ids from the ``cases`` sequence; the case numbers
    are then written by geo.domain.cases.case_numbers. The COPY text is built column-wise by
    Arrow's CSV writer (no Python per row). ``frame`` needs ``day`` (the local date of
    reported_at); the caller has filtered out (source, external_id) pairs already stored: a
    concurrent import of the same file fails this batch whole on the unique constraint, and a
    rerun completes it. ``locked``: inside ``bulk_load`` (nobody else can insert a case), so the
    ids are one block taken by a single ``setval``.
    """
    if frame.empty:
        return 0
    frame = frame.sort_values("line", kind="stable").reset_index(drop=True)
    n = len(frame)
    numbers = _reserve_numbers(session, frame)
    ids = _reserve_block(session, n) if locked else _reserve_ids(session, n)
    raw: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    with raw.cursor() as cur:
        with cur.copy(f"COPY cases ({', '.join(_CASE_COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(_csv(_case_table(frame, ids, numbers, source=source, orig_crs=orig_crs,
                                        version_id=version_id)))
        with cur.copy(f"COPY case_event ({', '.join(_EVENT_COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(_csv(_event_table(frame, ids, source=source)))
    return n


def _reserve_numbers(session: Session, frame: pd.DataFrame) -> np.ndarray:
    """The case number of each row: a block of sequence numbers per (district, day), taken from
    case_counter in one statement (keys in sorted order, so two imports never deadlock), then
    numbered in line order within each block."""
    day = np.asarray(frame["day"].to_numpy(), dtype="datetime64[D]")
    keys = pd.DataFrame({"district": frame["district_code"].to_numpy(dtype=object), "day": day})
    group = keys.groupby(["district", "day"], sort=True)
    ordinal = group.cumcount().to_numpy(dtype=np.int64) + 1
    sizes = group.size()
    districts = [str(d) for d, _ in sizes.index]
    days = [pd.Timestamp(t).date() for _, t in sizes.index]
    bumped = session.execute(text("""
        INSERT INTO case_counter (district_code, day, last)
        SELECT * FROM unnest(CAST(:districts AS text[]), CAST(:days AS date[]), CAST(:counts AS bigint[]))
        ORDER BY 1, 2
        ON CONFLICT (district_code, day) DO UPDATE SET last = case_counter.last + EXCLUDED.last
        RETURNING district_code, day, last"""),
        {"districts": districts, "days": days, "counts": [int(c) for c in sizes.to_numpy()]}).all()
    last = {(d, t): int(v) for d, t, v in bumped}
    base = np.array([last[(d, t)] - int(c) for d, t, c in zip(districts, days, sizes.to_numpy(), strict=True)],
                    dtype=np.int64)
    return case_numbers(keys["district"].to_numpy(), day, base[group.ngroup().to_numpy()] + ordinal)


def _reserve_ids(session: Session, n: int) -> np.ndarray:
    """``n`` fresh ids from the cases sequence (concurrent creates take theirs in between)."""
    ids = session.execute(text(
        "SELECT array_agg(nextval(pg_get_serial_sequence('cases', 'id'))) FROM generate_series(1, :n)"),
        {"n": n}).scalar_one()
    return np.sort(np.asarray(ids, dtype=np.int64))


def _reserve_block(session: Session, n: int) -> np.ndarray:
    """``n`` consecutive ids in one statement; only while ``cases`` is held ACCESS EXCLUSIVE
    (bulk_load), since a concurrent create's nextval could otherwise land inside the block."""
    last = session.execute(text(
        "SELECT setval(s, nextval(s) + :n - 1) FROM pg_get_serial_sequence('cases', 'id') AS s"), {"n": n}).scalar_one()
    return np.arange(int(last) - n + 1, int(last) + 1, dtype=np.int64)


def estimated_cases(session: Session) -> int:
    """How many cases are stored, from the planner's count (no scan; -1 = never analysed: 0)."""
    estimate = session.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'cases'::regclass")).scalar_one()
    if estimate < 0:  # never vacuumed or analysed: count, it is small or freshly loaded
        return int(session.execute(text("SELECT count(*) FROM cases")).scalar_one())
    return int(estimate)


@contextmanager
def bulk_load(session: Session, *, lock_timeout: str = "30s") -> Iterator[None]:
    """The case tables without their secondary indexes and foreign keys for the body, all rebuilt
    after it, in the caller's transaction (migration 0020: gridmap_bulk_load_begin/_end). Holds
    ``cases`` and ``case_event`` ACCESS EXCLUSIVE until the caller commits; waits at most
    ``lock_timeout`` for readers to let go. If the body raises, nothing is rebuilt: the caller's
    rollback restores the dropped indexes with everything else."""
    _drop_indexes(session, lock_timeout)
    yield
    _rebuild_indexes(session)


def _drop_indexes(session: Session, lock_timeout: str) -> None:
    session.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": lock_timeout})
    session.execute(text("SELECT gridmap_bulk_load_begin()"))
    session.execute(text("SELECT set_config('lock_timeout', '0', true)"))


def _rebuild_indexes(session: Session) -> None:
    session.execute(text("SELECT gridmap_bulk_load_end()"))


def _case_table(frame: pd.DataFrame, ids: np.ndarray, numbers: np.ndarray, *, source: str, orig_crs: str,
                version_id: int) -> pa.Table:
    n = len(frame)
    columns: dict[str, pa.Array] = {
        "id": pa.array(ids),
        "case_no": pa.array(numbers, type=pa.string()),
        "source": _constant(source, n),
        "description": pa.array(frame["description"].fillna("").to_numpy(dtype=object), type=pa.string()),
        "geom": _ewkb_hex(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)),
        "orig_x": pa.array(frame["orig_x"].to_numpy(float)),
        "orig_y": pa.array(frame["orig_y"].to_numpy(float)),
        # rows placed by the address gazetteer carry their own (WGS84) and the matched address
        "orig_crs": (_text(frame["orig_crs"].where(frame["orig_crs"].notna(), orig_crs)) if "orig_crs" in frame
                     else _constant(orig_crs, n)),
        "address": _text(frame["address"]) if "address" in frame else pa.nulls(n, pa.string()),
        "boundary_version_id": pa.array(np.full(n, version_id, dtype=np.int64)),
        "co_departments": _array_literals(frame["co_departments"]),
        "resolve_limit_hours": pa.array(pd.to_numeric(frame["resolve_limit_hours"]).to_numpy(float),
                                        from_pandas=True),
    }
    for name in _TEXT_COLUMNS:
        columns[name] = _text(frame[name])
    for name in _TIME_COLUMNS:
        columns[name] = _times(frame[name])
    return pa.table({name: columns[name] for name in _CASE_COPY_COLUMNS})


def _event_table(frame: pd.DataFrame, ids: np.ndarray, *, source: str) -> pa.Table:
    n = len(frame)
    codes, rules = pd.factorize(frame["routing_rule"], use_na_sentinel=False)
    details = np.array([json.dumps({"source": source, "routing_rule": None if pd.isna(r) else r, "import": True},
                                   ensure_ascii=False) for r in rules], dtype=object)
    return pa.table({
        "case_id": pa.array(ids), "at": _times(frame["reported_at"]), "actor_name": _constant(source, n),
        "action": _constant("receive", n), "to_status": _constant("received", n),
        "lon": pa.array(frame["lon"].to_numpy(float)), "lat": pa.array(frame["lat"].to_numpy(float)),
        "details": pa.array(details[codes], type=pa.string()),
    })


_EWKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")])
_HEX = np.array([f"{b:02X}".encode() for b in range(256)], dtype="S2")


def _ewkb_hex(lon: np.ndarray, lat: np.ndarray) -> pa.Array:
    """Points as hex EWKB with SRID 4326 (what PostGIS prints and reads), built by numpy: byte
    order 1, type Point with the SRID flag, 4326, x, y — 25 bytes, 50 hex digits a point."""
    raw = np.empty(len(lon), dtype=_EWKB_POINT)
    raw["order"], raw["type"], raw["srid"], raw["x"], raw["y"] = 1, 0x20000001, 4326, lon, lat
    digits = _HEX[raw.view(np.uint8).reshape(len(lon), _EWKB_POINT.itemsize)]
    return pa.array(np.ascontiguousarray(digits).view(f"S{2 * _EWKB_POINT.itemsize}").ravel()).cast(pa.string())


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value])).cast(pa.string())


def _text(values: pd.Series) -> pa.Array:
    """Text for Arrow: zero-copy from pandas' Arrow-backed strings (via to_numpy(object) it cost
    ≈ 0.5 s per column and 10⁶ rows), element by element only for object columns."""
    out = pa.array(values, type=pa.string(), from_pandas=True)
    return out.combine_chunks() if isinstance(out, pa.ChunkedArray) else out


def _times(values: pd.Series) -> pa.Array:
    """Times as ISO text in UTC with a 'Z' (so the session's time zone never applies). Arrow
    formats zone-less timestamps ≈ 25× faster than zoned ones, so the zone is added as text."""
    naive = pd.to_datetime(values, utc=True).dt.tz_localize(None).dt.as_unit("us")
    text_ = pa_compute.cast(pa.array(naive, type=pa.timestamp("us")), pa.string())
    return pa_compute.binary_join_element_wise(text_, pa.scalar("Z"), "")


def _array_literals(values: pd.Series) -> pa.Array:
    """text[] literals ({A,B}) per distinct list: department codes carry no quotes or commas."""
    codes, uniques = pd.factorize(values.map(tuple))
    literals = np.array(["{" + ",".join(u) + "}" for u in uniques], dtype=object)
    return pa.array(literals[codes], type=pa.string())


def _csv(table: pa.Table) -> bytes:
    """CSV as PostgreSQL's COPY reads it: strings quoted (so "" is an empty string), nulls empty."""
    sink = io.BytesIO()
    pa_csv.write_csv(table, sink, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    return sink.getvalue()


def analyze(session: Session) -> None:
    """Planner statistics for cases and case_event, current after a bulk load (autovacuum would
    get there minutes later; the statistics fold that follows plans with them)."""
    session.execute(text("SELECT gridmap_analyze(ARRAY['cases', 'case_event'])"))
