"""Measures for 10,000 grids × 1,000,000 cases: boundary_measures (grid, street), department_measures
and monthly_trend, cold (first call: case_fact folds every event) and warm (goal < 2 s).

Set-up, not timed as the product: the synthetic boundaries and reference data of bench/_common.py
are loaded with the CLI; then 1 M cases and their whole event histories (receive, dispatch, sign,
return and re-dispatch, respond, start, whistle with check-ins, resolve, check, close, callback,
reopen; ≈ 8 events a case, times over the last year) are generated with numpy and written with
COPY straight into cases, case_event and the whistle tables — the API would take hours.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))


import _common as common
from _common import Cluster, log

GOAL_SECONDS = 2.0
HOUR = np.timedelta64(3600, "s")
MINUTE = np.timedelta64(60, "s")
DAY = 24 * HOUR
RESPOND_LIMIT = 24 * HOUR  # 'general' urgency (every seed category but a few)
RESOLVE_LIMIT = 7 * DAY


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--repeat", type=int, default=5, help="warm calls per measure (best and median printed)")
    parser.add_argument("--pg-opt", action="append", default=[], help="extra server option name=value (repeatable)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster and files for debugging")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, Any] = {"cases": args.cases, "machine": common.machine_line(), "code": common.git_state()}
    log(f"machine: {results['machine']}; load average {common.load_average()}")
    log(f"code: {results['code']}")
    common.run_in_cluster("stats", args, results, run, extra=tuple(args.pg_opt))
    results["total_seconds"] = time.perf_counter() - started
    log(f"\nwhole benchmark: {results['total_seconds']:.0f} s; load average now {common.load_average()}")
    common.dump_json(args.json, results)
    return 0


# --- synthetic history ---------------------------------------------------------------------------


def _cases(bounds: common.Boundaries, n: int, rng: np.random.Generator, now: np.datetime64) -> pd.DataFrame:
    """n cases at uniform points of the district, each in its grid, reported over the last year."""
    lon, lat = common.random_points(int(n * 1.01) + 100, rng, outside_share=0)
    tree = shapely.STRtree(bounds.grids.geometry.values)
    pts, grid_idx = tree.query(shapely.points(lon, lat), predicate="within")
    _, first = np.unique(pts, return_index=True)
    pts, grid_idx = pts[first][:n], grid_idx[first][:n]
    codes = bounds.grids["code"].to_numpy()[grid_idx]
    categories = np.array(list(common.CATEGORIES))
    duties = pd.read_csv(common.REFERENCE / "duties.csv", dtype=str).fillna("")
    lead = dict(duties.loc[duties["scope"] == "", ["category", "lead"]].itertuples(index=False))
    category = categories[rng.integers(0, len(categories), len(pts))]
    reported = now - np.timedelta64(360, "D") + rng.integers(0, 340 * 86400, len(pts)).astype("timedelta64[s]")
    frame = pd.DataFrame({
        "id": np.arange(1, len(pts) + 1), "category_code": category, "reported_at": reported,
        "lon": lon[pts], "lat": lat[pts], "grid_code": codes,
        "lead_department": [lead.get(c, "CGW") for c in category],
    })
    frame["case_no"] = "110102-B-" + frame["id"].astype(str).str.zfill(7)
    return frame


class Events:
    """Builds the event columns stage by stage; each stage applies to a subset of cases."""

    def __init__(self, n: int, reported: np.ndarray, now: np.datetime64) -> None:
        self.n, self.now = n, now
        self.at = reported.copy()
        self.status = np.full(n, "received", dtype=object)
        self.alive = np.ones(n, dtype=bool)  # no event after ``now`` (the rest of the story is future)
        self.parts: list[pd.DataFrame] = []
        self.add("receive", np.ones(n, dtype=bool), np.zeros(n, dtype="timedelta64[s]"), "received",
                 details='{"source": "12345", "import": true}')

    def add(self, action: str, mask: np.ndarray, delay: np.ndarray, to_status: str | None,
            details: Any = "{}") -> np.ndarray:
        at = self.at + delay
        mask = mask & self.alive & (at <= self.now)
        self.alive &= ~((at > self.now) & mask)
        idx = np.flatnonzero(mask)
        detail = details[idx] if isinstance(details, np.ndarray) else details
        to = self.status[idx] if to_status is None else to_status
        self.parts.append(pd.DataFrame({"case_id": idx + 1, "at": at[idx], "action": action,
                                        "from_status": self.status[idx], "to_status": to, "details": detail}))
        self.at[idx] = at[idx]
        if to_status is not None:
            self.status[idx] = to_status
        return mask

    def frame(self) -> pd.DataFrame:
        events = pd.concat(self.parts, ignore_index=True)
        order = np.lexsort((events["case_id"].to_numpy(), events["at"].to_numpy()))
        return events.iloc[order].reset_index(drop=True)  # ids follow time, as in production


def _iso(values: np.ndarray) -> np.ndarray:
    return np.char.add(np.datetime_as_string(values.astype("datetime64[s]"), unit="s"), "+00:00")


def _clock(at: np.ndarray) -> np.ndarray:
    due_r, due_s = _iso(at + RESPOND_LIMIT), _iso(at + RESOLVE_LIMIT)
    return np.char.add(np.char.add(np.char.add(np.char.add('{"respond_due": "', due_r), '", "resolve_due": "'),
                                   due_s), '"}').astype(object)


def _history(cases: pd.DataFrame, rng: np.random.Generator, now: np.datetime64) -> tuple[pd.DataFrame, dict]:
    n = len(cases)
    ev = Events(n, cases["reported_at"].to_numpy().astype("datetime64[s]"), now)

    def u(lo: np.timedelta64, hi: np.timedelta64) -> np.ndarray:
        return rng.integers(int(lo / np.timedelta64(1, "s")), int(hi / np.timedelta64(1, "s")), n).astype(
            "timedelta64[s]")

    def p(share: float) -> np.ndarray:
        return rng.random(n) < share

    def dispatch(mask: np.ndarray, delay: np.ndarray, action: str = "dispatch") -> np.ndarray:
        return ev.add(action, mask, delay, "dispatched", details=_clock(ev.at + delay))

    d = dispatch(p(0.92), u(5 * MINUTE, 3 * HOUR))
    s = ev.add("sign", d, u(5 * MINUTE, 6 * HOUR), "signed")
    r = ev.add("return", s & p(0.03), u(10 * MINUTE, 2 * HOUR), "returned", details="{}")
    r = dispatch(r, u(10 * MINUTE, 2 * HOUR))
    s = (s & ~r) | ev.add("sign", r, u(5 * MINUTE, 3 * HOUR), "signed")
    responded = ev.add("respond", s & p(0.85), rng.exponential(8 * 3600, n).astype("timedelta64[s]"), "responded")
    started = ev.add("start", (s | responded) & p(0.92), u(10 * MINUTE, 4 * HOUR), "in_progress")
    whistled = ev.add("whistle", started & p(0.01), u(0 * MINUTE, 60 * MINUTE), None)
    whistle_at = ev.at.copy()
    ins = []
    for _ in (0, 1):
        late = u(5 * MINUTE, 50 * MINUTE)
        mask = ev.add("check_in", whistled & p(0.9), late, None)
        ins.append((mask, whistle_at + late))
        ev.at[mask] = whistle_at[mask]  # check-ins do not move the case's clock
    resolved = ev.add("resolve", started & p(0.88), u(1 * HOUR, 10 * DAY), "resolved")
    checked = ev.add("check", resolved & p(0.95), u(1 * HOUR, 1 * DAY), "checked")
    closed = ev.add("close", checked & p(0.97), u(10 * MINUTE, 1 * DAY), "closed")
    contacted, solved, satisfied = p(0.92), p(0.85), p(0.75)
    answers = np.char.add(np.char.add(np.char.add(np.char.add(
        '{"contacted": ', np.where(contacted, "true", "false")), ', "solved": '),
        np.char.add(np.where(solved, "true", "false"), ', "satisfied": ')),
        np.char.add(np.where(satisfied, "true", "false"), "}")).astype(object)
    called = ev.add("callback", closed & p(0.7), u(1 * HOUR, 3 * DAY), None, details=answers)
    dispatch(called & ~satisfied & p(0.3), u(1 * HOUR, 1 * DAY), action="reopen")
    events = ev.frame()
    whistle = {"case": np.flatnonzero(whistled) + 1, "at": whistle_at[whistled], "ins": ins, "mask": whistled}
    return events, {"whistle": whistle, "status": ev.status}


def _copy(raw: Any, table: str, columns: list[str], frame: pd.DataFrame, chunk: int = 500_000) -> None:
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)") as copy:
        for start in range(0, len(frame), chunk):
            buffer = io.StringIO()
            frame.iloc[start:start + chunk].to_csv(buffer, index=False, header=False, na_rep="")
            copy.write(buffer.getvalue())


def load_history(url: str, bounds: common.Boundaries, n: int, seed: int) -> dict[str, Any]:
    import psycopg

    rng = np.random.default_rng(seed)
    now = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "s")
    t = time.perf_counter()
    cases = _cases(bounds, n, rng, now)
    events, extra = _history(cases, rng, now)
    cases["status"] = extra["status"]
    generated = time.perf_counter() - t
    log(f"[setup] {len(cases):,} cases and {len(events):,} events generated in {generated:.1f} s "
        f"({len(events) / len(cases):.1f} events a case)")
    t = time.perf_counter()
    with psycopg.connect(url) as conn:
        copy_cases_and_events(conn, cases, events)
        first_dispatch = events[events["action"] == "dispatch"].drop_duplicates("case_id")
        whistles = _whistle_rows(conn, extra["whistle"], cases)
        conn.commit()
        conn.execute("ANALYZE")
        conn.commit()
    copied = time.perf_counter() - t
    log(f"[setup] COPY into cases, case_event, whistle tables: {copied:.1f} s ({whistles:,} whistles); "
        f"first dispatches {len(first_dispatch):,}")
    return {"cases": len(cases), "events": len(events), "whistles": whistles, "generate_s": generated,
            "copy_s": copied}


def copy_cases_and_events(conn: Any, cases: pd.DataFrame, events: pd.DataFrame) -> None:
    """COPY synthetic cases (with their ``status``) and their events straight into cases and
    case_event, the sequence moved past them (also used by bench/stats_fold.py)."""
    version = conn.execute("SELECT id FROM boundary_version WHERE level = 'grid' AND valid_to IS NULL").fetchone()
    reported = pd.Series(cases["reported_at"].to_numpy().astype("datetime64[s]"))
    out = pd.DataFrame({
        "id": cases["id"], "case_no": cases["case_no"], "source": "12345", "external_id": cases["case_no"],
        "category_code": cases["category_code"], "urgency": "general",
        "reported_at": reported.astype(str) + "+00:00",
        "geom": "SRID=4326;POINT(" + cases["lon"].astype(str) + " " + cases["lat"].astype(str) + ")",
        "orig_x": cases["lon"], "orig_y": cases["lat"], "orig_crs": "wgs84", "grid_code": cases["grid_code"],
        "community_code": cases["grid_code"].str[:12], "street_code": cases["grid_code"].str[:9],
        "district_code": cases["grid_code"].str[:6], "boundary_version_id": version[0] if version else None,
        "lead_department": cases["lead_department"], "routing_rule": "citywide", "status": cases["status"],
        "dispatch_due": (reported + np.timedelta64(2, "h")).astype(str) + "+00:00",
    })
    _copy(conn, "cases", list(out.columns), out)
    conn.execute("SELECT setval(pg_get_serial_sequence('cases', 'id'), (SELECT max(id) FROM cases))")
    ev = events.assign(at=_iso(events["at"].to_numpy()), actor_name="bench")
    columns = ["case_id", "at", "actor_name", "action", "from_status", "to_status", "details"]
    _copy(conn, "case_event", columns, ev[columns])


def _whistle_rows(conn: Any, whistle: dict[str, Any], cases: pd.DataFrame) -> int:
    user = conn.execute("INSERT INTO app_user (username, password_hash, role, scope) "
                        "VALUES ('bench_leader', 'x', 'street_leader', '110102') RETURNING id").fetchone()[0]
    case_ids = whistle["case"]
    if not len(case_ids):
        return 0
    ids = np.arange(1, len(case_ids) + 1)
    at = pd.Series(whistle["at"].astype("datetime64[s]"))
    leads = cases["lead_department"].to_numpy()[case_ids - 1]
    w = pd.DataFrame({"id": ids, "street_code": cases["grid_code"].to_numpy()[case_ids - 1].astype(str),
                      "reason": "群众诉求", "lead_department": leads, "co_departments": "{GA}", "created_by": user,
                      "created_at": at.astype(str) + "+00:00"})
    w["street_code"] = w["street_code"].str[:9]
    _copy(conn, "whistle", list(w.columns), w)
    _copy(conn, "whistle_case", ["whistle_id", "case_id"], pd.DataFrame({"w": ids, "c": case_ids}))
    rows = []
    for k, (mask, when) in enumerate(whistle["ins"]):
        came = mask[case_ids - 1]
        reported = pd.Series(when[case_ids - 1].astype("datetime64[s]")).astype(str) + "+00:00"
        due = at + pd.Timedelta(minutes=30)
        late = pd.Series(when[case_ids - 1].astype("datetime64[s]")) > due
        rows.append(pd.DataFrame({
            "whistle_id": ids, "department_code": leads if k == 0 else "GA", "role": "lead" if k == 0 else "co",
            "due_at": due.astype(str) + "+00:00", "reported_at": reported.where(came, None),
            "late": late.where(came, None)}))
    summons = pd.concat(rows, ignore_index=True).drop_duplicates(["whistle_id", "department_code"])
    _copy(conn, "whistle_summons", list(summons.columns), summons)
    conn.execute("SELECT setval(pg_get_serial_sequence('whistle', 'id'), (SELECT max(id) FROM whistle))")
    return len(ids)


# --- timing ---------------------------------------------------------------------------------------


def _timed(engine: Any, call: Any, *, commit: bool = False) -> tuple[float, Any]:
    from sqlalchemy.orm import Session

    with Session(engine) as session:
        t = time.perf_counter()
        out = call(session)
        seconds = time.perf_counter() - t
        if commit:
            session.commit()
    return seconds, out


def run(pg: Cluster, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    from geo.services import stats as svc
    from geo.store.db import make_engine

    log(f"PostgreSQL {pg.versions()[0]} on 127.0.0.1:{pg.port}, options {', '.join((*Cluster.OPTIONS, *args.pg_opt))}")
    t = time.perf_counter()
    bounds = common.make_boundaries(work, args.grids, seed=args.seed)
    common.prepare_database(pg, "stats", bounds, work)
    log(f"[setup] {len(bounds.grids):,} grids loaded in {time.perf_counter() - t:.1f} s")
    results["grids"] = len(bounds.grids)
    results["setup"] = load_history(pg.url("stats"), bounds, args.cases, args.seed)
    pg.query("stats", "CHECKPOINT")
    engine = make_engine(pg.sqlalchemy_url("stats"), pool_size=1)
    figures: dict[str, Any] = {}
    try:
        seconds, frame = _timed(engine, lambda s: svc.boundary_measures(s, "grid"), commit=True)
        figures["cold grid (fold 1 M cases from events + measures)"] = seconds
        log(f"\n[cold] boundary_measures(grid), case_fact folded from every event: {seconds:.2f} s "
            f"({len(frame):,} rows, {int(frame['cases_total'].sum()):,} cases, "
            f"{int(frame['rank'].notna().sum()):,} ranked)")
        pg.query("stats", "VACUUM ANALYZE case_fact")
        calls = {
            "grid": lambda s: svc.boundary_measures(s, "grid"),
            "grid, one month": lambda s: svc.boundary_measures(s, "grid", date_from=_months_ago(2),
                                                               date_to=_months_ago(1)),
            "street": lambda s: svc.boundary_measures(s, "street"),
            "departments": lambda s: svc.department_measures(s),
            "monthly_trend(district)": lambda s: svc.monthly_trend(s, "district", "110102"),
        }
        log(f"\n[warm] {args.repeat} calls each (each in its own session; catch-up finds nothing new)")
        for name, call in calls.items():
            times = [_timed(engine, call)[0] for _ in range(args.repeat)]
            figures[f"warm {name}"] = {"best": min(times), "median": statistics.median(times)}
            verdict = "MET" if statistics.median(times) < GOAL_SECONDS else "NOT MET"
            log(f"    {name:<28} best {min(times):6.3f} s   median {statistics.median(times):6.3f} s   "
                f"goal < {GOAL_SECONDS:.0f} s: {verdict}")
        added = _append_events(pg, 2_000)
        seconds, _ = _timed(engine, lambda s: svc.boundary_measures(s, "grid"), commit=True)
        figures["grid after 2,000 new events (incremental catch-up)"] = seconds
        log(f"\n[incremental] {added:,} new events on {added:,} cases, then boundary_measures(grid): {seconds:.2f} s")
        seconds, cases = _timed(engine, svc.rebuild_facts, commit=True)
        figures["rebuild_facts (audit path)"] = seconds
        log(f"[rebuild] rebuild_facts: {seconds:.2f} s ({cases:,} cases)")
    finally:
        engine.dispose()
    results["figures"] = figures


def _months_ago(k: int) -> Any:
    today = pd.Timestamp.now(tz="Asia/Shanghai").normalize()
    return (today - pd.DateOffset(months=k)).date()


def _append_events(pg: Cluster, n: int) -> int:
    """Callbacks on n closed cases, as the API would write them (ids above the watermark)."""
    rows = pg.query("stats", "SELECT id FROM cases WHERE status = 'closed' ORDER BY id LIMIT %s", (n,))
    ids = [r[0] for r in rows]
    pg.query("stats", """
        INSERT INTO case_event (case_id, actor_name, action, from_status, to_status, details)
        SELECT id, 'bench', 'callback', 'closed', 'closed',
               '{"contacted": true, "solved": true, "satisfied": true}'::jsonb
        FROM unnest(%s::bigint[]) id""", (ids,))
    return len(ids)


if __name__ == "__main__":
    sys.exit(main())
