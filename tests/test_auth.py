"""Sign-in: login form with CSRF, slowed-down failures, tokens, CSRF on cookie sessions, redirects."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from geo.domain.errors import Unauthorized
from geo.services import accounts

PASSWORD = "s3cret-password"


@pytest.fixture
def leader(session, routed):
    return accounts.create_user(session, "leader", role="street_leader", scope="110101", password=PASSWORD)


def _csrf(client, path="/login"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def _login(client, password=PASSWORD, token=None):
    return client.post("/login", data={"username": "leader", "password": password,
                                       "csrf_token": token or _csrf(client)})


def test_login_page_is_chinese_with_a_csrf_field(anon):
    html = anon.get("/login").get_data(as_text=True)
    assert "用户名" in html and "密码" in html and 'name="csrf_token"' in html


def test_login_then_the_map(anon, leader):
    resp = _login(anon)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert anon.get("/").status_code == 200
    cookie = anon.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"


def test_login_without_csrf_token_is_refused(anon, leader):
    resp = anon.post("/login", data={"username": "leader", "password": PASSWORD})
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)


def test_wrong_password_is_401_with_one_message_for_all_failures(anon, leader):
    wrong = _login(anon, password="nope-nope")
    unknown = anon.post("/login", data={"username": "ghost", "password": "x" * 9, "csrf_token": _csrf(anon)})
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码不正确" in wrong.get_data(as_text=True)
    assert "用户名或密码不正确" in unknown.get_data(as_text=True)


def test_repeated_failures_lock_the_account_for_longer_each_time(session, leader):
    now = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    for _ in range(accounts.FREE_ATTEMPTS):
        with pytest.raises(Unauthorized):
            accounts.authenticate(session, "leader", "wrong-password", now=now)
    with pytest.raises(Unauthorized) as err:  # even the right password waits now …
        accounts.authenticate(session, "leader", PASSWORD, now=now + timedelta(seconds=5))
    with pytest.raises(Unauthorized) as ghost:  # … and says what an unknown name is told
        accounts.authenticate(session, "ghost", PASSWORD, now=now + timedelta(seconds=5))
    assert (err.value.code, err.value.message) == (ghost.value.code, ghost.value.message)
    assert accounts.authenticate(session, "leader", PASSWORD, now=now + timedelta(seconds=31)).username == "leader"
    locked = session.execute(text("SELECT failed_logins, locked_until FROM app_user WHERE username = 'leader'")).one()
    assert tuple(locked) == (0, None)


def test_passwords_are_stored_hashed(session, leader):
    stored = session.execute(text("SELECT password_hash FROM app_user WHERE username = 'leader'")).scalar_one()
    assert stored.startswith("scrypt$") and PASSWORD not in stored


def test_session_is_renewed_at_login(anon, leader):
    anon.get("/login")
    with anon.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    _login(anon)
    with anon.session_transaction() as sess:
        assert "planted" not in sess and sess.get("_user_id")


def test_logout_needs_csrf_and_ends_the_session(anon, leader):
    _login(anon)
    assert anon.post("/logout").status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/").get_data(as_text=True)).group(1)
    assert anon.post("/logout", data={"csrf_token": token}).status_code == 302
    assert anon.get("/").status_code == 302


def test_cookie_session_api_writes_need_the_csrf_header(anon, leader, routed):
    _login(anon)
    body = {"lon": 116.3175, "lat": 39.9025, "category": "0101"}
    refused = anon.post("/api/cases", json=body)
    assert refused.status_code == 400 and refused.get_json()["error"]["code"] == "csrf"
    token = re.search(r'name="csrf-token" content="([^"]+)"', anon.get("/").get_data(as_text=True)).group(1)
    assert anon.post("/api/cases", json=body, headers={"X-CSRFToken": token}).status_code == 201


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"])
def test_login_never_redirects_off_site(anon, leader, target):
    token = _csrf(anon)
    resp = anon.post(f"/login?next={target}", data={"username": "leader", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/"


def test_tokens_work_until_revoked(app, session, leader):
    token_id, token = accounts.create_token(session, "leader", name="12345 对接")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/categories", headers=headers).status_code == 200
    stored = session.execute(text("SELECT token_hash FROM api_token WHERE id = :id"), {"id": token_id}).scalar_one()
    assert token not in stored and len(stored) == 64
    accounts.revoke_token(session, token_id)
    assert client.get("/api/categories", headers=headers).status_code == 401
    assert client.get("/api/categories", headers={"Authorization": "Bearer gm_forged"}).status_code == 401


def test_a_token_client_that_keeps_cookies_stays_signed_in(app, session, leader):
    """A page puts its CSRF token in a cookie session; the next token request must still be the token's."""
    _, token = accounts.create_token(session, "leader")
    client = app.test_client()  # keeps cookies, as requests.Session does
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/stats", headers=headers).status_code == 200  # sets a session cookie
    for url in ("/stats", "/", "/api/categories"):
        assert client.get(url, headers=headers).status_code == 200, url
    assert client.get("/api/categories").status_code == 401  # the cookie alone is nobody


