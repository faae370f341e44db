"""Production serving: gunicorn with several worker processes (threads in each), or waitress for one.

Python runs one thread at a time per process, so using both cores of the 2-core machine takes two
processes. The app is built in each worker by the factory; nothing is shared between them but
the database and the secret key (made once in the master when none is configured, so a session
cookie signed by one worker is good in the other).

Metrics: each worker counts requests in its own memory, so the master points prometheus_client
at a fresh directory (``PROMETHEUS_MULTIPROC_DIR``) before the workers fork; they write their
values to memory-mapped files there, any worker's ``/metrics`` adds them up, and a worker that
exits is marked dead (``child_exit``). Logs: gunicorn's own lines go through the same JSON (or
text) formatter as the app's; gunicorn's access log stays off, ``gridmap.access`` replaces it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication

__all__ = ["serve", "start_job_worker", "stop_job_worker"]

#: How long a stopping server waits for its job worker to finish the jobs it is running.
JOB_WORKER_STOP_SECONDS = 60
#: Names the server's pid in its job worker's environment: a server killed with SIGKILL leaves no
#: orphan worker holding the scheduler's lock (webmap/cli/jobs.py watches it).
PARENT_VARIABLE = "GRIDMAP_WORKER_PARENT"


class _Gunicorn(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from webmap import create_app

        return create_app()


def warm() -> float:
    """Compile the Gi* kernels (numba) before any request: in the master, so forked workers inherit
    them, never on a request (DESIGN.md). Returns the seconds it took."""
    import time

    from geo.services.hotspots import warm_gistar

    started = time.perf_counter()
    warm_gistar()
    return time.perf_counter() - started


def start_job_worker() -> subprocess.Popen[bytes]:
    """``gridmap worker`` as a child process beside the server (same settings, same stderr): the
    background jobs run there, never in a web worker, so a slow job leaves requests and /readyz alone."""
    env = {**os.environ, PARENT_VARIABLE: str(os.getpid())}  # the worker stops when this process is gone
    return subprocess.Popen([sys.executable, "-c", "from webmap.cli import main; main(['worker'])"], env=env)


def stop_job_worker(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM: the worker finishes the jobs it is running (a backup included) and lets go of the lock."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=JOB_WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve(*, host: str, port: int, workers: int, threads: int, warm_hotspots: bool = True,
          jobs: bool = True) -> None:
    """Serve until stopped; SIGTERM lets requests in flight finish (graceful shutdown). With
    ``jobs``, a ``gridmap worker`` runs beside the server for as long as it does."""
    from webmap.config import load_config
    from webmap.observability import configure_logging

    settings = load_config()
    configure_logging(settings["GRIDMAP_LOG_FORMAT"], settings["GRIDMAP_LOG_LEVEL"])
    if warm_hotspots:
        seconds = warm()
        print(f"热点分析（Gi*）已预编译，用时 {seconds:.1f} 秒", flush=True)
    master = os.getpid()
    started: list[subprocess.Popen[bytes]] = []

    def start_jobs(_server: Any = None) -> None:
        if jobs and not started:
            started.append(start_job_worker())

    try:
        _serve(host=host, port=port, workers=workers, threads=threads, settings=settings, when_ready=start_jobs)
    finally:
        if started and os.getpid() == master:  # a forked gunicorn worker unwinds here too
            stop_job_worker(started[0])


def _serve(*, host: str, port: int, workers: int, threads: int, settings: dict[str, Any],
           when_ready: Callable[[Any], None]) -> None:
    """gunicorn calls ``when_ready`` once it listens (the job worker then does not compete with the
    web workers' start-up); waitress has no such hook, so it is called just before."""
    if workers <= 1:
        from waitress import serve as waitress_serve

        from webmap import create_app

        when_ready(None)
        # Keep X-Forwarded-For and friends: waitress drops them by default, and /metrics reads their
        # presence to tell a proxied request (nginx on this machine) from a local one.
        waitress_serve(create_app(), host=host, port=port, threads=threads, ident="gridmap",
                       clear_untrusted_proxy_headers=False)
        return
    os.environ.setdefault("GRIDMAP_SECRET_KEY", secrets.token_hex(32))
    # Fresh every start: files left by an earlier run would add its counts to this one's.
    metrics_dir = tempfile.mkdtemp(prefix="gridmap-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    master = os.getpid()
    try:
        _Gunicorn({
            "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
            "graceful_timeout": 30, "timeout": 60, "keepalive": 5, "accesslog": None, "errorlog": "-",
            "loglevel": settings["GRIDMAP_LOG_LEVEL"].lower(), "proc_name": "gridmap",
            "logconfig_dict": gunicorn_logging(settings["GRIDMAP_LOG_FORMAT"], settings["GRIDMAP_LOG_LEVEL"]),
            "child_exit": _child_exit,
            "when_ready": when_ready,
            # gunicorn's control socket is one per home folder: a second instance on the machine
            # would take it over and delete it on exit. Nothing here uses it.
            "control_socket_disable": True,
        }).run()
    finally:
        # A worker leaves through this frame too (its SystemExit unwinds the fork): only the
        # master may remove the directory the other workers still write to.
        if os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def gunicorn_logging(fmt: str, level: str) -> dict[str, Any]:
    """gunicorn's logging as a dictConfig: its error lines and every other logger's go to stderr
    through our formatter (JSON or text); its access logger writes nothing."""
    formatter = "webmap.observability.JsonFormatter" if fmt == "json" else "webmap.observability.TextFormatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"gridmap": {"()": formatter}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "gridmap", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
        },
    }


def _child_exit(_server: Any, worker: Any) -> None:
    """A worker exited: its in-flight gauge no longer counts (its counters stay in the sums)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
