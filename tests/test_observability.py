"""Observability: request ids on every log line, JSON access lines without secrets, /metrics (access,
counters, histogram, domain gauges, several workers), /healthz and /readyz."""

import itertools
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from geo.domain.workflow import STATES
from geo.services import accounts, cases
from tests.conftest import make_user, wait_until_ready
from webmap import create_app
from webmap.observability import TextFormatter

GRIDMAP = Path(sys.executable).with_name("gridmap")
EAST = {"lon": 116.3175, "lat": 39.9025}
HEX_ID = re.compile(r"[0-9a-f]{32}")




def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens there once the socket closes


@pytest.fixture
def down_app():
    """An app whose database does not answer (a closed port)."""
    return create_app({"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{_closed_port()}/none",
                       "GRIDMAP_SECRET_KEY": "x"})


def _metrics(client) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape."""
    resp = client.get("/metrics")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert resp.mimetype == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.get_data(as_text=True)) for s in family.samples}


def _requests(samples, route, status="200", method="GET") -> float:
    return samples.get(("gridmap_http_requests_total",
                        (("method", method), ("route", route), ("status", status))), 0.0)


# --- request ids and log lines ------------------------------------------------------------------


def test_request_id_is_in_the_response_header_and_on_the_access_line(anon, logs):
    resp = anon.get("/healthz?api_key=s3cret-value&x=1")
    resp.get_data()
    request_id = resp.headers["X-Request-ID"]
    assert HEX_ID.fullmatch(request_id)
    [line] = logs.json("gridmap.access")
    assert line["request_id"] == request_id and line["level"] == "INFO"
    assert {k: line[k] for k in ("method", "path", "query", "route", "status", "user", "remote_addr")} == {
        "method": "GET", "path": "/healthz", "query": ["api_key", "x"], "route": "/healthz", "status": 200,
        "user": None, "remote_addr": "127.0.0.1"}
    assert isinstance(line["duration_ms"], float) and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line["time"])
    assert "s3cret-value" not in "\n".join(logs.lines)


def test_the_route_is_the_url_rule_and_the_user_is_named(client_as, logs, world_case):
    client = client_as("admin")
    client.get(f"/api/cases/{world_case}").get_data()
    [line] = logs.json("gridmap.access")
    assert line["route"] == "/api/cases/<case_id>" and line["path"] == f"/api/cases/{world_case}"
    assert line["user"].startswith("admin")


@pytest.mark.parametrize("incoming", ["abc-123_X.y", "0" * 64])
def test_a_sane_incoming_request_id_is_kept(anon, logs, incoming):
    resp = anon.get("/healthz", headers={"X-Request-ID": incoming})
    resp.get_data()
    assert resp.headers["X-Request-ID"] == incoming
    assert logs.json("gridmap.access")[0]["request_id"] == incoming


@pytest.mark.parametrize("incoming", ["x" * 65, "a b", '"},{"level":"ERROR', "<script>", "", "id/../x"])
def test_a_malicious_incoming_request_id_is_replaced(anon, logs, incoming):
    resp = anon.get("/healthz", headers={"X-Request-ID": incoming})
    resp.get_data()
    assert HEX_ID.fullmatch(resp.headers["X-Request-ID"])
    assert logs.json("gridmap.access")[0]["request_id"] == resp.headers["X-Request-ID"]


def test_every_line_written_during_a_request_carries_its_id(down_app, logs):
    resp = down_app.test_client().get("/readyz", headers={"X-Request-ID": "probe-1"})
    resp.get_data()
    during = logs.json()
    assert {line["logger"] for line in during} >= {"geo.services.monitoring", "gridmap.access"}
    assert {line["request_id"] for line in during} == {"probe-1"}


def test_lines_outside_requests_have_no_id(logs):
    logging.getLogger("gridmap.test").info("no request here")
    assert logs.json("gridmap.test")[0]["request_id"] is None


def test_an_unhandled_exception_is_one_json_line_with_its_traceback(app, client, logs):
    def boom():
        raise ZeroDivisionError("the bug")

    app.add_url_rule("/boom", "boom", boom)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    resp = client.get("/boom")
    resp.get_data()
    assert resp.status_code == 500
    [error] = [line for line in logs.json() if line["level"] == "ERROR"]
    assert error["request_id"] == resp.headers["X-Request-ID"]
    assert "Traceback" in error["traceback"] and "ZeroDivisionError: the bug" in error["traceback"]
    [access] = logs.json("gridmap.access")
    assert access["status"] == 500 and access["level"] == "WARNING" and access["route"] == "/boom"


def test_no_password_token_or_cookie_is_logged(anon, app, session, logs):
    password = "correct-horse-battery-9"
    accounts.create_user(session, "leader", role="street_leader", scope="110101", password=password)
    page = anon.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    login = anon.post("/login?next=/stats", data={"username": "leader", "password": password, "csrf_token": csrf})
    login.get_data()  # a server reads (and closes) every body: the access line is written then
    assert login.status_code == 302
    cookie = anon.get_cookie("session").value
    anon.get("/api/categories").get_data()
    token = make_user(session, "api1", "planner", "110101")
    bearer = app.test_client()
    bearer.get("/api/categories", headers={"Authorization": f"Bearer {token}"}).get_data()
    written = "\n".join(logs.lines)
    users = [line["user"] for line in logs.json("gridmap.access")]
    assert users[-3:] == ["leader", "leader", "api1"]  # the login, the cookie request, the bearer request
    for secret in (password, csrf, cookie, token):
        assert secret not in written


def test_text_format_is_for_people():
    record = logging.LogRecord("gridmap.access", logging.INFO, "", 0, "GET / 200 %s ms", (1.5,), None)
    record.request_id = "r1"
    assert TextFormatter().format(record).endswith("INFO gridmap.access [r1] GET / 200 1.5 ms")


# --- /metrics -------------------------------------------------------------------------------------


def test_request_counters_grow_with_requests(anon):
    before = _requests(_metrics(anon), "/healthz")
    for _ in range(3):
        anon.get("/healthz").get_data()
    anon.get("/no/such/page").get_data()
    after = _metrics(anon)
    assert _requests(after, "/healthz") == before + 3
    assert _requests(after, "unmatched", "404") >= 1  # unknown paths share one label value
    assert after[("gridmap_http_requests_in_flight", ())] >= 1  # the scrape itself


def test_latency_is_a_histogram_with_buckets_from_5_ms_to_10_s(anon):
    anon.get("/healthz").get_data()
    resp = anon.get("/metrics")
    [family] = [f for f in text_string_to_metric_families(resp.get_data(as_text=True))
                if f.name == "gridmap_http_request_duration_seconds"]
    assert family.type == "histogram"
    buckets = [s for s in family.samples if s.name.endswith("_bucket") and s.labels["route"] == "/healthz"]
    assert [s.labels["le"] for s in buckets] == ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0",
                                                 "2.5", "5.0", "10.0", "+Inf"]
    assert buckets[-1].value >= 1 and all(a.value <= b.value for a, b in itertools.pairwise(buckets))


@pytest.fixture
def world_case(session, routed):
    """Three cases; one of them overdue for dispatch."""
    leader = accounts.create_user(session, "setup_leader", role="street_leader", scope="110101002",
                                  password="password-setup")
    made = [cases.create_case(session, cases.NewCase(category="0101", **EAST), user=leader) for _ in range(3)]
    session.execute(text("UPDATE cases SET dispatch_due = now() - interval '1 hour' WHERE case_no = :no"),
                    {"no": made[0]["id"]})
    session.execute(text("INSERT INTO outbox (kind, recipient, payload) VALUES ('test', 'x', '{}')"))
    return made[0]["id"]


def test_domain_gauges_equal_the_database(anon, session, world_case):
    samples = _metrics(anon)
    by_status = dict(session.execute(text("SELECT status, count(*) FROM cases GROUP BY status")).all())
    assert by_status.get("received", 0) >= 3
    for state in STATES:
        assert samples[("gridmap_cases", (("status", state),))] == by_status.get(state, 0)
    overdue = session.execute(text("SELECT count(*) FROM cases WHERE status = 'received' AND dispatch_due < now()"))
    assert samples[("gridmap_cases_overdue", ())] == overdue.scalar() >= 1
    by_source = dict(session.execute(text("SELECT source, count(*) FROM cases GROUP BY source")).all())
    assert {dict(k[1])["source"]: v for k, v in samples.items() if k[0] == "gridmap_cases_by_source"} == by_source
    unsent = session.execute(text("SELECT count(*) FROM outbox WHERE sent_at IS NULL")).scalar()
    assert samples[("gridmap_outbox_unsent", ())] == unsent >= 1
    assert samples[("gridmap_database_up", ())] == 1


def test_metrics_still_answer_when_the_database_is_down(down_app):
    samples = _metrics(down_app.test_client())
    assert samples[("gridmap_database_up", ())] == 0
    assert not any(name == "gridmap_cases" for name, _ in samples)


REMOTE = {"REMOTE_ADDR": "203.0.113.7"}


@pytest.mark.parametrize(("headers", "environ", "status"), [
    ({}, {}, 200),  # this machine
    ({}, {"REMOTE_ADDR": "::1"}, 200),
    ({}, REMOTE, 401),  # another machine, not signed in
    ({"X-Forwarded-For": "198.51.100.1"}, {}, 401),  # a proxy on this machine forwarded it
    ({"Authorization": "Bearer metrics-token-123"}, REMOTE, 200),  # GRIDMAP_METRICS_TOKEN
    ({"Authorization": "Bearer metrics-token-12"}, REMOTE, 401),
    ({"Authorization": "Bearer "}, REMOTE, 401),
])
def test_who_may_read_metrics(app, headers, environ, status):
    app.config["GRIDMAP_METRICS_TOKEN"] = "metrics-token-123"
    client = app.test_client()
    client.environ_base.update(environ)
    resp = client.get("/metrics", headers=headers)
    assert resp.status_code == status
    if status != 200:
        assert resp.get_json()["error"]["field"] == "authorization"


@pytest.mark.parametrize(("role", "status"), [("admin", 200), ("planner", 403), ("street_leader", 403)])
def test_from_another_machine_only_an_admin_may_read_metrics(app, session, role, status):
    client = app.test_client()
    client.environ_base.update(REMOTE)
    token = make_user(session, f"m_{role}", role, "" if role == "admin" else "110101")
    assert client.get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == status


def test_without_a_configured_token_no_bearer_string_opens_metrics(app):
    client = app.test_client()
    client.environ_base.update(REMOTE)
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 401


# --- /healthz and /readyz -----------------------------------------------------------------------


def test_readyz_reports_database_postgis_and_schema(anon):
    resp = anon.get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 200 and body["status"] == "ok" and body["problems"] == []
    assert body["database"] == "ok" and body["postgis"].startswith("3.") and body["schema_at_head"] is True
    assert body["schema"] == body["schema_head"]


def test_readyz_is_503_when_the_schema_is_behind(anon, session):
    session.execute(text("UPDATE alembic_version SET version_num = '0001_old'"))
    resp = anon.get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 503 and body["schema"] == "0001_old" and body["schema_at_head"] is False
    [problem] = body["problems"]
    assert problem["check"] == "schema" and "gridmap db upgrade" in problem["message"]


def test_readyz_is_503_when_the_database_is_unreachable(down_app):
    resp = down_app.test_client().get("/readyz")
    body = resp.get_json()
    assert resp.status_code == 503 and body["status"] == "unavailable" and body["database"] == "unreachable"
    assert [p["check"] for p in body["problems"]] == ["database"]
    assert "127.0.0.1" not in resp.get_data(as_text=True)  # where the database lives is for the log only


def test_healthz_answers_without_the_database(down_app):
    resp = down_app.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}


# --- several worker processes ---------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _access_pids(log: Path, route: str) -> set[int]:
    pids = set()
    for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if raw.startswith("{"):
            line = json.loads(raw)
            if line["logger"] == "gridmap.access" and line["route"] == route:
                pids.add(line["pid"])
    return pids


def test_two_workers_count_into_one_scrape_and_log_json(fresh_db, tmp_path):
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {k: v for k, v in os.environ.items() if k not in ("GRIDMAP_LOG_FORMAT", "PROMETHEUS_MULTIPROC_DIR")}
    env |= {"DATABASE_URL": fresh_db, "GRIDMAP_LOG_LEVEL": "INFO"}
    with log.open("w") as stderr:
        server = subprocess.Popen([str(GRIDMAP), "serve", "--port", str(port), "--workers", "2", "--threads", "2",
                                   "--no-warm", "--no-jobs"], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base)
        made = 0
        # New connections spread over the workers; go on (bounded) until both have answered.
        while made < 20 or (len(_access_pids(log, "/healthz")) < 2 and made < 400):
            assert urllib.request.urlopen(base + "/healthz", timeout=5).status == 200
            made += 1
        assert len(_access_pids(log, "/healthz")) == 2
        # A request is counted when the worker has closed its body, which may be just after the
        # client read it: scrape again (bounded) until the last one is in.
        for _ in range(50):
            body = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
            samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                       for family in text_string_to_metric_families(body) for s in family.samples}
            if _requests(samples, "/healthz") >= made:
                break
            time.sleep(0.1)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    assert server.returncode == 0
    assert _requests(samples, "/healthz") == made >= 20
    count = samples[("gridmap_http_request_duration_seconds_count", (("route", "/healthz"),))]
    assert count == made
    assert samples[("gridmap_http_requests_in_flight", ())] >= 1
    lines = log.read_text(encoding="utf-8").splitlines()
    gunicorn = [json.loads(x) for x in lines if x.startswith("{") and '"gunicorn.error"' in x]
    assert any("Booting worker" in line["message"] for line in gunicorn)
    assert not [x for x in lines if x.startswith("[")], "gunicorn's own text format leaked"
