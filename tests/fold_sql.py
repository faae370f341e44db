"""The statistics fold as SQL, frozen from geo/store/stats.py at 483cb4d (before the fold became
numpy: geo.domain.facts + geo.store.fact_copy). Kept only as the reference the parity test
(tests/test_fact_fold.py) and bench/stats_fold.py compare the numpy fold with; the product no
longer runs it."""

import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from geo.domain.stats import REPEAT_DAYS, REPEAT_RADIUS_M, repeat_flags
from geo.domain.statuses import FINISHED
from geo.store.fact_copy import FACT_COLUMNS
from geo.store.repeats import METRIC_SRID
from geo.store.vocabulary import status_in

__all__ = ["OLD_FOLD_SQL", "old_flag_all"]

_CLOCK = "('dispatch', 'reopen')"

#: {events}: the case_event rows to fold (all, or those of the cases in fact_todo).
OLD_FOLD_SQL = f"""
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
    SELECT a.case_id, r.at, r.due
    FROM agg a CROSS JOIN LATERAL (
        SELECT e.at, (e.details->>'respond_due')::timestamptz AS due FROM case_event e
        WHERE e.case_id = a.case_id AND e.id < a.respond_id AND e.action IN {_CLOCK}
        ORDER BY e.id DESC LIMIT 1) r),
point AS (  -- LATERAL: the planner misjudges agg's size and would scan every case otherwise
    SELECT c.*, ST_X(p.g) AS x, ST_Y(p.g) AS y
    FROM agg a CROSS JOIN LATERAL (SELECT * FROM cases c WHERE c.id = a.case_id OFFSET 0) c,
         LATERAL (SELECT ST_Transform(c.geom, {METRIC_SRID}) AS g) p)
INSERT INTO case_fact AS f ({", ".join(FACT_COLUMNS)})
SELECT c.id, c.grid_code, c.community_code, c.street_code, c.district_code, c.category_code, c.lead_department,
       c.reported_at, coalesce(a.status, c.status), c.dispatch_due, a.dispatched_at, rc.at, rc.due,
       a.responded_at, a.clock_at, (a.clock->>'respond_due')::timestamptz, (a.clock->>'resolve_due')::timestamptz,
       CASE WHEN {status_in("a.status", FINISHED)} THEN a.last_resolve_at END,
       (a.callback->>'contacted')::boolean, (a.callback->>'solved')::boolean, (a.callback->>'satisfied')::boolean,
       c.x, c.y, floor(c.x / :cell)::int, floor(c.y / :cell)::int,
       EXISTS (SELECT 1 FROM fact_repeat r WHERE r.case_id = c.id), a.last_event_id, c.request_type
FROM agg a JOIN point c ON c.id = a.case_id
LEFT JOIN respond_clock rc ON rc.case_id = a.case_id
ON CONFLICT (case_id) DO UPDATE SET
    grid_code = EXCLUDED.grid_code, community_code = EXCLUDED.community_code, street_code = EXCLUDED.street_code,
    district_code = EXCLUDED.district_code, lead_department = EXCLUDED.lead_department,
    status = EXCLUDED.status, dispatched_at = EXCLUDED.dispatched_at,
    respond_clock_at = EXCLUDED.respond_clock_at, respond_clock_due = EXCLUDED.respond_clock_due,
    responded_at = EXCLUDED.responded_at, clock_at = EXCLUDED.clock_at, respond_due = EXCLUDED.respond_due,
    resolve_due = EXCLUDED.resolve_due, resolved_at = EXCLUDED.resolved_at,
    callback_contacted = EXCLUDED.callback_contacted, callback_solved = EXCLUDED.callback_solved,
    callback_satisfied = EXCLUDED.callback_satisfied, last_event_id = EXCLUDED.last_event_id,
    request_type = EXCLUDED.request_type
"""


def old_flag_all(session: Session) -> int:
    """The rebuild's repeat flags as 483cb4d found them: every case placed by one SELECT fetched as
    rows, geo.domain.stats.repeat_flags, the repeating ids into the temp table fact_repeat that
    OLD_FOLD_SQL reads."""
    session.execute(text("CREATE TEMP TABLE IF NOT EXISTS fact_repeat (case_id bigint PRIMARY KEY) "
                         "ON COMMIT DELETE ROWS"))
    session.execute(text("TRUNCATE fact_repeat"))
    rows = session.execute(text(f"""
        SELECT c.id, c.category_code, ST_X(p.g), ST_Y(p.g), floor(extract(epoch FROM c.reported_at) * 1000000)::bigint
        FROM cases c, LATERAL (SELECT ST_Transform(c.geom, {METRIC_SRID}) AS g) p""")).all()
    if len(rows) < 2:
        return 0
    frame = pd.DataFrame(rows, columns=["case_id", "category_code", "x", "y", "reported_us"])
    when = pd.to_datetime(frame["reported_us"].astype("int64"), unit="us", utc=True)
    flags = repeat_flags(frame["category_code"], when, frame["x"], frame["y"], radius_m=REPEAT_RADIUS_M,
                         days=REPEAT_DAYS, ids=frame["case_id"])
    ids = frame["case_id"].to_numpy()[flags]
    session.execute(text("INSERT INTO fact_repeat SELECT unnest(CAST(:ids AS bigint[]))"),
                    {"ids": [int(i) for i in ids]})
    session.execute(text("ANALYZE fact_repeat"))
    return len(ids)
