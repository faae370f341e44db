"""Measures: rates worked out by hand on a tiny history made through the real workflow services,
the pure rules of geo.domain.stats, and case_fact folded incrementally equal to a rebuild from events.

The history (times Beijing, 2026; 0101 暴露垃圾 is 'general': respond within 24 h, resolve within
7 natural days of dispatch; its lead department is CGW):

    grid E  = 110101002001002 (east street 110101002)
      A  reported 03-02 09:00  dispatch 03-02 10:00  respond 03-02 12:00 (2 h, on time)
         resolve 03-03 10:00 (24 h; due 03-09 10:00)  check, close, callback: solved, satisfied
      B  reported 03-05 09:00 at A's point (a repeat of A)  dispatch 03-05 10:00
         respond 03-07 10:00 (48 h, late)  resolve 03-13 10:00 (192 h; due 03-12 10:00, late)
         check, close, callback: solved, not satisfied
      C  reported 03-10 09:00, ~85 m east of A  dispatch 03-10 10:00, signed only (due 03-17)
         whistle 03-10 11:00 (lead CGW, co HBJ; arrive by 11:30): CGW checks in 11:10, HBJ 11:40
      D  reported 04-15 09:00 at A's point (41 days after B: no repeat)  dispatch 04-15 10:00
         respond 04-15 11:00 (on time)  resolve 04-16 10:00, check, close,
         callback: contacted, not solved, not satisfied; reopen 04-17 10:00 (→ dispatched)
    grid E2 = 110101002001001 (east street)
      F  reported 03-04 09:00  dispatch, respond 1 h, resolve 03-05, check, close,
         callback: solved, satisfied
    grid W  = 110101001001001 (west street 110101001)
      G  reported 03-03 09:00, never dispatched

Request types (诉求类型): A, B and G complaints (投诉), C a request for help (求助), D a consultation
(咨询), F none.

Measures are taken as of 2026-04-30 00:00 Beijing.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.domain import stats
from geo.domain.errors import InvalidInput
from geo.services import accounts, cases, whistles, workflow
from geo.services import stats as service
from geo.store import stats as store
from tests.conftest import load_tiny_hierarchy, load_tiny_reference

BJ = timezone(timedelta(hours=8))
AS_OF = datetime(2026, 4, 30, tzinfo=BJ)
MARCH = {"date_from": date(2026, 3, 1), "date_to": date(2026, 3, 31)}
A_POINT = (116.3175, 39.9025)  # grid E
C_POINT = (116.3185, 39.9025)  # grid E, ~85 m east
F_POINT = (116.3125, 39.9025)  # grid E2
G_POINT = (116.3025, 39.9025)  # grid W
E, E2, W = "110101002001002", "110101002001001", "110101001001001"
REQUEST_TYPES = {"A": "complaint", "B": "complaint", "G": "complaint", "C": "help", "D": "consult"}
EAST, WEST = "110101002", "110101001"


def t(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BJ)


class History:
    def __init__(self, session) -> None:
        self.s = session
        self.east = accounts.create_user(session, "east_lead", role="street_leader", scope=EAST, password="pw-123456")
        self.west = accounts.create_user(session, "west_lead", role="street_leader", scope=WEST, password="pw-123456")
        self.cgw = accounts.create_user(session, "cgw_staff", role="department_staff", department="CGW",
                                        password="pw-123456")
        self.hbj = accounts.create_user(session, "hbj_staff", role="department_staff", department="HBJ",
                                        password="pw-123456")
        self.hotline = accounts.create_user(session, "hotline", role="hotline", password="pw-123456")
        self.ids: dict[str, str] = {}

    def case(self, name: str, point: tuple[float, float], reported: datetime, leader=None) -> str:
        created = cases.create_case(self.s, cases.NewCase(lon=point[0], lat=point[1], category="0101",
                                                          reported_at=reported, request_type=REQUEST_TYPES.get(name)),
                                    user=leader or self.east)
        self.ids[name] = created["id"]
        return created["id"]

    def act(self, name: str, steps: list[tuple[str, datetime]], *, callback: dict | None = None) -> None:
        for action, at in steps:
            who = self.cgw if action in ("sign", "respond", "start", "resolve") else self.east
            who = self.hotline if action == "callback" else who
            workflow.act(self.s, who, self.ids[name], action, now=at,
                         note="原因" if action in ("reopen", "resolve") else "",
                         callback=callback if action == "callback" else None)

    def done(self, name: str, dispatch: datetime, respond: datetime, resolve: datetime, answers: dict) -> None:
        self.act(name, [("dispatch", dispatch), ("sign", dispatch + timedelta(minutes=5)), ("respond", respond),
                        ("start", respond + timedelta(minutes=5)), ("resolve", resolve),
                        ("check", resolve + timedelta(hours=1)), ("close", resolve + timedelta(hours=2)),
                        ("callback", resolve + timedelta(hours=3))], callback=answers)


def make_history(session, *, refresh_between: bool = False) -> History:
    h = History(session)
    refresh = (lambda: service.refresh_facts(session)) if refresh_between else (lambda: None)
    h.case("A", A_POINT, t(3, 2, 9))
    h.done("A", t(3, 2, 10), t(3, 2, 12), t(3, 3, 10), {"contacted": True, "solved": True, "satisfied": True})
    refresh()
    h.case("B", A_POINT, t(3, 5, 9))
    h.done("B", t(3, 5, 10), t(3, 7, 10), t(3, 13, 10), {"contacted": True, "solved": True, "satisfied": False})
    h.case("C", C_POINT, t(3, 10, 9))
    h.act("C", [("dispatch", t(3, 10, 10)), ("sign", t(3, 10, 10, 5))])
    refresh()
    w = whistles.blow(session, h.east, case_nos=[h.ids["C"]], lead="CGW", co=["HBJ"], reason="群众诉求",
                      now=t(3, 10, 11))
    whistles.report(session, h.cgw, w["id"], lon=C_POINT[0], lat=C_POINT[1], now=t(3, 10, 11, 10))
    whistles.report(session, h.hbj, w["id"], lon=C_POINT[0], lat=C_POINT[1], now=t(3, 10, 11, 40))
    h.case("D", A_POINT, t(4, 15, 9))
    h.done("D", t(4, 15, 10), t(4, 15, 11), t(4, 16, 10), {"contacted": True, "solved": False, "satisfied": False})
    refresh()
    h.act("D", [("reopen", t(4, 17, 10))])
    h.case("F", F_POINT, t(3, 4, 9))
    h.done("F", t(3, 4, 10), t(3, 4, 11), t(3, 5, 10), {"contacted": True, "solved": True, "satisfied": True})
    h.case("G", G_POINT, t(3, 3, 9), leader=h.west)
    return h


@pytest.fixture
def history(routed):
    return make_history(routed)


def row(frame: pd.DataFrame, code: str) -> pd.Series:
    found = frame[frame["code"] == code]
    assert len(found) == 1, f"{code} not in {frame['code'].tolist()}"
    return found.iloc[0]


def default_score(response: float, resolution: float, satisfaction: float) -> float:
    return 0.10 * response + 0.45 * resolution + 0.45 * satisfaction


# --- by hand, through the services ----------------------------------------------------------------


def test_street_rates_in_march(history, routed):
    frame = service.boundary_measures(routed, "street", **MARCH, as_of=AS_OF)
    east = row(frame, EAST)
    # A, B, C (grid E) and F (grid E2) were reported in March; D in April.
    assert east["cases_total"] == 4
    assert (east["responded_on_time"], east["dispatched"]) == (2, 4)  # A and F on time; B late; C never
    assert east["response_rate"] == pytest.approx(2 / 4)
    assert (east["callbacks_solved"], east["callbacks_answered"]) == (3, 3)  # A, B, F
    assert east["resolution_rate"] == pytest.approx(1.0)
    assert east["callbacks_satisfied"] == 2  # A, F
    assert east["satisfaction_rate"] == pytest.approx(2 / 3)
    # Due in March: A (03-09), B (03-12), C (03-17), F (03-11); A and F resolved in time.
    assert (east["resolved_on_time"], east["cases_due"]) == (2, 4)
    assert east["on_time_rate"] == pytest.approx(0.5)
    # Summons due 03-10 11:30: CGW at 11:10 (on time), HBJ at 11:40 (late).
    assert (east["checked_in_on_time"], east["summons"], east["check_in_rate"]) == (1, 2, pytest.approx(0.5))
    assert east["score"] == pytest.approx(default_score(2 / 4, 1.0, 2 / 3))


def test_street_rates_in_march_of_complaints_only(history, routed):
    east = row(service.boundary_measures(routed, "street", **MARCH, as_of=AS_OF, request_type="complaint"), EAST)
    assert east["cases_total"] == 2  # A and B; C asks for help and F has no type
    assert (east["responded_on_time"], east["dispatched"]) == (1, 2)
    assert (east["callbacks_solved"], east["callbacks_satisfied"], east["callbacks_answered"]) == (2, 1, 2)
    assert (east["resolved_on_time"], east["cases_due"]) == (1, 2)
    assert east["summons"] == 0 and pd.isna(east["check_in_rate"])  # the whistle was for C
    assert row(service.boundary_measures(routed, "street", **MARCH, as_of=AS_OF, request_type="投诉"),
               WEST)["cases_total"] == 1  # G
    help_ = row(service.boundary_measures(routed, "street", **MARCH, as_of=AS_OF, request_type="help"), EAST)
    assert (help_["cases_total"], help_["checked_in_on_time"], help_["summons"]) == (1, 1, 2)


def test_department_measures_and_trend_of_one_request_type(history, routed):
    cgw = row(service.department_measures(routed, **MARCH, as_of=AS_OF, request_type="help"), "CGW")
    assert (cgw["cases_total"], cgw["summons"], cgw["checked_in_on_time"]) == (1, 1, 1)  # C; CGW on time
    hbj = row(service.department_measures(routed, **MARCH, as_of=AS_OF, request_type="complaint"), "HBJ")
    assert hbj["summons"] == 0
    trend = service.monthly_trend(routed, "street", EAST, months=2, as_of=AS_OF, request_type="consult")
    assert trend["cases_total"].tolist() == [0, 1]  # D, in April


def test_an_unknown_request_type_is_refused(history, routed):
    with pytest.raises(InvalidInput) as refused:
        service.boundary_measures(routed, "street", request_type="praise")
    assert refused.value.field == "request_type"


def test_medians_overdue_repeats_and_counts(history, routed):
    grid = row(service.boundary_measures(routed, "grid", **MARCH, as_of=AS_OF), E)
    assert grid["cases_total"] == 3
    assert grid["median_hours_to_respond"] == pytest.approx((2 + 48) / 2)  # A 2 h, B 48 h; C none
    assert grid["median_hours_to_resolve"] == pytest.approx((24 + 192) / 2)  # A 24 h, B 192 h
    assert grid["overdue"] == 1  # C: signed, respond and resolve clocks ran out before 04-30
    assert grid["repeat_cases"] == 1  # B repeats A (same place, 3 days later); C is 85 m away
    assert grid["status_closed"] == 2 and grid["status_signed"] == 1 and grid["status_received"] == 0
    assert grid["category_0101"] == 3 and grid["category_0102"] == 0


def test_zero_denominators_give_empty_rates_and_no_rank(history, routed):
    west = row(service.boundary_measures(routed, "street", **MARCH, as_of=AS_OF), WEST)
    assert (west["cases_total"], west["dispatched"], west["callbacks_answered"]) == (1, 0, 0)
    for column in ("response_rate", "resolution_rate", "satisfaction_rate", "on_time_rate", "check_in_rate",
                   "score", "rank", "rank_in_parent", "median_hours_to_respond"):
        assert pd.isna(west[column]), column


def test_boundaries_without_cases_are_rows_too(history, routed):
    frame = service.boundary_measures(routed, "grid", **MARCH, as_of=AS_OF)
    assert len(frame) == 8  # every grid of the tiny hierarchy
    empty = row(frame, "110101001002002")
    assert empty["cases_total"] == 0 and pd.isna(empty["response_rate"])
    assert empty["parent_code"] == "110101001002" and empty["name"] == "网格002002"


def test_ranks_and_weights(history, routed):
    default = service.boundary_measures(routed, "grid", **MARCH, as_of=AS_OF)
    e, e2 = row(default, E), row(default, E2)
    assert e2["score"] == pytest.approx(default_score(1.0, 1.0, 1.0))  # F: all on time, solved, satisfied
    assert e["score"] == pytest.approx(default_score(1 / 3, 1.0, 1 / 2))
    assert (e2["rank"], e["rank"]) == (1, 2)
    assert int(default["rank"].notna().sum()) == 2  # the other grids have no callbacks: no score
    # Weighing resolution only, E and E2 tie (both 100 % solved) and share rank 1.
    solved_only = service.boundary_measures(routed, "grid", **MARCH, as_of=AS_OF,
                                            weights={"response": 0, "resolution": 1, "satisfaction": 0})
    assert row(solved_only, E)["score"] == pytest.approx(1.0)
    assert (row(solved_only, E)["rank"], row(solved_only, E2)["rank"]) == (1, 1)
    # Weighing response only: E 1/3, E2 1, and G's grid W has no dispatched case (still unranked).
    response_only = service.boundary_measures(routed, "grid", **MARCH, as_of=AS_OF,
                                              weights={"response": 2, "resolution": 0, "satisfaction": 0})
    assert row(response_only, E)["score"] == pytest.approx(1 / 3)
    assert pd.isna(row(response_only, W)["rank"])


def test_rank_in_parent(history, routed):
    frame = service.boundary_measures(routed, "grid", **MARCH, as_of=AS_OF)
    # E and E2 are both in community 110101002001: E2 first, E second.
    assert (row(frame, E2)["rank_in_parent"], row(frame, E)["rank_in_parent"]) == (1, 2)


def test_date_range(history, routed):
    whole = row(service.boundary_measures(routed, "grid", as_of=AS_OF), E)
    april = row(service.boundary_measures(routed, "grid", date_from=date(2026, 4, 1), as_of=AS_OF), E)
    assert whole["cases_total"] == 4 and april["cases_total"] == 1  # D only
    # Whole range: D answered (not solved, not satisfied) and its first response was on time.
    assert (whole["callbacks_answered"], whole["callbacks_solved"], whole["callbacks_satisfied"]) == (3, 2, 1)
    assert (whole["responded_on_time"], whole["dispatched"]) == (2, 4)
    # D was reopened on 04-17: dispatched again, its new respond clock ran out → overdue, unresolved.
    assert april["overdue"] == 1 and april["status_dispatched"] == 1
    assert april["cases_due"] == 1 and april["resolved_on_time"] == 0  # due again 04-24, not resolved
    one_day = row(service.boundary_measures(routed, "grid", date_from=date(2026, 3, 5), date_to=date(2026, 3, 5),
                                            as_of=AS_OF), E)
    assert one_day["cases_total"] == 1  # B (reported 03-05 09:00 Beijing = 03-05 01:00 UTC)


def test_scope_keeps_rows_but_not_ranks(history, routed):
    everyone = service.boundary_measures(routed, "grid", **MARCH, as_of=AS_OF)
    scoped = service.boundary_measures(routed, "grid", **MARCH, scope="110101002001", as_of=AS_OF)
    assert sorted(scoped["code"]) == [E2, E]
    assert row(scoped, E)["rank"] == row(everyone, E)["rank"]


def test_department_row(history, routed):
    frame = service.department_measures(routed, **MARCH, as_of=AS_OF)
    cgw = row(frame, "CGW")
    assert cgw["name"] == "城管委" and cgw["cases_total"] == 5  # A, B, C, F, G (all 0101)
    assert (cgw["responded_on_time"], cgw["dispatched"]) == (2, 4)
    assert (cgw["checked_in_on_time"], cgw["summons"]) == (1, 1)
    assert cgw["score"] == pytest.approx(default_score(2 / 4, 1.0, 2 / 3))
    hbj = row(frame, "HBJ")
    assert (hbj["cases_total"], hbj["checked_in_on_time"], hbj["summons"]) == (0, 0, 1)
    assert hbj["check_in_rate"] == 0.0 and pd.isna(hbj["response_rate"])
    assert pd.isna(row(frame, "GA")["check_in_rate"])  # never summoned
    assert row(frame, "GA-W")["parent_code"] == "GA"
    assert cgw["rank"] == 1 and int(frame["rank"].notna().sum()) == 1


def test_monthly_trend(history, routed):
    trend = service.monthly_trend(routed, "street", EAST, months=3, as_of=AS_OF)
    assert trend["month"].tolist() == ["2026-02", "2026-03", "2026-04"]
    assert trend["cases_total"].tolist() == [0, 4, 1]
    feb, march, april = (trend.iloc[i] for i in range(3))
    assert pd.isna(feb["response_rate"]) and pd.isna(feb["score"])
    assert march["response_rate"] == pytest.approx(2 / 4)
    assert april["resolution_rate"] == 0.0 and april["satisfaction_rate"] == 0.0
    assert april["response_rate"] == 1.0


def test_bad_level_and_weights_are_refused(routed):
    with pytest.raises(InvalidInput):
        service.boundary_measures(routed, "province")
    with pytest.raises(InvalidInput):
        service.boundary_measures(routed, "grid", weights={"response": -1})
    with pytest.raises(InvalidInput):
        service.boundary_measures(routed, "grid", date_from=date(2026, 3, 2), date_to=date(2026, 3, 1))


def test_column_order_and_headers(history, routed):
    frame = service.boundary_measures(routed, "district", as_of=AS_OF)
    assert list(frame.columns[:4]) == ["code", "name", "parent_code", "cases_total"]
    assert list(frame.columns[:len(stats.COLUMNS)]) == list(stats.COLUMNS)
    for rate, numerator, denominator in stats.RATES:
        assert {rate, numerator, denominator} <= set(frame.columns)
    names = service.headers(routed, frame)
    assert names["response_rate"] == "响应率" and names["category_0101"] == "分类：暴露垃圾"


# --- case_fact: incremental == rebuild, gaps -----------------------------------------------------


def test_incremental_facts_equal_a_rebuild(routed):
    make_history(routed, refresh_between=True)
    service.refresh_facts(routed)
    incremental = store.facts_frame(routed)
    assert len(incremental) == 6
    assert sorted(incremental["request_type"].fillna("-")) == ["-", "complaint", "complaint", "complaint", "consult",
                                                               "help"]
    assert service.rebuild_facts(routed) == 6
    rebuilt = store.facts_frame(routed)
    pd.testing.assert_frame_equal(incremental, rebuilt)
    assert incremental["is_repeat"].sum() == 1


def test_facts_follow_the_events(history, routed):
    service.refresh_facts(routed)
    facts = store.facts_frame(routed).set_index("case_id")
    ids = dict(routed.execute(text("SELECT case_no, id FROM cases")).all())
    d = facts.loc[ids[history.ids["D"]]]
    assert d["status"] == "dispatched" and pd.isna(d["resolved_at"])
    assert d["clock_at"] == t(4, 17, 10) and d["respond_clock_at"] == t(4, 15, 10)
    assert d["resolve_due"] == t(4, 24, 10)
    assert (d["callback_contacted"], d["callback_solved"]) == (True, False)


def _holes_containing(session, event_id: int) -> int:
    return session.execute(text("SELECT count(*) FROM case_fact_gap WHERE :id BETWEEN first_id AND last_id"),
                           {"id": event_id}).scalar_one()


def test_an_event_committed_below_the_watermark_is_not_lost(fresh_db, tmp_path):
    """A writer draws an event id, a later writer commits first and a catch-up moves the watermark
    past the first id; when the first writer commits, the next catch-up still folds its event. A hole
    left by a rolled-back writer is forgotten once nothing older runs."""
    engine = create_engine(fresh_db)
    nextval = text("SELECT nextval(pg_get_serial_sequence('case_event', 'id'))")
    try:
        with Session(engine) as s, s.begin():
            load_tiny_hierarchy(s, tmp_path)
            load_tiny_reference(s, tmp_path / "reference")
            h = History(s)
            h.case("A", A_POINT, t(3, 2, 9))
            h.case("B", F_POINT, t(3, 2, 9))
            b_id = s.execute(text("SELECT id FROM cases WHERE case_no = :no"), {"no": h.ids["B"]}).scalar_one()
        with engine.connect() as slow:
            slow_tx = slow.begin()
            slow.execute(text("SELECT pg_current_xact_id()"))  # writers hold an xid before drawing ids
            early = slow.execute(nextval).scalar_one()
            with Session(engine) as s, s.begin():
                workflow.act(s, h.east, h.ids["A"], "dispatch", now=t(3, 2, 10))
            with Session(engine) as s, s.begin():
                service.refresh_facts(s)
                assert _holes_containing(s, early) == 1
                assert store.facts_frame(s)["status"].tolist() == ["dispatched", "received"]
            slow.execute(text("INSERT INTO case_event (id, case_id, action, from_status, to_status, at) "
                              "VALUES (:id, :case, 'void', 'received', 'void', :at)"),
                         {"id": early, "case": b_id, "at": t(3, 2, 11)})
            slow_tx.commit()
        with Session(engine) as s, s.begin():
            service.refresh_facts(s)
            assert store.facts_frame(s)["status"].tolist() == ["dispatched", "void"]
            assert _holes_containing(s, early) == 0
        with engine.connect() as failed:
            failed_tx = failed.begin()
            failed.execute(text("SELECT pg_current_xact_id()"))
            lost = failed.execute(nextval).scalar_one()
            with Session(engine) as s, s.begin():
                workflow.act(s, h.cgw, h.ids["A"], "sign", now=t(3, 2, 12))
            with Session(engine) as s, s.begin():
                service.refresh_facts(s)
                assert _holes_containing(s, lost) == 1
            failed_tx.rollback()
        # The hole of a rolled-back id closes once every snapshot that could still see it as running
        # is gone: transaction ids are the cluster's, so a test in another database (make test runs
        # two workers) can hold the horizon for a moment. Eventually, within seconds, it must close.
        deadline = time.monotonic() + 30
        while True:
            with Session(engine) as s, s.begin():
                service.refresh_facts(s)
            with Session(engine) as s:
                if _holes_containing(s, lost) == 0 or time.monotonic() > deadline:
                    break
            time.sleep(0.2)
        with Session(engine) as s:
            assert _holes_containing(s, lost) == 0
            assert store.facts_frame(s)["status"].tolist() == ["signed", "void"]
    finally:
        engine.dispose()


# --- pure ------------------------------------------------------------------------------------------


def test_rates_empty_denominator_is_na_not_zero():
    frame = stats.rates(pd.DataFrame({"responded_on_time": [0, 1, 0], "dispatched": [0, 4, 3]}))
    assert pd.isna(frame.loc[0, "response_rate"])
    assert frame.loc[1, "response_rate"] == 0.25 and frame.loc[2, "response_rate"] == 0.0


@pytest.mark.parametrize(("scores", "expected"), [
    ([0.9, 0.5, 0.9, 0.1], [1, 3, 1, 4]),
    ([None, 0.2, 0.2], [pd.NA, 1, 1]),
    ([0.1 + 0.2, 0.3], [1, 1]),  # equal on paper, different in the last bit
])
def test_rank_min_ties(scores, expected):
    got = stats.rank(pd.Series(scores, dtype="Float64")).tolist()
    assert [pd.isna(g) if pd.isna(e) else g == e for g, e in zip(got, expected, strict=True)] == [True] * len(got)


def test_score_weights_are_normalised_and_any_empty_weighted_rate_empties_it():
    frame = pd.DataFrame({"response_rate": [0.2, pd.NA], "resolution_rate": [0.6, 1.0],
                          "satisfaction_rate": [1.0, 1.0]}).astype("Float64")
    assert stats.score(frame, {"response": 1, "resolution": 1, "satisfaction": 2})[0] == pytest.approx(
        (0.2 + 0.6 + 2 * 1.0) / 4)
    assert pd.isna(stats.score(frame)[1])
    assert stats.score(frame, {"response": 0, "resolution": 1, "satisfaction": 1})[1] == pytest.approx(1.0)


def test_weights_refuse_nonsense():
    with pytest.raises(ValueError):
        stats.Weights(0, 0, 0)
    with pytest.raises(ValueError):
        stats.Weights.of({"speed": 1})


def test_period_bounds_are_beijing_days():
    start, end = stats.period_bounds(date(2026, 3, 5), date(2026, 3, 5))
    assert start == datetime(2026, 3, 4, 16, tzinfo=UTC)
    assert end - start == timedelta(days=1)
    assert stats.period_bounds(None, None) == (None, None)


@pytest.mark.parametrize(("dx", "days", "same_category", "expected"), [
    (49.0, 29, True, [False, True]),
    (49.0, 30, True, [False, True]),  # 30 days is still "within 30 days"
    (51.0, 1, True, [False, False]),  # too far
    (10.0, 31, True, [False, False]),  # too late
    (10.0, 1, False, [False, False]),  # another category
])
def test_repeat_flags(dx, days, same_category, expected):
    when = pd.to_datetime(["2026-03-01T00:00:00Z"] * 2) + pd.to_timedelta([0, days], unit="D")
    categories = ["0101", "0101" if same_category else "0102"]
    assert stats.repeat_flags(categories, when, [1000.0, 1000.0 + dx], [0.0, 0.0]).tolist() == expected


def test_repeat_flags_order_by_time_not_by_position():
    when = pd.to_datetime(["2026-03-10", "2026-03-01"], utc=True)
    assert stats.repeat_flags(["0101", "0101"], when, [0, 0], [0, 0]).tolist() == [True, False]


def test_headers_name_categories():
    got = stats.headers(["code", "score", "category_0602"], {"0602": "噪声扰民"})
    assert got == {"code": "编码", "score": "综合得分", "category_0602": "分类：噪声扰民"}


def test_finish_fills_missing_sums_with_zero_and_orders_columns():
    sums = pd.DataFrame({"code": ["1", "2"], "name": ["a", "b"], "parent_code": [None, None],
                         "cases_total": [3, np.nan], "category_0101": [3, np.nan]})
    out = stats.finish(sums)
    assert list(out.columns) == [*stats.COLUMNS, "category_0101"]
    assert out["cases_total"].tolist() == [3, 0] and out["category_0101"].tolist() == [3, 0]


# --- the SQL sums agree with the pandas reference ------------------------------------------------


def test_sql_sums_equal_the_pandas_reference(history, routed):
    sql = service.boundary_measures(routed, "grid", **MARCH, as_of=AS_OF).set_index("code")
    facts = store.facts_frame(routed)
    for column in ("reported_at", "resolve_due", "resolved_at", "responded_at", "respond_clock_due",
                   "respond_clock_at", "clock_at", "dispatched_at", "dispatch_due", "respond_due"):
        facts[column] = pd.to_datetime(facts[column], utc=True)
    summons = pd.DataFrame([dict(r) for r in routed.execute(text(
        "SELECT DISTINCT f.grid_code AS code, s.whistle_id, s.department_code, s.late, s.due_at "
        "FROM whistle_summons s JOIN whistle_case wc USING (whistle_id) JOIN case_fact f ON f.case_id = wc.case_id"
    )).mappings().all()])
    summons["due_at"] = pd.to_datetime(summons["due_at"], utc=True)
    # The whistle tables' own flag (not the events the SQL path reads): every summons here is past due.
    summons["outcome"] = summons["late"].map({False: "on_time", True: "late"}).fillna("missed")
    start, end = stats.period_bounds(**MARCH)
    ref = stats.aggregate_facts(facts, "grid_code", start=start, end=end, as_of=AS_OF, summons=summons)
    ref = stats.finish(ref.assign(name="", parent_code="")).set_index("code")
    for column in [c for c in stats.COLUMNS if c not in ("code", "name", "parent_code", "rank", "rank_in_parent")]:
        for code in ref.index:
            a, b = sql.loc[code, column], ref.loc[code, column]
            assert (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b), (code, column, a, b)
    flags = stats.repeat_flags(facts["category_code"], facts["reported_at"], facts["x"], facts["y"],
                               ids=facts["case_id"])
    assert flags.tolist() == facts["is_repeat"].tolist()


def _pairwise_repeats(category, reported_at, x, y, ids, radius_m, days):
    """Every pair of cases checked: the rule as written in DOMAIN.md, quadratic, for small inputs."""
    t = pd.to_datetime(pd.Series(reported_at), utc=True).dt.tz_convert(None).to_numpy()
    x, y, ids = np.asarray(x, float), np.asarray(y, float), np.asarray(ids)
    same = np.asarray(category)[:, None] == np.asarray(category)[None, :]
    close = (x[:, None] - x[None, :]) ** 2 + (y[:, None] - y[None, :]) ** 2 <= radius_m ** 2
    gap = t[:, None] - t[None, :]
    later = (gap > np.timedelta64(0)) | ((gap == np.timedelta64(0)) & (ids[:, None] > ids[None, :]))
    return (same & close & later & (gap <= np.timedelta64(days, "D"))).any(axis=1)


@pytest.mark.parametrize("seed", range(6))
def test_repeat_flags_equal_every_pair_checked_on_piled_up_and_spread_cases(seed):
    rng = np.random.default_rng(seed)
    n = 1500
    piled = rng.random(n) < 0.4  # many tickets at a few addresses, as real exports have
    addresses = rng.uniform(0, 400, (5, 2))
    pick = rng.integers(0, 5, n)
    x = np.where(piled, addresses[pick, 0] + rng.normal(0, 8, n), rng.uniform(-1000, 1000, n)) + 500_000
    y = np.where(piled, addresses[pick, 1] + rng.normal(0, 8, n), rng.uniform(-1000, 1000, n)) + 4_400_000
    seconds = rng.integers(0, 120 * 86_400, n)
    seconds[rng.random(n) < 0.05] = seconds[0]  # equal times: the id decides
    when = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(seconds, unit="s")
    category = rng.choice(["0101", "0102", "0602"], n)
    ids = rng.permutation(n) + 10
    got = stats.repeat_flags(category, when, x, y, ids=ids)
    want = _pairwise_repeats(category, when, x, y, ids, stats.REPEAT_RADIUS_M, stats.REPEAT_DAYS)
    assert 0 < want.sum() < n and got.tolist() == want.tolist()
