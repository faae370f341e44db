"""Measure facts (case_fact) derived from case_event, and the GROUP BYs that sum them.

Why a fact table. The measures need, per case, things only its event history says: when it was
first dispatched, which respond/resolve clocks were in force, when it was first responded to,
whether its resolution stands, what the last callback answered, whether it repeats an earlier
complaint. Folding ~8 events per case for a million cases takes tens of seconds; summing one row
per case takes well under a second. So ``case_fact`` holds one row per case, derived only from
case_event plus the case's intake row (codes, category, lead department, reported_at, point,
dispatch_due: written in the same statement as its ``receive`` event), and the measures are one
GROUP BY over it.

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
DOMAIN's metric CRS) with a 50 m cell; new cases are compared with the cases in the 3 × 3 cells
around them, and the later case of each close pair is flagged. Cases are never deleted and their
place, category and reported_at never change, so a flag, once set, stays true.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.stats import CASE_STATUSES, REPEAT_DAYS, REPEAT_RADIUS_M
from geo.store.cases import OVERDUE_SQL

__all__ = [
    "FACT_COLUMNS",
    "boundaries",
    "catch_up",
    "departments",
    "facts_frame",
    "measure_sums",
    "monthly_sums",
    "rebuild",
    "summons_sums",
]

#: pg_advisory_xact_lock key for catch-up and rebuild ('gmfact').
LOCK_KEY = 0x676D66616374
METRIC_SRID = 4548
_FAR_PAST = datetime.fromisoformat("1900-01-01T00:00:00+00:00")
_FAR_FUTURE = datetime.fromisoformat("9999-01-01T00:00:00+00:00")

FACT_COLUMNS = (
    "case_id", "grid_code", "community_code", "street_code", "district_code", "category_code", "lead_department",
    "reported_at", "status", "dispatch_due", "dispatched_at", "respond_clock_at", "respond_clock_due",
    "responded_at", "clock_at", "respond_due", "resolve_due", "resolved_at", "callback_contacted",
    "callback_solved", "callback_satisfied", "x", "y", "cell_x", "cell_y", "is_repeat", "last_event_id",
)

_CLOCK = "('dispatch', 'reopen')"
_RESOLVED = "('resolved', 'checked', 'closed')"

# {events}: the case_event rows to fold (all, or those of the cases in fact_todo).
_FOLD_SQL = f"""
WITH agg AS MATERIALIZED (
    SELECT e.case_id,
           max(e.id) AS last_event_id,
           (array_agg(e.to_status ORDER BY e.id DESC) FILTER (WHERE e.to_status IS NOT NULL))[1] AS status,
           (array_agg(e.at ORDER BY e.id) FILTER (WHERE e.action = 'dispatch'))[1] AS dispatched_at,
           min(e.id) FILTER (WHERE e.action = 'respond') AS respond_id,
           (array_agg(e.at ORDER BY e.id) FILTER (WHERE e.action = 'respond'))[1] AS responded_at,
           (array_agg(e.at ORDER BY e.id DESC) FILTER (WHERE e.action IN {_CLOCK}))[1] AS clock_at,
           (array_agg(e.details ORDER BY e.id DESC) FILTER (WHERE e.action IN {_CLOCK}))[1] AS clock,
           (array_agg(e.at ORDER BY e.id DESC) FILTER (WHERE e.action = 'resolve'))[1] AS last_resolve_at,
           (array_agg(e.details ORDER BY e.id DESC) FILTER (WHERE e.action = 'callback'))[1] AS callback
    FROM {{events}}
    GROUP BY e.case_id),
respond_clock AS (  -- the dispatch (or reopen) whose clock the first response answered
    SELECT DISTINCT ON (e.case_id) e.case_id, e.at, (e.details->>'respond_due')::timestamptz AS due
    FROM agg a JOIN case_event e ON e.case_id = a.case_id AND e.id < a.respond_id
    WHERE e.action IN {_CLOCK}
    ORDER BY e.case_id, e.id DESC),
point AS (
    SELECT c.id, ST_X(p.g) AS x, ST_Y(p.g) AS y
    FROM agg a JOIN cases c ON c.id = a.case_id, LATERAL (SELECT ST_Transform(c.geom, {METRIC_SRID}) AS g) p)
