"""Measure facts (case_fact) derived from case_event, and the GROUP BYs that sum them.

Why a fact table. The measures need, per case, things only its event history says: when it was
first dispatched, which respond/resolve clocks were in force, when it was first responded to,
whether its resolution stands, what the last callback answered, whether it repeats an earlier
complaint. Folding ~7 events per case for a million cases takes tens of seconds; summing one row
per case takes well under a second. The fold's rules live in geo.domain.facts (numpy, every case
at once); geo.store.fact_copy copies the events out and the facts in. So ``case_fact`` holds one
row per case, derived only from case_event plus the case's intake row (codes, category, lead
department, reported_at, point, dispatch_due: written in the same statement as its ``receive``
event). Its generated column
``record`` packs each case's numbers into 64 bytes, so the measures read a million cases as one
value and sum them with numpy (``measure_sums`` says why not a GROUP BY).

How it stays current. Not by triggers: the single-case API and the million-row bulk import write
exactly what they wrote before. ``catch_up`` runs when measures are asked for (or from a
scheduled command): under an advisory lock it folds the cases touched by events above a watermark
(the last case_event id folded in). Event ids come from a sequence, so a transaction still in
flight can commit an id *below* the watermark after it moved; each catch-up therefore records the
holes it saw below the new watermark (``case_fact_gap``) with the snapshot's xmax, looks into them
again next time, and forgets a hole only once every transaction older than that xmax has ended
(then a still-empty hole was rolled back). Folding a case recomputes its row from all its events,
so folding it twice is harmless.

Auditability. ``rebuild`` empties the table and folds every case from scratch; a test checks that
incremental catch-ups and a rebuild give identical rows. Every number in a ranking is a count
over these rows, each traceable to its case's events.

Repeat complaints need neighbours: a case's point is stored in metres (EPSG:4548 Gauss-Krüger,
DOMAIN's metric CRS) with a 50 m cell; geo/store/repeats.py hands the cases around the new ones to
geo.domain.stats.repeat_flags (sorting, not a pair join: a SQL self-join made 52 M rows for 10⁵
cases). Cases never move or change category or time, so a flag, once set, stays true.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.stats import sums_from_records
from geo.store import fact_copy, repeats
from geo.store.fact_copy import FACT_COLUMNS

__all__ = [
    "FACT_COLUMNS",
    "boundaries",
    "catch_up",
    "departments",
    "facts_frame",
    "measure_sums",
    "monthly_sums",
    "rebuild",
    "record_arrays",
    "records",
]

#: More new facts than this in one catch-up (a bulk import's): ANALYZE case_fact before using it.
_ANALYZE_AFTER = 10_000
#: pg_advisory_xact_lock key for catch-up and rebuild ('gmfact').
LOCK_KEY = 0x676D66616374
_FAR_PAST = datetime.fromisoformat("1900-01-01T00:00:00+00:00")
_FAR_FUTURE = datetime.fromisoformat("9999-01-01T00:00:00+00:00")

def _lock(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
    # The fold's cost estimates are huge (the planner cannot size agg), so PostgreSQL would spend
    # most of a small catch-up JIT-compiling it; off until this transaction ends.
    session.execute(text("SELECT set_config('jit', 'off', true)"))


def _temp_tables(session: Session) -> None:
    for name, columns in (("fact_seen", "id bigint, case_id bigint"), ("fact_todo", "case_id bigint PRIMARY KEY"),
                          ("fact_new", "case_id bigint PRIMARY KEY")):
        session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({columns}) ON COMMIT DELETE ROWS"))
        session.execute(text(f"TRUNCATE {name}"))


def catch_up(session: Session) -> int:
    """Fold the events written since the last catch-up into case_fact; returns the cases refolded.

    Takes a transaction-level advisory lock (concurrent callers wait, then find little to do).
    Runs in the caller's transaction, which should commit to keep the work.
    """
    _lock(session)
    if session.execute(text("SELECT NOT EXISTS (SELECT 1 FROM case_fact)")).scalar_one():
        return rebuild(session)  # the first time: one pass over every event beats a join per case
    horizon = int(session.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")).scalar_one())
    watermark = int(session.execute(text(
        "SELECT last_event_id FROM case_fact_state WHERE id = 1 FOR UPDATE")).scalar_one())
    _temp_tables(session)
    _seen_events(session, watermark)
    top = session.execute(text("SELECT max(id) FROM fact_seen")).scalar_one()
    _record_gaps(session, watermark, horizon)
    if top is None:
        return 0
    session.execute(text("INSERT INTO fact_todo SELECT DISTINCT case_id FROM fact_seen"))
    session.execute(text("INSERT INTO fact_new SELECT t.case_id FROM fact_todo t "
                         "WHERE NOT EXISTS (SELECT 1 FROM case_fact f WHERE f.case_id = t.case_id)"))
    session.execute(text("ANALYZE fact_todo"))
    if session.execute(text("SELECT count(*) FROM fact_todo")).scalar_one() > _ANALYZE_AFTER:
        # a bulk load's worth: plan with it counted (as the tables' owner: migration 0018)
        session.execute(text("SELECT gridmap_analyze(ARRAY['cases', 'case_event'])"))
    # each case (and its events) by its index: a LATERAL, the same plan whatever fact_todo's estimate
    placed = repeats.points(session, "fact_todo t CROSS JOIN LATERAL "
                            "(SELECT * FROM cases c WHERE c.id = t.case_id OFFSET 0) c")
    placed["is_repeat"] = False  # a new row starts unflagged (flag_new below); a refolded one keeps its flag
    fact_copy.fold_events(session, "fact_todo t CROSS JOIN LATERAL "
                          "(SELECT * FROM case_event e WHERE e.case_id = t.case_id OFFSET 0) e", placed, upsert=True)
    if session.execute(text("SELECT count(*) FROM fact_new")).scalar_one() > _ANALYZE_AFTER:
        # a bulk import's worth: plans need its rows counted
        session.execute(text("SELECT gridmap_analyze(ARRAY['case_fact'])"))
    repeats.flag_new(session)
    session.execute(text("UPDATE case_fact_state SET last_event_id = greatest(last_event_id, :top), "
                         "updated_at = now() WHERE id = 1"), {"top": int(top)})
    return int(session.execute(text("SELECT count(*) FROM fact_todo")).scalar_one())


def _seen_events(session: Session, watermark: int) -> None:
    """The events now visible above the watermark or inside a hole recorded earlier."""
    session.execute(text("""
        INSERT INTO fact_seen (id, case_id)
        SELECT id, case_id FROM case_event WHERE id > :w
        UNION ALL
        SELECT e.id, e.case_id FROM case_fact_gap g JOIN case_event e ON e.id BETWEEN g.first_id AND g.last_id"""),
        {"w": watermark})


def _record_gaps(session: Session, watermark: int, horizon: int) -> None:
    """Holes below the new watermark: new ones recorded, old ones shrunk by what appeared in them,
    and forgotten once every transaction that was running when they were seen has ended."""
    session.execute(text("""
        WITH old AS (
            DELETE FROM case_fact_gap g
            WHERE EXISTS (SELECT 1 FROM fact_seen s WHERE s.id BETWEEN g.first_id AND g.last_id)
            RETURNING first_id, last_id, seen_xmax, found_at),
        pieces AS (
            SELECT o.seen_xmax, o.found_at,
                   unnest(int8multirange(int8range(o.first_id, o.last_id, '[]'))
                          - coalesce((SELECT range_agg(int8range(s.id, s.id, '[]')) FROM fact_seen s
                                      WHERE s.id BETWEEN o.first_id AND o.last_id), '{}'::int8multirange)) AS r
            FROM old o)
        INSERT INTO case_fact_gap (first_id, last_id, seen_xmax, found_at)
        SELECT lower(r), upper(r) - 1, seen_xmax, found_at FROM pieces"""))
    session.execute(text("""
        INSERT INTO case_fact_gap (first_id, last_id, seen_xmax)
        SELECT prev + 1, id - 1, pg_snapshot_xmax(pg_current_snapshot())::text::bigint
        FROM (SELECT id, lag(id, 1, CAST(:w AS bigint)) OVER (ORDER BY id) AS prev
              FROM fact_seen WHERE id > :w) s
        WHERE id > prev + 1"""), {"w": watermark})
    session.execute(text("DELETE FROM case_fact_gap WHERE seen_xmax <= :horizon"), {"horizon": horizon})


#: A rebuild of at least this many cases fills case_fact without its indexes and builds them after.
_REBUILD_INDEXES_FROM = 100_000


def rebuild(session: Session) -> int:
    """Empty case_fact and fold every case from all its events (the audit path); returns the cases."""
    _lock(session)
    watermark = int(session.execute(text("SELECT coalesce(max(id), 0) FROM case_event")).scalar_one())
    session.execute(text("TRUNCATE case_fact, case_fact_gap"))
    # Holes first: an id below the watermark that commits after this statement lies in a recorded
    # hole, and one that committed before it is folded below.
    session.execute(text("""
        INSERT INTO case_fact_gap (first_id, last_id, seen_xmax)
        SELECT prev + 1, id - 1, pg_snapshot_xmax(pg_current_snapshot())::text::bigint
        FROM (SELECT id, lag(id, 1, CAST(0 AS bigint)) OVER (ORDER BY id) AS prev
              FROM case_event WHERE id <= :w) s
        WHERE id > prev + 1"""), {"w": watermark})
    # No ANALYZE first: the SQL fold's plan once took > 900 s without statistics; the numpy fold's
    # statements are whole-table scans and primary-key lookups whatever the statistics say.
    _temp_tables(session)
    # every case placed once (one COPY); its repeat flag written with its row, never an UPDATE after
    placed = repeats.points(session, "cases c")
    placed["is_repeat"] = repeats.flags(placed)
    # an empty table without its indexes takes the facts as fast as heap; the indexes are built once
    # after (as the table's owner: migration 0022)
    # (only for a large table: a small rebuild is quick either way, and needs no DDL that a
    # concurrent pg_dump could trip over)
    rebuild_indexes = len(placed) >= _REBUILD_INDEXES_FROM
    if rebuild_indexes:
        session.execute(text("SELECT gridmap_fact_indexes(false)"))
    fact_copy.fold_events(session, "case_event e", placed, upsert=False)
    if rebuild_indexes:
        session.execute(text("SELECT gridmap_fact_indexes(true)"))
    # emptied and refilled in this transaction: no statistics yet
    session.execute(text("SELECT gridmap_analyze(ARRAY['case_fact'])"))
    session.execute(text("UPDATE case_fact_state SET last_event_id = :w, updated_at = now() WHERE id = 1"),
                    {"w": watermark})
    return int(session.execute(text("SELECT count(*) FROM case_fact")).scalar_one())


def facts_frame(session: Session) -> pd.DataFrame:
    """Every case_fact row, ordered by case id (for audits and tests)."""
    rows = session.execute(text(f"SELECT {', '.join(FACT_COLUMNS)} FROM case_fact ORDER BY case_id")).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=list(FACT_COLUMNS))


# --- sums ----------------------------------------------------------------------------------------


def _bounds(start: datetime | None, end: datetime | None) -> dict[str, datetime]:
    return {"start": start or _FAR_PAST, "end": end or _FAR_FUTURE}


_CATEGORY_CODE = re.compile(r"^[0-9]{4}$")
_BOUNDARY_KEYS = {"grid_code": "grid", "community_code": "community", "street_code": "street",
                  "district_code": "district"}
#: case_fact.record (a generated column, migration 0015): 84 big-endian bytes a case; times are
#: epoch seconds, ±(2⁶³ − 1) when absent.
RECORD = np.dtype([("grid", ">i8"), ("community", ">i8"), ("street", ">i8"), ("district", ">i8"),
                   ("department", ">i8"), ("static", ">i4"), ("reported_at", ">i8"), ("resolve_due", ">i8"),
                   ("overdue_since", ">i8"), ("respond_due", ">i8"), ("respond_h", ">f4"), ("resolve_h", ">f4")])
_NO_TIME = (-(2**63 - 1), 2**63 - 1)
_CHUNK_CASES = 4_000_000  # records per fetched value (≈ 250 MB; a bytea value holds at most 1 GB)


def records(session: Session, *, start: datetime | None, end: datetime | None,
            request_type: str | None = None) -> np.ndarray:
    """The records of the cases reported, or due, in [start, end) (of one request type, when given):
    one bytea value per chunk of case ids, concatenated by PostgreSQL (string_agg), read by numpy
    without parsing."""
    raw: Any = session.connection().connection.dbapi_connection  # psycopg.Connection
    bounds = session.execute(text("SELECT min(case_id), max(case_id) FROM case_fact")).one()
    if bounds[0] is None:
        return np.empty(0, dtype=RECORD)
    parts = []
    period = ("(reported_at >= %(start)s AND reported_at < %(end)s) "
              "OR (resolve_due >= %(start)s AND resolve_due < %(end)s)")
    kind = "request_type = %(request_type)s" if request_type else "true"
    single = int(bounds[1]) - int(bounds[0]) < _CHUNK_CASES  # then a plain (parallel) seq scan
    with raw.cursor(binary=True) as cur:
        for low in range(int(bounds[0]), int(bounds[1]) + 1, _CHUNK_CASES):
            chunk = "true" if single else "case_id >= %(low)s AND case_id < %(high)s"
            cur.execute(f"SELECT string_agg(record, ''::bytea) FROM case_fact WHERE {chunk} AND {kind} AND ({period})",
                        {"low": low, "high": low + _CHUNK_CASES, "request_type": request_type,
                         **_bounds(start, end)})
            value = cur.fetchone()[0]
            if value:
                parts.append(np.frombuffer(value, dtype=RECORD))
    return np.concatenate(parts) if parts else np.empty(0, dtype=RECORD)


def record_arrays(rows: np.ndarray) -> dict[str, np.ndarray]:
    """Records → native arrays: times as epoch seconds (NaN when absent), hours as float64."""
    arrays: dict[str, np.ndarray] = {"static": rows["static"].astype("int64")}
    for name in ("reported_at", "resolve_due", "overdue_since", "respond_due"):
        seconds = rows[name].astype("int64")
        arrays[name] = np.where(np.isin(seconds, _NO_TIME), np.nan, seconds.astype("float64"))
    for name in ("respond_h", "resolve_h"):
        arrays[name] = rows[name].astype("float64")
    return arrays


def measure_sums(session: Session, key: str, *, start: datetime | None, end: datetime | None,
                 as_of: datetime, categories: list[str], departments: list[str] | None = None,
                 roll_up: dict[str, str] | None = None, request_type: str | None = None) -> pd.DataFrame:
    """Per value of ``key`` (a case_fact code column, or lead_department with ``departments``):
    the counts and medians of geo.domain.stats.SUM_COLUMNS and a ``category_<code>`` count per category,
    for cases reported in [start, end) and, for cases_due, deadlines in [start, end) before as_of
    (only cases of ``request_type``, when given).

    Why not a GROUP BY: forty-odd FILTERed counts and two ordered-set medians over a million rows
    cost PostgreSQL 3–4 s on two cores. Each case_fact row carries its numbers as a fixed 84-byte
    record (a generated column); one string_agg hands a million of them over as a single value
    (≈ 0.7 s), numpy reads it as an array and geo.domain.stats.sums_from_records sums it (≈ 0.2 s).
    """
    bad = [c for c in categories if not _CATEGORY_CODE.match(c)]
    if bad:
        raise ValueError(f"category codes must be 4 digits: {bad}")
    rows = records(session, start=start, end=end, request_type=request_type)
    field = "department" if departments is not None else _BOUNDARY_KEYS[key]
    arrays = record_arrays(rows)
    arrays["key"] = rows[field].astype("int64")
    hashes: dict[int, str] = {}
    if departments is not None:
        hashes = {int(h): c for h, c in session.execute(text(
            "SELECT hashtextextended(code, 0), code FROM unnest(CAST(:codes AS text[])) code"),
            {"codes": sorted({*departments, *(roll_up or {}).values()})}).all()}
        arrays = _rolled_up(arrays, hashes, roll_up or {})
    sums = sums_from_records(arrays, "key", start=start, end=end, as_of=as_of, categories=categories)
    keys = sums.pop("key").to_numpy()
    if departments is None:
        sums.insert(0, "code", [str(k)[1:] if k else "" for k in keys])
    else:
        sums.insert(0, "code", [hashes.get(int(k), "") for k in keys])
    return sums[sums["code"] != ""].reset_index(drop=True)


def _rolled_up(arrays: dict[str, np.ndarray], hashes: dict[int, str], parents: dict[str, str]
               ) -> dict[str, np.ndarray]:
    """Each unit's records once more under its parent department's key: a unit's cases count in
    its own row and in its department's (medians included, as the parent's own cases)."""
    code_hash = {c: h for h, c in hashes.items()}
    units = {code_hash[u]: code_hash[p] for u, p in parents.items() if u in code_hash and p in code_hash}
    if not units:
        return arrays
    extra = np.isin(arrays["key"], list(units))
    if not extra.any():
        return arrays
    out = {name: np.concatenate([values, values[extra]]) for name, values in arrays.items()}
    out["key"][len(arrays["key"]):] = [units[int(k)] for k in arrays["key"][extra]]
    return out


def monthly_sums(session: Session, key: str | None, code: str | None, *, start: datetime, end: datetime,
                 timezone: str, request_type: str | None = None) -> pd.DataFrame:
    """Per local month ('YYYY-MM') of reported_at in [start, end): the sums of geo.domain.stats for the
    cases of boundary ``code`` (a case_fact code column ``key``), or of all cases (of ``request_type``)."""
    rows = records(session, start=start, end=end, request_type=request_type)
    if key and code:
        wanted = int("1" + code) if code.isdigit() and len(code) <= 17 else -1
        rows = rows[rows[_BOUNDARY_KEYS[key]] == wanted]
    arrays = record_arrays(rows)
    reported = pd.to_datetime(arrays["reported_at"], unit="s", utc=True).tz_convert(timezone)
    arrays["key"] = (reported.year * 12 + reported.month - 1).to_numpy(dtype="int64")
    sums = sums_from_records(arrays, "key", start=start, end=end, as_of=end, categories=[])
    months = sums.pop("key").to_numpy()
    sums.insert(0, "month", [f"{m // 12:04d}-{m % 12 + 1:02d}" for m in months])
    return sums


def boundaries(session: Session, level: str) -> pd.DataFrame:
    """code, name, parent_code of the level's current boundaries, by code."""
    rows = session.execute(text(
        "SELECT b.code, b.name, b.parent_code FROM boundary b "
        "JOIN boundary_version v ON v.id = b.version_id AND v.valid_to IS NULL "
        "WHERE b.level = :level ORDER BY b.code"), {"level": level}).all()
    return pd.DataFrame(rows, columns=["code", "name", "parent_code"])


def departments(session: Session) -> pd.DataFrame:
    rows = session.execute(text("SELECT code, name, parent_code FROM department ORDER BY code")).all()
    return pd.DataFrame(rows, columns=["code", "name", "parent_code"])


def category_names(session: Session) -> dict[str, str]:
    return dict(session.execute(text("SELECT code, name FROM category ORDER BY code")).all())


def event_count(session: Session) -> Any:
    return session.execute(text("SELECT count(*) FROM case_event")).scalar_one()


def backlog(session: Session) -> int:
    """How many case_event ids lie above the fact table's watermark (an upper bound of the events a
    catch-up would fold; two index lookups)."""
    return int(session.execute(text(
        "SELECT coalesce((SELECT max(id) FROM case_event), 0) "
        "- coalesce((SELECT last_event_id FROM case_fact_state WHERE id = 1), 0)")).scalar_one())
