"""The README's set-up table, measured again (issue 15 #7): prints its rows.

    .venv/bin/python bench/readme_figures.py               # ≈ 12 min: both make run timings, set-up, make test
    .venv/bin/python bench/readme_figures.py --skip-test   # ≈ 3 min: without make test

What a newcomer does, in a clone of this repository's HEAD inside a folder only its owner can
enter (root's home is 0700): the first `make run` from the fresh clone (venv, pip, npm ci,
initdb, migrations, sample data) until the map answers `/readyz`; the second `make run`; the
set-up step with the test extras alone; `make test` with the set-up in place (its test count
read from pytest's summary); then `make clean`. The Debian packages are assumed present (CI's
machine installs them once, about 20 s). Ports are free ones, so a running `make run` is not
disturbed. Times are wall-clock on this machine, whatever else it is doing: the load average is
printed beside them.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(message: str) -> None:
    print(message, flush=True)


def ready(base: str) -> bool:
    try:
        return urllib.request.urlopen(base + "/readyz", timeout=2).status == 200
    except OSError:
        return False


def make_run(clone: Path, env: dict[str, str], logfile: Path, timeout: float = 900) -> float:
    """Seconds from `make run` to the map answering; the server is stopped afterwards."""
    base = f"http://127.0.0.1:{env['GRIDMAP_PORT']}"
    started = time.monotonic()
    with logfile.open("ab") as out:
        proc = subprocess.Popen(["make", "run"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        while not ready(base):
            if proc.poll() is not None:
                raise SystemExit(f"make run exited ({proc.returncode}); see {logfile}")
            if time.monotonic() - started > timeout:
                raise SystemExit(f"make run did not answer in {timeout:.0f} s; see {logfile}")
            time.sleep(0.2)
        return time.monotonic() - started
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def timed(cmd: list[str], clone: Path, env: dict[str, str], logfile: Path) -> tuple[float, str]:
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=clone, env=env, capture_output=True, text=True)
    logfile.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}); see {logfile}")
    return time.monotonic() - started, done.stdout


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:.0f} s" if seconds >= 60 else f"{seconds:.1f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-test", action="store_true", help="leave out make test (the longest step)")
    parser.add_argument("--keep", action="store_true", help="keep the clone and its logs")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gridmap-readme-"))
    home = work / "home"
    home.mkdir(mode=0o700)
    clone = home / "gridmap"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(clone)], check=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True).stdout
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "DATABASE_URL"))} | {
        "GRIDMAP_PORT": str(free_port()), "GRIDMAP_PGPORT": str(free_port()), "GRIDMAP_BASEMAP": "none",
        "GRIDMAP_PG_HOME": str(work / "pghome"), "GRIDMAP_SKIP_SYSTEM": "1"}
    (work / "pghome").mkdir(mode=0o755)
    os.chmod(work, 0o755)
    log(f"clone of {head.strip()} in {clone} (a 0700 folder); load average {os.getloadavg()[0]:.2f}")
    rows = []
    try:
        first = make_run(clone, env, work / "run1.log")
        rows.append(("first `make run` from a fresh clone (venv, pip, npm ci, initdb, migrate, sample data, "
                     "2,000 demo tickets) until the map answers", minutes(first)))
        log(f"first make run: {first:.1f} s")
        second = make_run(clone, env, work / "run2.log")
        rows.append(("second `make run` until the map answers", minutes(second)))
        log(f"second make run: {second:.1f} s")
        setup, _ = timed(["bash", "scripts/setup.sh", "--test"], clone, env, work / "setup.log")
        rows.append(("the set-up step's test extras on top (`bash scripts/setup.sh --test`: dev packages, "
                     "Chromium check)", minutes(setup)))
        log(f"set-up --test: {setup:.1f} s")
        if not args.skip_test:
            test_env = {k: v for k, v in env.items() if k != "GRIDMAP_SKIP_SYSTEM"}
            seconds, out = timed(["make", "test"], clone, test_env, work / "test.log")
            passed = re.findall(r"(\d+) passed", out)
            count = f"{int(passed[-1]):,} tests" if passed else "tests"
            rows.append((f"`make test` with the set-up in place (throwaway cluster, ruff, mypy, import-linter, "
                         f"{count} incl. browser; {time.strftime('%Y-%m-%d')})", minutes(seconds)))
            log(f"make test: {seconds:.1f} s ({count})")
    finally:
        subprocess.run(["make", "clean"], cwd=clone, env=env, capture_output=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    log(f"\nload average at the end {os.getloadavg()[0]:.2f}; rows for README.md:\n")
    log("| command | time |\n|---|---|")
    for what, value in rows:
        log(f"| {what} | {value} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