INSERT INTO case_fact AS f ({", ".join(FACT_COLUMNS)})
SELECT c.id, c.grid_code, c.community_code, c.street_code, c.district_code, c.category_code, c.lead_department,
       c.reported_at, coalesce(a.status, c.status), c.dispatch_due, a.dispatched_at, rc.at, rc.due,
       a.responded_at, a.clock_at, (a.clock->>'respond_due')::timestamptz, (a.clock->>'resolve_due')::timestamptz,
       CASE WHEN a.status IN {_RESOLVED} THEN a.last_resolve_at END,
       (a.callback->>'contacted')::boolean, (a.callback->>'solved')::boolean, (a.callback->>'satisfied')::boolean,
       pt.x, pt.y, floor(pt.x / :cell)::int, floor(pt.y / :cell)::int, false, a.last_event_id
FROM agg a JOIN cases c ON c.id = a.case_id JOIN point pt ON pt.id = a.case_id
LEFT JOIN respond_clock rc ON rc.case_id = a.case_id
ON CONFLICT (case_id) DO UPDATE SET
    grid_code = EXCLUDED.grid_code, community_code = EXCLUDED.community_code, street_code = EXCLUDED.street_code,
    district_code = EXCLUDED.district_code, lead_department = EXCLUDED.lead_department,
    status = EXCLUDED.status, dispatched_at = EXCLUDED.dispatched_at,
    respond_clock_at = EXCLUDED.respond_clock_at, respond_clock_due = EXCLUDED.respond_clock_due,
    responded_at = EXCLUDED.responded_at, clock_at = EXCLUDED.clock_at, respond_due = EXCLUDED.respond_due,
    resolve_due = EXCLUDED.resolve_due, resolved_at = EXCLUDED.resolved_at,
    callback_contacted = EXCLUDED.callback_contacted, callback_solved = EXCLUDED.callback_solved,
    callback_satisfied = EXCLUDED.callback_satisfied, last_event_id = EXCLUDED.last_event_id
"""

# {new}: the cases to compare with their neighbours (all, or those in fact_new).
_REPEAT_SQL = """
WITH pairs AS (
    SELECT CASE WHEN (n.reported_at, n.case_id) > (o.reported_at, o.case_id) THEN n.case_id ELSE o.case_id END
           AS later
    FROM {new}
    CROSS JOIN (VALUES (-1), (0), (1)) dx(d) CROSS JOIN (VALUES (-1), (0), (1)) dy(d)
    JOIN case_fact o ON o.category_code = n.category_code AND o.cell_x = n.cell_x + dx.d
                    AND o.cell_y = n.cell_y + dy.d
    WHERE o.case_id <> n.case_id
      AND (o.x - n.x) ^ 2 + (o.y - n.y) ^ 2 <= :radius ^ 2
      AND o.reported_at BETWEEN n.reported_at - make_interval(days => :days)
                            AND n.reported_at + make_interval(days => :days))
