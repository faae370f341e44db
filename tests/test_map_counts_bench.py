"""bench/map_counts.py's quick mode: the map's count views from the counters equal the scan's on a
bulk-imported district, every view answers, and the COPY with and without the counters' trigger runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent


def test_map_counts_bench_quick_mode(fresh_db, tmp_path):
    url = make_url(fresh_db).set(drivername="postgresql").render_as_string(hide_password=False)
    out = tmp_path / "counts.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_") and k != "DATABASE_URL"}
    proc = subprocess.run([sys.executable, str(ROOT / "bench/map_counts.py"), "--quick", "--database-url", url,
                           "--json", str(out)], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env=env | {"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["open_cases"] > 2_900 and figures["same_numbers"] == 12
    kinds = {v["label"]: (v["counters"]["kind"], v["counters"]["features"]) for v in figures["views"]}
    assert kinds["zoom 12: street counts"] == ("street", 10)
    assert kinds["zoom 13: community counts"][0] == "community"
    assert kinds["zoom 16: markers"][0] == "points"
    assert figures["copy"]["rows"] == 2_000 and figures["copy"]["with_s"] > 0
