"""`make run` from a clone in a folder only its owner can enter (root's home is 0700).

The cluster runs as the `postgres` user, which cannot reach `var/pg` inside such a clone: the data
then lives outside it (GRIDMAP_PG_HOME) with `var/pg` a symlink that `make stop` and `make clean`
follow. The clone gets a venv of its own whose packages are this checkout's (a .pth line, read
only) and whose `gridmap` runs the clone's code, plus this checkout's vendored assets: the test
spends its time on what differs, the folder, and can never write into this checkout's venv.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from tests.conftest import free_port, wait_until_ready

ROOT = Path(__file__).resolve().parent.parent



def _port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _clone_working_tree(dest: Path) -> None:
    """The tracked files as they are now (a clone of HEAD would miss uncommitted edits)."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True).stdout
    for name in filter(None, files.decode().split("\0")):
        src = ROOT / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    shutil.copytree(ROOT / "webmap/static/vendor", dest / "webmap/static/vendor")
    _venv_on_loan(dest)


def _venv_on_loan(dest: Path) -> None:
    """A fresh venv whose imports find the clone first, then this venv's installed packages."""
    venv = dest / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python3*/site-packages"))
    ours = next(Path(sys.prefix).glob("lib/python3*/site-packages"))
    (site / "gridmap-on-loan.pth").write_text(f"{dest}\n{ours}\n")
    launcher = venv / "bin/gridmap"
    launcher.write_text(f"#!{venv}/bin/python\nfrom webmap.cli import main\nmain()\n")
    launcher.chmod(0o755)
    # setup.sh installs nothing when the stamp says the venv is current for this pyproject.toml.
    digest = hashlib.sha256((dest / "pyproject.toml").read_bytes()).hexdigest()[:16]
    (venv / ".gridmap-installed").write_text(f"{digest}[dev]\n")
    (venv / ".gridmap-gistar").write_text(f"{digest}[dev]\n")  # the kernels are this venv's, compiled


@pytest.mark.skipif(os.geteuid() != 0, reason="the 0700 case is root's: the cluster runs as postgres")
def test_make_run_serves_the_map_from_a_0700_folder(tmp_path: Path) -> None:
    home = tmp_path / "home"
    clone = home / "gridmap"
    clone.mkdir(parents=True)
    home.chmod(0o700)
    _clone_working_tree(clone)
    pg_home = Path(f"/tmp/gridmap-pghome-{os.getpid()}")
    pg_port, web_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "GRIDMAP_"))} | {
        "GRIDMAP_SKIP_SYSTEM": "1", "GRIDMAP_PG_HOME": str(pg_home),
        "GRIDMAP_PGPORT": str(pg_port), "GRIDMAP_PORT": str(web_port), "GRIDMAP_BASEMAP": "none",
    }
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{web_port}"
    try:
        _serves_from_outside(run, log, base, clone, pg_home)
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=60)
        if not _stops_and_cleans(clone, env, pg_port):  # a failure above still leaves no cluster behind
            subprocess.run(["bash", "scripts/pg.sh", "destroy", "var/pg"], cwd=clone, env=env, capture_output=True)
        shutil.rmtree(pg_home, ignore_errors=True)


def _serves_from_outside(run: subprocess.Popen, log: Path, base: str, clone: Path, pg_home: Path) -> None:
    deadline = time.monotonic() + 180
    while True:
        try:
            wait_until_ready(base, seconds=1)
            break
        except AssertionError:
            if run.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(log.read_text()[-3000:]) from None
    page = urllib.request.urlopen(base + "/login").read().decode()
    assert "登录" in page
    assert str(clone) in subprocess.run(
        [clone / ".venv/bin/python", "-c", "import webmap; print(webmap.__file__)"],
        check=True, capture_output=True, text=True, cwd="/").stdout, "the clone must serve its own code"
    link = clone / "var/pg"
    assert link.is_symlink(), "the cluster must live outside a folder postgres cannot enter"
    data = Path(os.readlink(link))
    assert data.parent.parent == pg_home and (data / "PG_VERSION").is_file()
    assert "postgres 用户无法进入" in log.read_text()
    _no_local_account_gets_in(clone, data)


def _no_local_account_gets_in(clone: Path, data: Path) -> None:
    """Issue 13 #4: no trust, secrets only root can read, an app role that owns nothing."""
    secrets = clone / "var/pg.env"
    assert secrets.stat().st_mode & 0o077 == 0, "the generated passwords must be readable by their owner only"
    urls = dict(line.split("=", 1) for line in secrets.read_text().splitlines())
    app, owner = make_url(urls["DATABASE_URL"]), make_url(urls["GRIDMAP_MIGRATE_URL"])
    assert (app.username, owner.username) == ("gridmap_app", "gridmap")
    psql = str(next(Path("/usr/lib/postgresql").glob("*/bin/psql")))
    for how in (["-h", "127.0.0.1"], ["-h", str(data)]):  # TCP, and the socket in the 0700 data folder
        for user in ("postgres", "gridmap", "gridmap_app"):
            other = subprocess.run(["runuser", "-u", "nobody", "--", psql, *how, "-p", str(app.port), "-U", user,
                                    "-d", "gridmap", "-w", "-tAc", "SELECT rolpassword FROM pg_authid"],
                                   capture_output=True, text=True, cwd="/")
            refused = "no password supplied" in other.stderr or "Permission denied" in other.stderr
            assert other.returncode != 0 and refused, (how, user, other.stdout, other.stderr)
    with psycopg.connect(app.set(drivername="postgresql").render_as_string(hide_password=False),
                         autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM case_event").fetchone()[0] > 0, "the app role wrote the demo"
        owners = {r[0] for r in conn.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'"
                                             " AND tablename <> 'spatial_ref_sys'")}
        assert owners == {"gridmap"}, owners
        for attempt in ("SET session_replication_role = replica",
                        "ALTER TABLE case_event DISABLE TRIGGER ALL",
                        "DROP TRIGGER case_event_no_update ON case_event",
                        "UPDATE case_event SET note = 'rewritten' WHERE id = (SELECT min(id) FROM case_event)",
                        "DELETE FROM case_event",
                        "TRUNCATE case_event",
                        "SELECT rolpassword FROM pg_authid",
                        "COPY (SELECT 1) TO PROGRAM 'id'",
                        "CREATE TABLE stray (a int)"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(attempt)


def _stops_and_cleans(clone: Path, env: dict[str, str], pg_port: int) -> bool:
    """`make stop` stops the cluster outside the clone and `make clean` deletes its data."""
    link = clone / "var/pg"
    if not link.is_symlink():
        return False
    data = Path(os.readlink(link))
    subprocess.run(["make", "stop"], cwd=clone, env=env, check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while _port_open(pg_port) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _port_open(pg_port), "make stop must stop the cluster outside the clone"
    subprocess.run(["make", "clean"], cwd=clone, env=env, check=True, capture_output=True)
    assert not data.exists() and not (clone / "var").exists()
    return True
