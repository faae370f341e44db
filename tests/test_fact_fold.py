"""The statistics fold (geo.domain.facts + geo.store.fact_copy) gives every case_fact column the
SQL fold gave (tests/fold_sql.py, frozen before the fold became numpy), on random histories of
every action in any order — odd ones included (a response before any dispatch, two reopens, a
callback without answers, a clock without deadlines) — and on the workflow's own histories; and
bench/stats_fold.py's quick mode (its own cluster, 2,000 cases with whole histories) agrees too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text

from geo.domain import facts
from geo.domain.stats import REPEAT_RADIUS_M
from geo.domain.statuses import STATES
from geo.domain.workflow import ACTIONS
from geo.services import cases
from geo.store import stats as store
from tests.fold_sql import OLD_FOLD_SQL, old_flag_all
from tests.test_stats import A_POINT, C_POINT, F_POINT, G_POINT, make_history

ROOT = Path(__file__).resolve().parents[1]
START = datetime(2026, 3, 1, tzinfo=UTC)
#: Every action the workflow knows, the import's receive and words it does not know.
EVENT_ACTIONS = ("receive", *ACTIONS, "whistle", "check_in", "renamed")


def _old_facts(session) -> pd.DataFrame:
    """case_fact as the SQL fold wrote it (a rebuild, on the same transaction's data)."""
    session.execute(text("TRUNCATE case_fact"))
    store._temp_tables(session)
    old_flag_all(session)
    session.execute(text(OLD_FOLD_SQL.format(events="case_event e")), {"cell": REPEAT_RADIUS_M})
    return store.facts_frame(session)


def _details(rng: np.random.Generator, action: str, at: datetime) -> dict:
    if action in ("dispatch", "reopen", "receive") or rng.random() < 0.05:
        due = {"respond_due": (at + timedelta(hours=int(rng.integers(-5, 48)))).isoformat(),
               "resolve_due": (at + timedelta(days=int(rng.integers(1, 15)))).isoformat()}
        return {k: v for k, v in due.items() if rng.random() < 0.85}  # sometimes without one or both
    if action == "callback" or rng.random() < 0.05:
        return {k: bool(rng.random() < 0.6) for k in facts.ANSWERS if rng.random() < 0.85}
    return {"reason": "x"} if rng.random() < 0.5 else {}


def _random_events(session, rng: np.random.Generator, case_ids: list[int], n: int) -> None:
    statuses = [*STATES, None, None]
    rows = []
    for _ in range(n):
        action = str(rng.choice(EVENT_ACTIONS))
        at = START + timedelta(minutes=int(rng.integers(0, 60 * 24 * 40)))  # times not in id order
        to = rng.choice(len(statuses))
        rows.append({"case_id": int(rng.choice(case_ids)), "at": at, "action": action,
                     "to_status": statuses[to], "details": json.dumps(_details(rng, action, at))})
    session.execute(text("INSERT INTO case_event (case_id, at, action, to_status, details) "
                         "VALUES (:case_id, :at, :action, :to_status, CAST(:details AS jsonb))"), rows)


def _cases(session, rng: np.random.Generator, n: int) -> list[int]:
    ids = []
    points = (A_POINT, C_POINT, F_POINT, G_POINT)
    for _ in range(n):
        lon, lat = points[int(rng.integers(len(points)))]
        created = cases.create_case(session, cases.NewCase(
            lon=lon + float(rng.normal(0, 0.0002)), lat=lat + float(rng.normal(0, 0.0002)), category="0101",
            reported_at=START + timedelta(hours=int(rng.integers(0, 24 * 60)))), user=None)
        found = session.execute(text("SELECT id FROM cases WHERE case_no = :no"), {"no": created["id"]})
        ids.append(found.scalar_one())
    return ids


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_histories_fold_as_the_sql_did(routed, seed):
    rng = np.random.default_rng(seed)
    ids = _cases(routed, rng, 25)
    _random_events(routed, rng, ids, 400)
    assert store.rebuild(routed) == 25
    new = store.facts_frame(routed)
    old = _old_facts(routed)
    pd.testing.assert_frame_equal(new, old)
    for column in ("responded_at", "respond_clock_at", "resolved_at", "callback_solved", "is_repeat"):
        assert new[column].notna().any() and new[column].nunique() > 1, column  # the histories reach them


def test_catch_up_folds_as_the_sql_did(routed):
    rng = np.random.default_rng(7)
    ids = _cases(routed, rng, 12)
    store.catch_up(routed)
    for _ in range(3):  # incremental: some cases touched again, the upsert path
        _random_events(routed, rng, ids[: int(rng.integers(2, 12))], 60)
        store.catch_up(routed)
    new = store.facts_frame(routed)
    pd.testing.assert_frame_equal(new, _old_facts(routed))


def test_workflow_histories_fold_as_the_sql_did(routed):
    make_history(routed)
    store.rebuild(routed)
    pd.testing.assert_frame_equal(store.facts_frame(routed), _old_facts(routed))


def test_an_unknown_status_is_refused_not_miscounted(routed):
    ids = _cases(routed, np.random.default_rng(3), 1)
    routed.execute(text("INSERT INTO case_event (case_id, action, to_status) VALUES (:c, 'note', 'lost')"),
                   {"c": ids[0]})
    with pytest.raises(ValueError, match="status vocabulary"):
        store.rebuild(routed)


def test_the_pure_fold_reads_each_case_in_id_order():
    d, r, resolve = facts.code("dispatch"), facts.code("respond"), facts.code("resolve")
    events = {  # case 5: dispatch, respond, resolve (resolved); case 2: reopen after resolve (dispatched)
        "case_id": np.array([5, 2, 5, 2, 5, 2, 2]), "event_id": np.array([3, 9, 1, 1, 2, 4, 2]),
        "at": np.array([30, 90, 10, 11, 20, 40, 21]), "action": np.array([resolve, d, d, d, r, facts.code("reopen"),
                                                                         resolve]),
        "to_status": np.array([6, 0, 2, 2, 4, 2, 6]),
        "respond_due": np.array([facts.NO_TIME, 95, 15, 16, facts.NO_TIME, 45, facts.NO_TIME]),
        "resolve_due": np.array([facts.NO_TIME, 99, 50, 60, facts.NO_TIME, 70, facts.NO_TIME]),
        "callback": np.zeros(7, dtype=np.int64)}
    out = facts.fold(events)
    assert out["case_id"].tolist() == [2, 5] and out["last_event_id"].tolist() == [9, 3]
    assert out["status"].tolist() == [2, 6]  # case 2's last event sets no status: the reopen's stands
    assert out["resolved_at"].tolist() == [facts.NO_TIME, 30]  # reopened: no longer resolved
    assert out["dispatched_at"].tolist() == [11, 10] and out["clock_at"].tolist() == [90, 10]
    assert out["respond_due"].tolist() == [95, 15] and out["responded_at"].tolist() == [facts.NO_TIME, 20]
    assert out["respond_clock_due"].tolist() == [facts.NO_TIME, 15]


def test_callback_answers_round_trip():
    packed = np.array([facts.pack_answers(True, None, False), -1])
    assert {k: v.tolist() for k, v in facts.answers(packed).items()} == {
        "contacted": [1, -1], "solved": [-1, -1], "satisfied": [0, -1]}


def test_bench_quick_mode_agrees():
    """bench/stats_fold.py --quick: its own cluster, 2,000 cases with whole histories, both folds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_") and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "stats_fold.py"), "--quick"], env=env,
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "every case_fact column identical: True" in proc.stdout


def test_the_fold_does_not_depend_on_the_order_events_come_in():
    rng = np.random.default_rng(5)
    n = 5_000
    events = {"case_id": rng.integers(1, 300, n), "event_id": np.arange(1, n + 1), "at": rng.integers(0, 10**9, n),
              "action": rng.integers(0, len(facts.ACTIONS) + 1, n), "to_status": rng.integers(0, 12, n),
              "respond_due": rng.integers(0, 10**9, n), "resolve_due": rng.integers(0, 10**9, n),
              "callback": rng.integers(0, 27, n)}
    shuffled = rng.permutation(n)  # ids out of order: the lexsort path; in order: the one-sort path
    in_order, out_of_order = facts.fold(events), facts.fold({k: v[shuffled] for k, v in events.items()})
    assert in_order.keys() == out_of_order.keys()
    for name, values in in_order.items():
        assert values.tolist() == out_of_order[name].tolist(), name
