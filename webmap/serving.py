"""Production serving: gunicorn with several worker processes (threads in each), or waitress for one.

Python runs one thread at a time per process, so using both cores of the 2-core machine takes two
processes. The app is built in each worker by the factory; nothing is shared between them but
the database and the secret key (made once in the master when none is configured, so a session
cookie signed by one worker is good in the other).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from gunicorn.app.base import BaseApplication

__all__ = ["serve"]


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


def serve(*, host: str, port: int, workers: int, threads: int, warm_hotspots: bool = True) -> None:
    """Serve until stopped; SIGTERM lets requests in flight finish (graceful shutdown)."""
    if warm_hotspots:
        seconds = warm()
        print(f"热点分析（Gi*）已预编译，用时 {seconds:.1f} 秒", flush=True)
    if workers <= 1:
        from waitress import serve as waitress_serve

        from webmap import create_app

        waitress_serve(create_app(), host=host, port=port, threads=threads, ident="gridmap")
        return
    os.environ.setdefault("GRIDMAP_SECRET_KEY", secrets.token_hex(32))
    _Gunicorn({
        "bind": f"{host}:{port}", "workers": workers, "threads": threads, "worker_class": "gthread",
        "graceful_timeout": 30, "timeout": 60, "keepalive": 5, "accesslog": None, "errorlog": "-",
        "loglevel": "warning", "proc_name": "gridmap",
    }).run()
