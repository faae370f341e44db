"""Where one request's time goes, in process: statements, round trips and a cProfile, per route.

    .venv/bin/python bench/request_profile.py --database-url postgresql://postgres@127.0.0.1:P/load
    .venv/bin/python bench/request_profile.py --database-url URL --routes create --n 300 --top 25

The database is one bench/load.py made (``--keep``, or ``--database-url`` there): its users and
tokens are made here again (bench/load.py's make_cast). The app is webmap.create_app() in this
process, driven by Flask's test client (no HTTP server, no other thread): what is left is the
app's own work (Python) and its waits on PostgreSQL. Each route runs ``--n`` times after 20
warm-up requests; printed per route: mean milliseconds, statements and round trips (each
statement, BEGIN, COMMIT, ROLLBACK and connection ping) a request, and with ``--top`` the functions
with the most cumulative time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import load


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--routes", default="create,map,boundaries,action", help="comma-separated")
    parser.add_argument("--n", type=int, default=200, help="requests per route")
    parser.add_argument("--top", type=int, default=0, help="print this many functions by --sort")
    parser.add_argument("--sort", default="cumulative", help="cumulative or tottime")
    args = parser.parse_args()

    os.environ.update(DATABASE_URL=args.database_url, GRIDMAP_SECRET_KEY="profile-not-secret",
                      GRIDMAP_BASEMAP="none", GRIDMAP_JOBS="0")
    from sqlalchemy import event

    from webmap import create_app

    app = create_app()
    engine = app.extensions["gridmap"]["engine"]
    counts: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):
        counts["statements"] += 1

    for name in ("begin", "commit", "rollback"):
        event.listen(engine, name, lambda *a, _n=name: counts.__setitem__(_n, counts[_n] + 1))
    event.listen(engine.pool, "checkout", lambda *a: counts.__setitem__("checkout", counts["checkout"] + 1))
    ping = engine.dialect.do_ping

    def counted_ping(dbapi):  # pool_pre_ping, or geo.store.db's ping of an idle connection
        counts["ping"] += 1
        return ping(dbapi)

    engine.dialect.do_ping = counted_ping

    cast = load.make_cast(args.database_url, 7)
    mix = load.Mix(cast, [1, 0, 0], 7)
    client = app.test_client()
    makers = {"create": mix._create, "map": mix._read, "boundaries": mix._read, "action": mix._action}

    def one(kind: str) -> None:
        while True:
            req = makers[kind]()
            if (kind == "map" and "boundaries" in req.path) or (kind == "boundaries" and "cases/map" in req.path):
                continue
            break
        headers = {"Authorization": f"Bearer {req.token}", "Accept-Encoding": "gzip"}
        resp = client.open(req.path, method=req.method, data=req.body, headers=headers,
                           content_type="application/json" if req.body else None)
        if resp.status_code not in req.ok:
            raise SystemExit(f"{req.method} {req.path}: {resp.status_code} {resp.get_data()[:300]!r}")
        if req.on_success is not None:
            req.on_success()

    for kind in args.routes.split(","):
        for _ in range(20):
            one(kind)
        counts.clear()
        profiler = cProfile.Profile() if args.top else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        for _ in range(args.n):
            one(kind)
        if profiler:
            profiler.disable()
        seconds = time.perf_counter() - started
        trips = counts["statements"] + counts["commit"] + counts["rollback"] + counts["begin"] + counts["ping"]
        print(f"{kind:<11} {1000 * seconds / args.n:7.2f} ms a request ({'profiled' if profiler else 'plain'}); "
              f"a request: {counts['statements'] / args.n:.2f} statements, {counts['begin'] / args.n:.2f} BEGIN, "
              f"{counts['commit'] / args.n:.2f} COMMIT, {counts['rollback'] / args.n:.2f} ROLLBACK, "
              f"{counts['checkout'] / args.n:.2f} pool checkouts, {counts['ping'] / args.n:.2f} pings "
              f"→ ≈ {trips / args.n:.1f} round trips", flush=True)
        if profiler:
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(args.top)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
