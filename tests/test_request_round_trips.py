"""What a request costs in round trips stays behaviour-neutral: the token's last use is committed
only when written (and then even if the request fails), and a create reads the holiday calendar
again as soon as it changed (a cached copy is used only while its stamp is the stored one)."""

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import event, text

# A point in grid 110101002001002 (east street, south community, east grid).
LON, LAT = 116.3175, 39.9025


def _last_used(session, username):
    return session.execute(text("SELECT t.last_used_at FROM api_token t JOIN app_user u ON u.id = t.user_id "
                                "WHERE u.username = :u"), {"u": username}).scalar_one()


def test_token_use_is_committed_once_even_when_the_request_fails_and_reads_then_commit_nothing(
        app, connection, session, routed, client_as):
    client = client_as("street_leader", "110101")  # user street_leader0, token never used
    assert _last_used(session, "street_leader0") is None
    released = []
    event.listen(connection, "release_savepoint", lambda *a: released.append(1))  # a request's commit
    assert client.get("/api/cases/110101-20261127-999999").status_code == 404  # rolled back at the end
    assert _last_used(session, "street_leader0") is not None  # committed before the request failed
    assert len(released) == 1
    released.clear()
    for _ in range(3):  # used within the minute: nothing written, so nothing committed
        assert client.get("/api/cases/map?zoom=12&bbox=116.29,39.89,116.33,39.92").status_code == 200
    assert released == []


def test_a_create_follows_a_calendar_change_made_after_the_previous_create(session, routed, tmp_path):
    from geo.services import accounts, cases
    from geo.services.reference import load_calendar

    leader = accounts.create_user(session, "lead9", role="street_leader", scope="110101", password="password-1")

    def resolve_day(external_id):
        # 0699 (其他) is complex: 15 working days; reported Fri 27 Nov 10:00.
        case = cases.create_case(session, cases.NewCase(lon=LON, lat=LAT, category="0699", source="api",
                                                        external_id=external_id,
                                                        reported_at="2026-11-27 10:00:00"), user=leader)
        due = session.execute(text("SELECT resolve_due FROM cases WHERE case_no = :no"), {"no": case["id"]})
        return due.scalar_one().astimezone(ZoneInfo("Asia/Shanghai")).date()

    assert resolve_day("C1") == date(2026, 12, 18)  # no holidays: 15 working days → Fri 18 Dec
    assert resolve_day("C2") == date(2026, 12, 18)  # the cached calendar, same stamp
    (tmp_path / "cal.csv").write_text("day,kind,name\n2026-11-30,holiday,测试假日\n", encoding="utf-8")
    load_calendar(session, tmp_path / "cal.csv")
    assert resolve_day("C3") == date(2026, 12, 21)  # Mon 30 Nov is a holiday now
    (tmp_path / "cal.csv").write_text("day,kind,name\n2026-11-30,workday,调休\n", encoding="utf-8")
    load_calendar(session, tmp_path / "cal.csv")  # the same day, another kind: another stamp
    assert resolve_day("C4") == date(2026, 12, 18)


def test_a_refused_report_still_names_the_grid_and_the_area(session, routed):
    import pytest

    from geo.domain.errors import Forbidden
    from geo.services import accounts, cases

    worker = accounts.create_user(session, "gw9", role="grid_worker", scope="110101001001001", password="password-1")
    with pytest.raises(Forbidden) as refused:
        cases.create_case(session, cases.NewCase(lon=LON, lat=LAT, category="0101"), user=worker)
    names = session.execute(text("SELECT code, name FROM boundary WHERE code IN ('110101002001002', "
                                 "'110101001001001')")).all()
    assert len(names) == 2 and all(name in str(refused.value) for _, name in names)