UPDATE case_fact SET is_repeat = true
WHERE case_id IN (SELECT later FROM pairs) AND NOT is_repeat
"""


def _lock(session: Session) -> None:
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})


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
    session.execute(text(_FOLD_SQL.format(events="fact_todo t JOIN case_event e ON e.case_id = t.case_id")),
                    {"cell": REPEAT_RADIUS_M})
    session.execute(text(_REPEAT_SQL.format(new="fact_new nn JOIN case_fact n ON n.case_id = nn.case_id")),
                    {"radius": REPEAT_RADIUS_M, "days": REPEAT_DAYS})
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
    session.execute(text(_FOLD_SQL.format(events="case_event e")), {"cell": REPEAT_RADIUS_M})
    session.execute(text(_REPEAT_SQL.format(new="case_fact n")), {"radius": REPEAT_RADIUS_M, "days": REPEAT_DAYS})
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


def measure_sums(session: Session, key: str, *, start: datetime | None, end: datetime | None,
                 as_of: datetime, prefix: str = "") -> pd.DataFrame:
    """Per value of ``key`` (a case_fact column): the counts and medians of geo.stats.SUM_COLUMNS,
    for cases reported in [start, end) and, for cases_due, deadlines in [start, end) before as_of."""
    statuses = ",\n".join(f"count(*) FILTER (WHERE p AND c.status = '{s}') AS status_{s}" for s in CASE_STATUSES)
    overdue = OVERDUE_SQL.replace("now()", ":as_of")
    rows = session.execute(text(f"""
        SELECT c.{key} AS code,
               count(*) FILTER (WHERE p) AS cases_total,
               count(*) FILTER (WHERE p AND c.dispatched_at IS NOT NULL) AS dispatched,
               count(*) FILTER (WHERE p AND c.responded_at <= c.respond_clock_due) AS responded_on_time,
               count(*) FILTER (WHERE p AND c.callback_contacted) AS callbacks_answered,
               count(*) FILTER (WHERE p AND c.callback_contacted AND c.callback_solved) AS callbacks_solved,
               count(*) FILTER (WHERE p AND c.callback_contacted AND c.callback_satisfied) AS callbacks_satisfied,
               count(*) FILTER (WHERE d) AS cases_due,
               count(*) FILTER (WHERE d AND c.resolved_at <= c.resolve_due) AS resolved_on_time,
               count(*) FILTER (WHERE p AND {overdue}) AS overdue,
               count(*) FILTER (WHERE p AND c.is_repeat) AS repeat_cases,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.responded_at - c.respond_clock_at))
                   FILTER (WHERE p) / 3600 AS median_hours_to_respond,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM c.resolved_at - c.clock_at))
                   FILTER (WHERE p) / 3600 AS median_hours_to_resolve,
               {statuses}
        FROM (SELECT f.*, (f.reported_at >= :start AND f.reported_at < :end) AS p,
                     coalesce(f.resolve_due >= :start AND f.resolve_due < :end AND f.resolve_due <= :as_of, false)
                         AS d
              FROM case_fact f
              WHERE ((f.reported_at >= :start AND f.reported_at < :end)
                     OR (f.resolve_due >= :start AND f.resolve_due < :end))
                AND f.{key} LIKE :prefix) c
        GROUP BY c.{key}"""), {**_bounds(start, end), "as_of": as_of, "prefix": prefix + "%"})
    frame = pd.DataFrame([dict(r) for r in rows.mappings().all()])
    categories = session.execute(text(f"""
        SELECT {key} AS code, category_code, count(*) AS n FROM case_fact
        WHERE reported_at >= :start AND reported_at < :end AND {key} LIKE :prefix
        GROUP BY 1, 2"""), {**_bounds(start, end), "prefix": prefix + "%"}).all()
    if frame.empty:
        return frame
    if categories:
        wide = (pd.DataFrame(categories, columns=["code", "category", "n"])
                .pivot(index="code", columns="category", values="n").add_prefix("category_"))
        frame = frame.merge(wide, left_on="code", right_index=True, how="left")
    return frame


def summons_sums(session: Session, key: str | None, *, start: datetime | None, end: datetime | None,
                 prefix: str = "") -> pd.DataFrame:
    """Summons (召集) due in [start, end) and those checked in on time, per boundary (``key`` a
    case_fact code column: a whistle counts once for each boundary its cases lie in) or per
    summoned department (``key`` None)."""
    if key is None:
        source = ("SELECT s.department_code AS code, s.whistle_id, s.late FROM whistle_summons s "
                  "WHERE s.due_at >= :start AND s.due_at < :end")
    else:
        source = (f"SELECT DISTINCT f.{key} AS code, s.whistle_id, s.department_code, s.late "
                  "FROM whistle_summons s JOIN whistle_case wc ON wc.whistle_id = s.whistle_id "
                  "JOIN case_fact f ON f.case_id = wc.case_id "
                  f"WHERE s.due_at >= :start AND s.due_at < :end AND f.{key} LIKE :prefix")
    rows = session.execute(text(
        f"SELECT code, count(*) AS summons, count(*) FILTER (WHERE late IS false) AS checked_in_on_time "
        f"FROM ({source}) x GROUP BY code"), {**_bounds(start, end), "prefix": prefix + "%"}).all()
    return pd.DataFrame(rows, columns=["code", "summons", "checked_in_on_time"])


def monthly_sums(session: Session, key: str | None, code: str | None, *, start: datetime, end: datetime,
                 timezone: str) -> pd.DataFrame:
    """Per local month of reported_at in [start, end): cases and the three rates' sums."""
    where = f"AND {key} = :code" if key and code else ""
    rows = session.execute(text(f"""
        SELECT to_char(date_trunc('month', reported_at AT TIME ZONE :tz), 'YYYY-MM') AS month,
               count(*) AS cases_total,
               count(*) FILTER (WHERE dispatched_at IS NOT NULL) AS dispatched,
               count(*) FILTER (WHERE responded_at <= respond_clock_due) AS responded_on_time,
               count(*) FILTER (WHERE callback_contacted) AS callbacks_answered,
               count(*) FILTER (WHERE callback_contacted AND callback_solved) AS callbacks_solved,
               count(*) FILTER (WHERE callback_contacted AND callback_satisfied) AS callbacks_satisfied
        FROM case_fact WHERE reported_at >= :start AND reported_at < :end {where}
        GROUP BY 1"""), {"tz": timezone, "start": start, "end": end, "code": code}).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


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
