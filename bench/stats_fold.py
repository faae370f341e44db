"""The statistics fold after a bulk import (issue 14, goal 2): before and after, in one run.

Builds a throwaway cluster with the synthetic district (``--grids`` grids), writes ``--cases``
GCJ-02 tickets spread over ``--days`` days with ``--piled`` of them piled up at 500 addresses (real
exports do this), imports them with ``gridmap cases import`` (which now ends by folding them into
``case_fact``), then times on two copies of the loaded database, each with ``case_fact`` emptied
(the state a first ``gridmap stats refresh`` after an import found):

- **before**: the fold as the previous commit ran it, on the planner statistics the previous
  import left (none: ``forget_statistics``) — the fold SQL, no ANALYZE, and the SQL
  self-join on (category, cells) for repeat complaints (copied below as ``OLD_REPEAT_SQL``), with a
  ``--timeout`` per statement so a quadratic plan cannot hold the run for an hour;
- **after**: ``geo.store.stats.rebuild`` (ANALYZE cases and case_event, the same fold SQL, ANALYZE
  case_fact, candidates + geo.domain.stats.repeat_flags), on the same state.

Both give the same ``is_repeat`` flags when the old one finishes (the script checks). It also
prints the import's own wall time and its fold line.

Run: ``.venv/bin/python bench/stats_fold.py`` (10⁵ cases, ≈ 3–6 min on the shared 2-core machine);
``--cases 1000000 --days 365`` for the goal's size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from _common import log

#: The repeat detection of commit ffe6f16 (geo/store/stats.py), the baseline.
OLD_REPEAT_SQL = """
WITH pairs AS (
    SELECT CASE WHEN (n.reported_at, n.case_id) > (o.reported_at, o.case_id) THEN n.case_id ELSE o.case_id END
           AS later
    FROM case_fact n
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


def empty_facts(url: str) -> None:
    common.query(url, "TRUNCATE case_fact, case_fact_gap")
    common.query(url, "UPDATE case_fact_state SET last_event_id = 0")


def forget_statistics(url: str) -> None:
    """The planner's view right after the previous import: cases, case_event and case_fact never
    analysed (the import did not ANALYZE; autovacuum had not come yet)."""
    tables = "('cases'::regclass, 'case_event'::regclass, 'case_fact'::regclass)"
    for table in ("cases", "case_event", "case_fact"):  # and autovacuum kept away during the run
        common.query(url, f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    common.query(url, f"DELETE FROM pg_statistic WHERE starelid IN {tables}")
    common.query(url, f"UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid IN {tables}")


def before(url: str, timeout_s: int) -> dict[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from geo.domain.stats import REPEAT_DAYS, REPEAT_RADIUS_M
    from geo.store import stats as store

    engine = create_engine(url)
    out: dict[str, Any] = {}
    try:
        with Session(engine) as session, session.begin():
            store._lock(session)
            session.execute(text(f"SET LOCAL statement_timeout = '{timeout_s}s'"))
            t = time.perf_counter()
            try:
                # The fold SQL itself is unchanged since that commit; it ran without ANALYZE before it.
                session.execute(text(store._FOLD_SQL.format(events="case_event e")), {"cell": REPEAT_RADIUS_M})
            except Exception as exc:  # the statement timeout: report it, do not wait
                out.update(fold_s=None, repeat_s=None, repeat_error="not reached",
                           fold_error=f"cancelled after {time.perf_counter() - t:.0f} s ({type(exc).__name__})")
                session.rollback()
                return out
            out["fold_s"] = time.perf_counter() - t
            t = time.perf_counter()
            try:
                session.execute(text(OLD_REPEAT_SQL), {"radius": REPEAT_RADIUS_M, "days": REPEAT_DAYS})
                out["repeat_s"] = time.perf_counter() - t
                out["flags"] = dict(session.execute(text("SELECT case_id, is_repeat FROM case_fact")).all())
            except Exception as exc:  # the statement timeout: report it, do not wait
                out["repeat_s"] = None
                out["repeat_error"] = f"cancelled after {time.perf_counter() - t:.0f} s ({type(exc).__name__})"
                session.rollback()
    finally:
        engine.dispose()
    return out


def after(url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from geo.store import stats as store

    engine = create_engine(url)
    steps: dict[str, float] = {}
    real_flags = store.repeats.repeat_flags

    def timed_flags(*a: Any, **kw: Any) -> Any:
        t = time.perf_counter()
        try:
            return real_flags(*a, **kw)
        finally:
            steps["repeat_flags (numpy)"] = steps.get("repeat_flags (numpy)", 0.0) + time.perf_counter() - t

    store.repeats.repeat_flags = timed_flags  # type: ignore[assignment]
    try:
        with Session(engine) as session, session.begin():
            real_execute = session.execute

            def execute(statement: Any, *a: Any, **kw: Any) -> Any:
                t = time.perf_counter()
                try:
                    return real_execute(statement, *a, **kw)
                finally:
                    words = " ".join(str(statement).split())
                    label = ("fold SQL (INSERT … case_fact)" if "INSERT INTO case_fact AS f" in words
                             else words if words.startswith("ANALYZE")
                             else "repeat candidates (SELECT)" if words.startswith(("SELECT o.case_id",
                                                                                     "SELECT c.id, c.category_code"))
                             else "flags written" if words.startswith(("UPDATE case_fact SET is_repeat",
                                                                       "INSERT INTO fact_repeat"))
                             else "other statements")
                    steps[label] = steps.get(label, 0.0) + time.perf_counter() - t

            session.execute = execute  # type: ignore[method-assign]
            t = time.perf_counter()
            folded = store.rebuild(session)
            seconds = time.perf_counter() - t
            del session.execute
            flags = dict(session.execute(text("SELECT case_id, is_repeat FROM case_fact")).all())
    finally:
        store.repeats.repeat_flags = real_flags  # type: ignore[assignment]
        engine.dispose()
    return {"seconds": seconds, "cases": folded, "flags": flags, "steps": steps}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=320)
    parser.add_argument("--piled", type=float, default=0.3, help="share of tickets piled up at 500 addresses")
    parser.add_argument("--timeout", type=int, default=600, help="statement timeout of the baseline, seconds")
    parser.add_argument("--no-before", action="store_true", help="skip the baseline")
    parser.add_argument("--seed", type=int, default=20261207)
    args = parser.parse_args()

    log(common.machine_line())
    log(common.git_state())
    log(f"load average {common.load_average()} (the machine is shared with other sessions: figures are noisy)")
    with common.Cluster("fold") as pg, tempfile.TemporaryDirectory(prefix="gridmap-fold-") as tmp:
        work = Path(tmp)
        bounds = common.make_boundaries(work, args.grids, seed=args.seed)
        common.prepare_database(pg, "loaded", bounds, work)
        tickets = work / "tickets.csv"
        common.make_tickets(tickets, args.cases, seed=args.seed, days=args.days, piled_share=args.piled)
        seconds, out = common.gridmap(pg.url("loaded"), "cases", "import", str(tickets), "--crs", "gcj02",
                                      "--source", "12345", timeout=7200, quiet=True)
        lines = out.strip().splitlines()
        log(f"\n[import] {args.cases:,} tickets over {args.days} days ({args.piled:.0%} piled up): "
            f"{seconds:.1f} s wall")
        for line in lines[-2:]:
            log(f"    {line}")
        events = common.query(pg.url("loaded"), "SELECT count(*) FROM case_event")[0][0]
        log(f"    {events:,} events; load average {common.load_average()}")
        for db in ("before", "after"):
            pg.create_db(db, template="loaded")
            empty_facts(pg.url(db))
            forget_statistics(pg.url(db))  # both start where a fresh import left the planner
        new = after(pg.sqlalchemy_url("after"))
        log(f"\n[after]  rebuild (fold + ANALYZE + repeat_flags): {new['seconds']:.2f} s, {new['cases']:,} cases, "
            f"{sum(new['flags'].values()):,} repeats; load average {common.load_average()}")
        for step, step_s in new["steps"].items():
            log(f"    {step:<34} {step_s:7.2f} s")
        if not args.no_before:
            old = before(pg.sqlalchemy_url("before"), args.timeout)
            if old["fold_s"] is None:
                log(f"[before] fold SQL {old['fold_error']} (the repeat self-join not reached)")
            elif old["repeat_s"] is None:
                log(f"[before] fold SQL {old['fold_s']:.2f} s; repeat self-join {old['repeat_error']}")
            else:
                same = old["flags"] == new["flags"]
                log(f"[before] fold SQL {old['fold_s']:.2f} s + repeat self-join {old['repeat_s']:.2f} s = "
                    f"{old['fold_s'] + old['repeat_s']:.2f} s; flags identical to after: {same}")
        log(f"\nload average at the end {common.load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