def test_a_copied_session_cookie_stops_working_at_logout(app, anon, leader):
    _login(anon)
    cookie = anon.get_cookie("session")
    assert cookie is not None and anon.get("/api/categories").status_code == 200
    thief = app.test_client()
    thief.set_cookie("session", cookie.value)
    assert thief.get("/api/categories").status_code == 200  # a stolen cookie works … until logout
    token = re.search(r'name="csrf_token" value="([^"]+)"', anon.get("/").get_data(as_text=True)).group(1)
    assert anon.post("/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/api/categories").status_code == 401
    assert thief.get("/").status_code == 302
    _login(anon)  # signing in again gives a new, working session
    assert anon.get("/api/categories").status_code == 200
    assert thief.get("/api/categories").status_code == 401


def test_an_idle_browser_session_ends_and_an_active_one_stays(app, anon, leader, monkeypatch):
    import time

    import webmap.auth

    app.config["GRIDMAP_SESSION_IDLE_MINUTES"] = 30
    start = time.time()
    monkeypatch.setattr(webmap.auth, "_clock", lambda: start)
    _login(anon)
    assert anon.get("/").status_code == 200
    monkeypatch.setattr(webmap.auth, "_clock", lambda: start + 29 * 60)
    assert anon.get("/").status_code == 200  # used within the limit: the clock starts again
    monkeypatch.setattr(webmap.auth, "_clock", lambda: start + 58 * 60)
    assert anon.get("/").status_code == 200
    monkeypatch.setattr(webmap.auth, "_clock", lambda: start + 90 * 60)
    resp = anon.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert anon.get("/api/categories").status_code == 401  # and it stays ended


def test_a_parallel_burst_checks_no_more_passwords_than_the_free_attempts(fresh_db):
    """Twelve wrong passwords at once: each attempt is counted before its check, so the fifth
    locks the account and the rest are refused unchecked (17 of 20 were checked before)."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from tests.conftest import live_server

    engine = create_engine(fresh_db)
    with Session(engine) as s, s.begin():
        accounts.create_user(s, "burst", role="planner", password=PASSWORD)
    with live_server(fresh_db) as base:
        def attempt(_: int) -> int:
            import http.cookiejar
            import urllib.error
            import urllib.parse
            import urllib.request

            opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
            html = opener.open(base + "/login").read().decode()
            token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
            form = urllib.parse.urlencode({"username": "burst", "password": "wrong-password", "csrf_token": token})
            try:
                return opener.open(base + "/login", data=form.encode()).status
            except urllib.error.HTTPError as err:
                return err.code

        with ThreadPoolExecutor(12) as pool:
            statuses = list(pool.map(attempt, range(12)))
    with engine.connect() as conn:
        counted = conn.execute(text("SELECT failed_logins FROM app_user WHERE username = 'burst'")).scalar_one()
    engine.dispose()
    assert statuses == [401] * 12 and counted == accounts.FREE_ATTEMPTS


def test_one_address_is_throttled_across_accounts(app, anon, leader):
    """Beside each account's lock: an address trying many names is slowed down as a whole."""
    app.config["GRIDMAP_LOGIN_RATE"] = "3 per minute"
    for name in ("a1", "a2", "a3"):
        resp = anon.post("/login", data={"username": name, "password": "x" * 9, "csrf_token": _csrf(anon)})
        assert resp.status_code == 401
    resp = anon.post("/login", data={"username": "leader", "password": PASSWORD, "csrf_token": _csrf(anon)})
    assert resp.status_code == 429 and "登录尝试过于频繁" in resp.get_data(as_text=True)


def test_a_nul_in_the_login_form_is_a_clear_4xx(anon, leader):
    resp = anon.post("/login", data={"username": "lea\x00der", "password": PASSWORD, "csrf_token": _csrf(anon)})
    assert resp.status_code == 422 and "NUL" in resp.get_data(as_text=True)
