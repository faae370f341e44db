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


def load_histories(url: str, bounds: common.Boundaries, n: int, seed: int) -> None:
    """n cases with whole histories (bench/stats_measures.py's generator: receive, dispatch, sign,
    return and re-dispatch, respond, start, whistle, check-ins, resolve, check, close, callback,
    reopen; ≈ 8 events a case), COPYed straight into cases and case_event (no whistle rows)."""
    from datetime import UTC, datetime

    import numpy as np
    import psycopg
    import stats_measures as sm

    rng = np.random.default_rng(seed)
    now = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "s")
    cases = sm._cases(bounds, n, rng, now)
    events, extra = sm._history(cases, rng, now)
    cases["status"] = extra["status"]
    with psycopg.connect(url) as conn:
        sm.copy_cases_and_events(conn, cases, events)
        conn.commit()


def empty_facts(url: str) -> None:
    common.query(url, "TRUNCATE case_fact, case_fact_gap")
    common.query(url, "UPDATE case_fact_state SET last_event_id = 0")


def forget_statistics(url: str) -> None:
    """The planner's view right after an import: cases, case_event and case_fact never analysed
    (autovacuum kept away during the run); both folds start from it and ANALYZE what they need."""
    tables = "('cases'::regclass, 'case_event'::regclass, 'case_fact'::regclass)"
    for table in ("cases", "case_event", "case_fact"):
        common.query(url, f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    common.query(url, f"DELETE FROM pg_statistic WHERE starelid IN {tables}")
    common.query(url, f"UPDATE pg_class SET reltuples = -1, relpages = 0 WHERE oid IN {tables}")


def _label(statement: Any) -> str:
    words = " ".join(str(statement).split())
    if "INSERT INTO case_fact AS f" in words:
        return "INSERT case_fact" if "fact_fold t" in words else "fold SQL (INSERT … case_fact)"
    if "gridmap_analyze" in words or words.startswith("ANALYZE"):
        return "ANALYZE"
    if "gridmap_fact_indexes" in words:
        return "case_fact indexes (dropped, built)"
    if words.startswith("TRUNCATE case_fact") or "INSERT INTO case_fact_gap" in words:
        return "TRUNCATE, id holes"
    return "other statements"


def rebuild(url: str, *, old: bool) -> dict[str, Any]:
    """geo.store.stats.rebuild, timed step by step; ``old``: with the repeat flags and the fold done
    as at 483cb4d (tests/fold_sql.py: flags by a SELECT fetched as rows, the SQL fold into the
    indexed table, after ANALYZE), everything else the same."""
    import pandas as pd
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import Session

    from geo.domain.stats import REPEAT_RADIUS_M
    from geo.store import fact_copy
    from geo.store import stats as store
    from tests.fold_sql import OLD_FOLD_SQL, old_flag_all

    engine = create_engine(url)
    steps: dict[str, float] = {}
    inside: list[str] = []

    def timed(label: str, call: Any) -> Any:
        def run(*a: Any, **kw: Any) -> Any:
            t = time.perf_counter()
            inside.append(label)
            try:
                return call(*a, **kw)
            finally:
                inside.pop()
                steps[label] = steps.get(label, 0.0) + time.perf_counter() - t
        return run

    real = {"fold_events": fact_copy.fold_events, "points": store.repeats.points, "flags": store.repeats.flags}

    def new_fold(session: Any, events: str, placed: Any, *, upsert: bool) -> dict[str, float]:
        parts = real["fold_events"](session, events, placed, upsert=upsert)
        steps.update({f"  {k}": v for k, v in parts.items()})
        return parts

    def old_fold(session: Any, events: str, placed: Any, *, upsert: bool) -> dict[str, float]:
        timed("repeat flags (SELECT as rows, repeat_flags)", old_flag_all)(session)
        session.execute(text("SELECT gridmap_fact_indexes(true)"))  # the old fold wrote into the indexed table
        session.execute(text("SELECT gridmap_analyze(ARRAY['cases', 'case_event'])"))
        session.execute(text(OLD_FOLD_SQL.format(events=events)), {"cell": REPEAT_RADIUS_M})
        return {}

    def no_points(session: Any, cases: str) -> pd.DataFrame:
        return pd.DataFrame({"case_id": pd.Series(dtype="int64")})

    if old:
        fact_copy.fold_events, store.repeats.points = old_fold, no_points  # type: ignore[assignment]
    else:
        fact_copy.fold_events = new_fold  # type: ignore[assignment]
        store.repeats.points = timed("repeat flags: cases placed (COPY)", real["points"])  # type: ignore[assignment]
        store.repeats.flags = timed("repeat flags: repeat_flags (numpy)", real["flags"])  # type: ignore[assignment]
    try:
        with Session(engine) as session, session.begin():
            real_execute = session.execute

            def execute(statement: Any, *a: Any, **kw: Any) -> Any:
                t = time.perf_counter()
                try:
                    return real_execute(statement, *a, **kw)
                finally:
                    if not inside:
                        label = _label(statement)
                        steps[label] = steps.get(label, 0.0) + time.perf_counter() - t

            session.execute = execute  # type: ignore[method-assign]
            t = time.perf_counter()
            folded = store.rebuild(session)
            seconds = time.perf_counter() - t
            del session.execute
            frame = store.facts_frame(session)
    finally:
        fact_copy.fold_events = real["fold_events"]  # type: ignore[assignment]
        store.repeats.points, store.repeats.flags = real["points"], real["flags"]  # type: ignore[assignment]
        engine.dispose()
    if not old:  # the INSERT is one of the fold's parts, not a step beside them
        steps.pop("INSERT case_fact", None)
        steps["fold: events out, numpy, facts in, INSERT"] = sum(v for k, v in steps.items() if k.startswith("  "))
    return {"seconds": seconds, "cases": folded, "frame": frame, "steps": steps}


def differences(old: Any, new: Any) -> list[str]:
    """The case_fact columns whose values differ between the two folds (NULLs equal)."""
    if len(old) != len(new) or (old["case_id"].to_numpy() != new["case_id"].to_numpy()).any():
        return ["case_id (different cases)"]
    return [c for c in old.columns if not old[c].equals(new[c])]


def compare(pg: Any, url_db: str, *, old_too: bool = True) -> bool:
    if not old_too:
        pg.create_db("new", template=url_db)
        empty_facts(pg.url("new"))
        forget_statistics(pg.url("new"))
        new = rebuild(pg.sqlalchemy_url("new"), old=False)
        log(f"\n[new] rebuild: {new['seconds']:.2f} s, {new['cases']:,} cases; load average {common.load_average()}")
        for step, seconds in new["steps"].items():
            log(f"{step:<44} {seconds:7.2f} s")
        return True
    for db in ("old", "new"):
        pg.create_db(db, template=url_db)
        empty_facts(pg.url(db))
        forget_statistics(pg.url(db))
    # the old side on the old schema: case_fact's foreign key (dropped by migration 0022)
    common.query(pg.url("old"), "ALTER TABLE case_fact ADD CONSTRAINT case_fact_case_id_fkey "
                                "FOREIGN KEY (case_id) REFERENCES cases (id)")
    results = {}
    for db in ("new", "old"):
        results[db] = rebuild(pg.sqlalchemy_url(db), old=db == "old")
        log(f"\n[{db}] rebuild: {results[db]['seconds']:.2f} s, {results[db]['cases']:,} cases, "
            f"{int(results[db]['frame']['is_repeat'].sum()):,} repeats; load average {common.load_average()}")
    old, new = results["old"], results["new"]
    log(f"\n{'step':<44} {'old (SQL)':>10} {'new (numpy)':>12}")
    for step in dict.fromkeys([*old["steps"], *new["steps"]]):
        cell = {k: f"{r['steps'][step]:.2f} s" if step in r["steps"] else "" for k, r in results.items()}
        log(f"{step:<44} {cell['old']:>10} {cell['new']:>12}")
    log(f"{'whole rebuild':<44} {old['seconds']:>8.2f} s {new['seconds']:>10.2f} s")
    diff = differences(old["frame"], new["frame"])
    log(f"\nevery case_fact column identical: {not diff}" + (f" (differ: {', '.join(diff)})" if diff else ""))
    return not diff


class Kept(common.Cluster):
    """A cluster an earlier ``--keep`` run left running (``--reuse PORT``): its ``loaded`` database
    is folded again, no set-up; it is not stopped."""

    def __init__(self, port: int) -> None:
        super().__init__("fold")
        self.port = port

    def __enter__(self) -> Kept:
        for db in ("old", "new"):
            self.query("postgres", f'DROP DATABASE IF EXISTS "{db}"')
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def set_up(pg: common.Cluster, work: Path, args: argparse.Namespace) -> None:
    bounds = common.make_boundaries(work, args.grids, seed=args.seed)
    common.prepare_database(pg, "loaded", bounds, work)
    if args.history:
        t = time.perf_counter()
        load_histories(pg.url("loaded"), bounds, args.cases, args.seed)
        log(f"\n[setup] {args.cases:,} cases with histories COPYed in: {time.perf_counter() - t:.1f} s")
        return
    tickets = work / "tickets.csv"
    common.make_tickets(tickets, args.cases, seed=args.seed, days=args.days, piled_share=args.piled)
    seconds, out = common.gridmap(pg.url("loaded"), "cases", "import", str(tickets), "--crs", "gcj02",
                                  "--source", "12345", timeout=7200, quiet=True)
    log(f"\n[import] {args.cases:,} tickets over {args.days} days ({args.piled:.0%} piled up): {seconds:.1f} s wall")
    for line in out.strip().splitlines()[-2:]:
        log(f"    {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=320)
    parser.add_argument("--piled", type=float, default=0.3, help="share of tickets piled up at 500 addresses")
    parser.add_argument("--seed", type=int, default=20261207)
    parser.add_argument("--history", action="store_true",
                        help="cases with whole histories (bench/stats_measures.py's generator, ≈ 7.5 events a "
                             "case) COPYed in, instead of imported tickets (one receive event each)")
    parser.add_argument("--quick", action="store_true",
                        help="test size (2,000 cases with histories, 200 grids): tests/test_fact_fold.py runs it")
    parser.add_argument("--no-old", action="store_true", help="only the new fold (no comparison)")
    parser.add_argument("--keep", action="store_true", help="leave the cluster running (to fold it again: --reuse)")
    parser.add_argument("--reuse", type=int, metavar="PORT", help="fold the 'loaded' database of a kept cluster")
    args = parser.parse_args()
    if args.quick:
        args.cases, args.grids, args.history = 2_000, 200, True

    log(common.machine_line())
    log(common.git_state())
    log(f"load average {common.load_average()} (the machine is shared with other sessions: figures are noisy)")
    cluster = Kept(args.reuse) if args.reuse else common.Cluster("fold", keep=args.keep)
    with cluster as pg, tempfile.TemporaryDirectory(prefix="gridmap-fold-") as tmp:
        if not args.reuse:
            set_up(pg, Path(tmp), args)
        sql = "SELECT (SELECT count(*) FROM cases), count(*) FROM case_event"
        cases, events = common.query(pg.url("loaded"), sql)[0]
        log(f"    {cases:,} cases, {events:,} events ({events / max(cases, 1):.1f} a case); "
            f"load average {common.load_average()}")
        same = compare(pg, "loaded", old_too=not args.no_old)
        log(f"\nload average at the end {common.load_average()}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
