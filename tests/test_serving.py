"""`gridmap serve`: several gunicorn worker processes share one secret key (a session made by one
worker is good in the others), and SIGTERM stops it cleanly."""

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from geo.services.accounts import create_user
from tests.conftest import wait_until_ready

GRIDMAP = Path(sys.executable).with_name("gridmap")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_workers_share_sessions_and_stop_on_sigterm(fresh_db):
    engine = create_engine(fresh_db)
    with Session(engine) as session, session.begin():
        create_user(session, "planner1", role="planner", password="planner-password")
    engine.dispose()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "GRIDMAP_SECRET_KEY"} | {"DATABASE_URL": fresh_db}
    server = subprocess.Popen([str(GRIDMAP), "serve", "--port", str(port), "--workers", "2", "--threads", "2",
                               "--no-warm", "--no-jobs"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base)
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        page = opener.open(base + "/login").read().decode()
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"username": "planner1", "password": "planner-password", "csrf_token": token})
        opener.open(base + "/login", data=form.encode())
        # New connections spread over both workers; every one must accept the session.
        statuses = [opener.open(base + "/api/categories").status for _ in range(20)]
        assert statuses == [200] * 20
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output


def _status(url: str, headers: dict[str, str]) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_proxied_metrics_request_is_not_local_under_waitress_either(fresh_db):
    """nginx on this machine adds X-Forwarded-For; waitress (one worker) drops such headers unless
    told not to, which made every request through the proxy look local and /metrics public."""
    port = _free_port()
    env = os.environ | {"DATABASE_URL": fresh_db}
    server = subprocess.Popen([str(GRIDMAP), "serve", "--port", str(port), "--workers", "1", "--no-warm",
                               "--no-jobs"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, 90)  # the shared 2-core machine may be busy
        assert _status(base + "/metrics", {}) == 200
        assert _status(base + "/metrics", {"X-Forwarded-For": "203.0.113.9"}) == 401
        assert _status(base + "/metrics", {"Forwarded": "for=203.0.113.9"}) == 401
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
