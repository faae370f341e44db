"""Response compression compared in one run: the hand-written gzip layer gridmap had
(bench/_gzip_handwritten.py) against flask-compress as webmap/compression.py configures it (gzip
and deflate at the same zlib level, brotli, zstd), on the bodies the map sends.

Each variant is a bare Flask app serving the same bodies; every body is requested ``--repeat``
times through Flask's test client with ``Accept-Encoding`` naming one algorithm, and the median
time of a request (compression included) and the bytes on the wire are printed beside the
identity (uncompressed) request.

Bodies: Leaflet's JavaScript (static file, 148 KB), a map layer of 2,000 case points as GeoJSON
(≈ 500 KB, what /api/cases/map sends at street zoom), and an HTML page (≈ 40 KB).

Run: ``.venv/bin/python bench/compression.py [--repeat 50]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask, Response

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import _gzip_handwritten as handwritten  # noqa: E402

from webmap import compression  # noqa: E402

VENDOR = ROOT / "webmap" / "static"


def bodies() -> dict[str, tuple[str, bytes]]:
    features = [{"type": "Feature", "id": f"110102-20261128-{i:06d}",
                 "geometry": {"type": "Point", "coordinates": [round(116.3 + i * 1e-4, 6), round(39.9 + i * 7e-5, 6)]},
                 "properties": {"status": ["received", "dispatched", "closed"][i % 3], "category_name": "暴露垃圾",
                                "overdue": i % 7 == 0,
                                "reported_at": f"2026-11-{1 + i % 28:02d}T09:{i % 60:02d}:00+08:00"}}
                for i in range(2000)]
    geojson = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()
    rows = "".join(f"<tr><td>1101020040{i:02d}</td><td>第{i}网格</td><td>{i * 3}</td><td>{i % 100}%</td></tr>"
                   for i in range(600))
    html = f"<!doctype html><html><body><table>{rows}</table></body></html>".encode()
    return {"geojson": ("application/geo+json", geojson), "html": ("text/html", html)}


def app_with(setup: Callable[[Flask], None]) -> Flask:
    app = Flask(__name__, static_folder=str(VENDOR))
    setup(app)
    for name, (mimetype, data) in bodies().items():
        app.add_url_rule(f"/{name}", name, lambda d=data, m=mimetype: Response(d, mimetype=m))
    return app


def hand_written(app: Flask) -> None:
    handwritten.init_app(app)


def flask_compress(app: Flask) -> None:
    compression.init_app(app)


def measure(app: Flask, path: str, encoding: str, repeat: int) -> tuple[float, int, str]:
    client = app.test_client()
    times, size, got = [], 0, ""
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path, headers={"Accept-Encoding": encoding})
        data = response.get_data()
        times.append(time.perf_counter() - started)
        size = len(data)
        got = response.headers.get("Content-Encoding", "identity")
    return statistics.median(times) * 1000, size, got


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    apps = {"hand-written": app_with(hand_written), "flask-compress": app_with(flask_compress)}
    paths = {"leaflet.js": "/static/vendor/leaflet/leaflet.js", "map GeoJSON": "/geojson", "HTML page": "/html"}
    # What a browser sends: over plain HTTP (an intranet) only "gzip, deflate"; brotli and zstd over HTTPS.
    variants = [("hand-written", "identity"), ("hand-written", "gzip, deflate"), ("flask-compress", "gzip, deflate"),
                ("flask-compress", "gzip, deflate, br"), ("flask-compress", "gzip, deflate, br, zstd")]
    print(f"median of {args.repeat} requests through the Flask test client (compression included)")
    print(f"{'body':<12} {'layer':<15} {'Accept-Encoding':<24} {'sent as':<9} {'ms':>8} {'bytes':>9}")
    for label, path in paths.items():
        for app_name, encoding in variants:
            ms, size, got = measure(apps[app_name], path, encoding, args.repeat)
            print(f"{label:<12} {app_name:<15} {encoding:<24} {got:<9} {ms:8.2f} {size:9,}")


if __name__ == "__main__":
    main()
