"""Benchmark: the map with 100,000 open cases (issue 5, "Scale"), in a real browser.

Goal: the first view transfers ≤ 300 KB on the wire (gzip; every request: HTML, JS, CSS, JSON)
and the map is interactive within 2 s, measured with Playwright driving Debian's
/usr/bin/chromium against ``gridmap serve`` on 127.0.0.1. Also measured: zooming in to street
zoom (counts per community) and to zoom 15 and 16 (single markers, ≤ 5,000), and the server time
of ``GET /api/cases/map`` at each zoom.

Set-up: a throwaway cluster (bench/_common.py), the synthetic district of bench/README.md
(1 district, 10 streets, 100 communities, ``--grids`` grids), 100,000 synthetic 12345 tickets
imported with ``gridmap cases import`` (so every case is routed to its grid like a real one; all
stay open), and a ``planner`` with an empty scope (a planner sees every case in scope, read-only).
``--database-url`` reuses a database this script loaded before (e.g. with ``--keep``).

"Interactive" means, measured from navigation start (``performance.timeOrigin``): the district
and street outlines and the case counts are drawn, and then a mouse drag started at once has
moved the map (Leaflet's first ``drag`` event: the map followed the pointer). ``moveend`` comes
later, after Leaflet's inertia animation, and is printed too. Wire bytes are Chromium's ``Network.loadingFinished``
``encodedDataLength`` (headers + body as received) over a fresh context (cold cache).
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from _common import Cluster, log

GOAL_FIRST_VIEW_BYTES = 300 * 1024
GOAL_INTERACTIVE_S = 2.0
MAX_MARKERS = 5000
CHROMIUM = "/usr/bin/chromium"
USER, PASSWORD = "bench-planner", "bench-planner-password"
VIEWPORT = {"width": 1280, "height": 800}
#: (label, zoom) of the zoom-in steps, at the centre of the district.
ZOOM_STEPS = (("street zoom: counts per community", 13), ("zoom 15: markers", 15), ("zoom 16: markers", 16))
SERVER_REPEATS = 7

#: Installed before any page script: records when the case counts and outlines first appear.
MARKS_JS = """
window.__gm = {counts: null, outlines: null};
new MutationObserver(function () {
  var now = performance.now();
  if (window.__gm.counts === null && document.querySelector('.gm-count')) { window.__gm.counts = now; }
  if (window.__gm.outlines === null && document.querySelector('.leaflet-map-pane path')) { window.__gm.outlines = now; }
}).observe(document, {childList: true, subtree: true});
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--grids", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20261128)
    parser.add_argument("--runs", type=int, default=3, help="cold-cache first views to measure (median reported)")
    parser.add_argument("--workers", type=int, default=None, help="gridmap serve --workers (default: the setting)")
    parser.add_argument("--database-url", help="use this database (loaded here unless it already has cases)")
    parser.add_argument("--keep", action="store_true", help="keep the cluster and files for debugging")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args()

    started = time.perf_counter()
    results: dict[str, Any] = {"cases": args.cases, "machine": common.machine_line(), "code": common.git_state()}
    log(f"machine: {results['machine']}; load average {common.load_average()}")
    log(f"code: {results['code']}")
    log("server, PostgreSQL and Chromium share these cores; only 127.0.0.1 is used.")
    if args.database_url:
        import tempfile

        work = Path(tempfile.mkdtemp(prefix="gridmap-map-files-", dir="/tmp"))
        try:
            measure(args.database_url, work, args, results)
        finally:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
    else:
        common.run_in_cluster("map", args, results, run)
    results["total_seconds"] = time.perf_counter() - started
    log(f"\nwhole benchmark: {results['total_seconds']:.0f} s; load average now {common.load_average()}")
    common.dump_json(args.json, results)
    return 0


def run(pg: Cluster, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    log(f"PostgreSQL {pg.versions()[0]} on 127.0.0.1:{pg.port} ({pg.data})")
    pg.create_db("map")
    measure(pg.url("map"), work, args, results)


# --- set-up -------------------------------------------------------------------------------------


def load(url: str, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Migrate, boundaries + reference data, the tickets, the planner; skipped when already there."""
    t = time.perf_counter()
    if not common.load_district_with_tickets(url, work, grids=args.grids, cases=args.cases, seed=args.seed,
                                             results=results, timeout=900):
        return
    proc = subprocess.run([str(common.GRIDMAP), "users", "create", USER, "--role", "planner", "--password-stdin"],
                          input=PASSWORD + "\n", env=common.gridmap_env(url), capture_output=True, text=True,
                          timeout=60, cwd=common.ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"gridmap users create failed:\n{proc.stdout}\n{proc.stderr[-2000:]}")
    log(f"[setup] planner {USER!r} created (scope: the whole city); set-up took {time.perf_counter() - t:.1f} s")


# --- browser measurements -----------------------------------------------------------------------


@dataclass
class Request:
    url: str
    type: str = ""
    started: float = 0.0
    status: int = 0
    encoding: str = ""
    wire: int = 0  # headers + body as received (encodedDataLength)
    body: int = 0  # decoded body bytes (dataLength)
    done: bool = False


@dataclass
class Recorder:
    """Every request of one page through CDP: wire bytes, decoded bytes, content encoding."""

    requests: dict[str, Request] = field(default_factory=dict)

    def attach(self, cdp: Any) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.dataReceived", self._data)
        cdp.on("Network.loadingFinished", self._finished)
        cdp.on("Network.loadingFailed", self._failed)
        cdp.send("Network.enable")
        cdp.send("Network.setCacheDisabled", {"cacheDisabled": False})

    def _sent(self, e: dict[str, Any]) -> None:
        if e["request"]["url"].startswith("data:"):  # inline in a style sheet: nothing travels
            return
        self.requests[e["requestId"]] = Request(e["request"]["url"], e.get("type", ""), time.perf_counter())

    def _response(self, e: dict[str, Any]) -> None:
        r = self.requests.get(e["requestId"])
        if r:
            headers = {k.lower(): v for k, v in e["response"].get("headers", {}).items()}
            r.status = e["response"]["status"]
            r.encoding = headers.get("content-encoding", "")

    def _data(self, e: dict[str, Any]) -> None:
        r = self.requests.get(e["requestId"])
        if r:
            r.body += int(e.get("dataLength", 0))

    def _finished(self, e: dict[str, Any]) -> None:
        r = self.requests.get(e["requestId"])
        if r:
            r.wire, r.done = int(e["encodedDataLength"]), True

    def _failed(self, e: dict[str, Any]) -> None:
        r = self.requests.get(e["requestId"])
        if r:
            r.done = True

    def mark(self) -> set[str]:
        return set(self.requests)

    def since(self, before: set[str]) -> list[Request]:
        return [r for k, r in self.requests.items() if k not in before]

    def wait_done(self, page: Any, ids: list[Request], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not all(r.done for r in ids) and time.monotonic() < deadline:
            page.wait_for_timeout(20)


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (("?" + parts.query[:60] + ("…" if len(parts.query) > 60 else "")) if parts.query else "")


def _kb(n: float) -> str:
    return f"{n / 1024:,.1f} KB"


def login_state(browser: Any, base: str) -> tuple[dict[str, Any], str]:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#username", USER)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("window.gridmapMap !== undefined", timeout=30000)
    state = context.storage_state()
    user_agent = page.evaluate("navigator.userAgent")  # Flask-Login's "strong" protection ties the session to it
    context.close()
    return state, user_agent


def first_view(browser: Any, base: str, state: dict[str, Any]) -> dict[str, Any]:
    """One cold-cache first view: wire bytes of every request until interactive, and the times."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", storage_state=state)
    page = context.new_page()
    page.add_init_script(MARKS_JS)
    recorder = Recorder()
    recorder.attach(context.new_cdp_session(page))
    page.goto(base + "/", wait_until="commit")
    page.wait_for_function(
        "window.gridmapMap && window.__gm.counts !== null && "
        "document.querySelectorAll('.leaflet-map-pane path').length >= 2", polling="raf", timeout=60000)
    view = page.evaluate("""() => {
        var map = window.gridmapMap;
        window.__gm.moved = null;
        window.__gm.input = null;
        window.__gm.followed = null;
        map.once('drag', function () { window.__gm.followed = performance.now(); });
        map.getContainer().addEventListener('mousedown', function (e) {
            if (window.__gm.input === null) { window.__gm.input = e.timeStamp; }
        }, {capture: true, once: true});
        map.once('moveend', function () { window.__gm.moved = performance.now(); });
        var nav = performance.getEntriesByType('navigation')[0];
        return {zoom: map.getZoom(), drawn: performance.now(), counts: window.__gm.counts,
                outlines: window.__gm.outlines, dcl: nav.domContentLoadedEventEnd,
                load: nav.loadEventEnd, countMarkers: document.querySelectorAll('.gm-count').length,
                html: [nav.requestStart, nav.responseEnd],
                timing: performance.getEntriesByType('resource').map(function (e) {
                    return [e.name, e.startTime, e.responseEnd]; })};
    }""")
    first = recorder.mark()
    box = page.locator(".leaflet-container").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y + 20, steps=4)
    page.mouse.up()
    page.wait_for_function("window.__gm.moved !== null", polling="raf", timeout=30000)
    view["interactive"] = page.evaluate("window.__gm.followed")
    view["input"] = page.evaluate("window.__gm.input")
    view["moveend"] = page.evaluate("window.__gm.moved")
    requests = [recorder.requests[k] for k in first]
    recorder.wait_done(page, requests)
    view["requests"] = [r.__dict__ for r in requests]
    view["wire"] = sum(r.wire for r in requests)
    view["body"] = sum(r.body for r in requests)
    view["external"] = [r.url for r in requests if not r.url.startswith(base)]
    # The same page again (warm cache: what a worker sees on the next visit).
    before = recorder.mark()
    page.reload(wait_until="commit")
    page.wait_for_function("window.gridmapMap && window.__gm.counts !== null", polling="raf", timeout=60000)
    page.wait_for_timeout(300)
    again = recorder.since(before)
    recorder.wait_done(page, again)
    view["reload_wire"] = sum(r.wire for r in again)
    view["reload_counts_ms"] = page.evaluate("window.__gm.counts")
    context.close()
    return view


def zoom_steps(browser: Any, base: str, state: dict[str, Any], centre: tuple[float, float]) -> list[dict[str, Any]]:
    """From the first view, zoom in at ``centre`` step by step; time until the case layer is drawn."""
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", storage_state=state)
    page = context.new_page()
    page.add_init_script(MARKS_JS)
    recorder = Recorder()
    recorder.attach(context.new_cdp_session(page))
    page.goto(base + "/")
    page.wait_for_function("window.gridmapMap && window.__gm.counts !== null", polling="raf", timeout=60000)
    page.wait_for_load_state("networkidle")
    out = []
    for label, zoom in ZOOM_STEPS:
        before = recorder.mark()
        with page.expect_response(lambda r, z=zoom: "/api/cases/map" in r.url and f"zoom={z}" in r.url,
                                  timeout=60000) as info:
            t0 = page.evaluate(f"() => {{ var t = performance.now(); "
                               f"window.gridmapMap.setView([{centre[1]}, {centre[0]}], {zoom}, {{animate: false}}); "
                               f"return t; }}")
        response = info.value
        data = response.json()
        n = len(data["features"])
        # Points are drawn on one canvas; the pane says how many it drew. Counts are DOM markers.
        count = ("Number(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0)"
                 if data["kind"] == "points" else "document.querySelectorAll('.gm-count').length")
        drawn = page.wait_for_function(
            f"() => {count} === {n} ? performance.now() : false", polling="raf", timeout=60000).json_value()
        page.wait_for_load_state("networkidle")
        step = recorder.since(before)
        recorder.wait_done(page, step)
        case_requests = [r for r in step if "/api/cases/map" in r.url]
        out.append({
            "label": label, "zoom": zoom, "kind": data["kind"], "features": n, "truncated": data["truncated"],
            "drawn_ms": drawn - t0, "wire": sum(r.wire for r in step), "requests": len(step),
            "cases_wire": sum(r.wire for r in case_requests), "cases_body": sum(r.body for r in case_requests),
            "cases_url": response.url,
            "boundary_wire": sum(r.wire for r in step if "/api/boundaries/" in r.url),
        })
    context.close()
    return out


# --- server side --------------------------------------------------------------------------------


def server_times(base: str, state: dict[str, Any], user_agent: str,
                 urls: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Median wall time of GET /api/cases/map (one keep-alive connection, after one warm-up)."""
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in state["cookies"])
    host = urllib.parse.urlsplit(base)
    out = []
    for label, url in urls:
        parts = urllib.parse.urlsplit(url)
        target = parts.path + "?" + parts.query
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
        times, size, gz = [], 0, 0
        for i in range(SERVER_REPEATS + 1):
            t = time.perf_counter()
            conn.request("GET", target, headers={"Cookie": cookie, "Accept-Encoding": "gzip",
                                                 "User-Agent": user_agent})
            resp = conn.getresponse()
            body = resp.read()
            elapsed = time.perf_counter() - t
            if resp.status != 200:
                raise RuntimeError(f"{target}: HTTP {resp.status}")
            gz = len(body)
            if resp.getheader("Content-Encoding") == "gzip":
                import gzip

                body = gzip.decompress(body)
            size = len(body)
            if i:
                times.append(elapsed)
        conn.close()
        out.append({"label": label, "median_ms": 1000 * statistics.median(times), "max_ms": 1000 * max(times),
                    "bytes": size, "wire_body": gz})
    return out


def measure(url: str, work: Path, args: argparse.Namespace, results: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    load(url, work, args, results)
    open_cases = common.query(url, "SELECT count(*) FROM cases WHERE status NOT IN ('closed', 'void')")[0][0]
    x0, y0, x1, y1 = common.query(url, "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                                 "(SELECT ST_Extent(geom) AS e FROM boundary WHERE level = 'district') s")[0]
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    grids = common.query(url, "SELECT count(*) FROM boundary WHERE level = 'grid'")[0][0]
    log(f"[data] {open_cases:,} open cases, {grids:,} grids")
    results.update(open_cases=open_cases, grids=grids)

    assert Path(CHROMIUM).exists(), "Chromium is missing: apt-get install chromium (never playwright install)"
    serve_args = ("--workers", str(args.workers)) if args.workers else ()
    with common.Server(url, work / "serve.log", serve_args=serve_args,
                       env={"GRIDMAP_BASEMAP": "none"}) as srv, sync_playwright() as p:
        base = srv.base
        log(f"[server] gridmap serve on {base}")
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--no-first-run", "--disable-sync"])
        try:
            state, user_agent = login_state(browser, base)
            views = [first_view(browser, base, state) for _ in range(args.runs)]
            steps = zoom_steps(browser, base, state, centre)
        finally:
            browser.close()
        first_cases = next(r["url"] for r in views[0]["requests"] if "/api/cases/map" in r["url"])
        urls = [(f"zoom {views[0]['zoom']} (first view)", first_cases)]
        urls += [(f"zoom {s['zoom']}", s["cases_url"]) for s in steps]
        timings = server_times(base, state, user_agent, urls)
    report(views, steps, timings, results)


def report(views: list[dict[str, Any]], steps: list[dict[str, Any]], timings: list[dict[str, Any]],
           results: dict[str, Any]) -> None:
    view = sorted(views, key=lambda v: v["interactive"])[len(views) // 2]  # the median run
    log(f"\n== first view (cold cache, zoom {view['zoom']}, {VIEWPORT['width']}×{VIEWPORT['height']}); "
        f"requests of the median run of {len(views)}")
    timing = {name.rstrip("?"): (start, end) for name, start, end in view["timing"]}
    log(f"{'request':<56} {'status':>6} {'enc':>5} {'wire':>10} {'decoded':>10} {'start–end (ms)':>15}")
    for r in sorted(view["requests"], key=lambda r: -r["wire"]):
        start, end = timing.get(r["url"].rstrip("?"), view["html"] if r["type"] == "Document" else (0, 0))
        log(f"{_path(r['url'])[:56]:<56} {r['status']:>6} {r['encoding'] or '-':>5} {_kb(r['wire']):>10} "
            f"{_kb(r['body']):>10} {start:>7.0f}–{end:<7.0f}")
    log(f"{'total (' + str(len(view['requests'])) + ' requests)':<56} {'':>6} {'':>5} {_kb(view['wire']):>10} "
        f"{_kb(view['body']):>10}")
    if view["external"]:
        log(f"!! requests outside the app: {view['external']}")
    log("\nper run (ms from navigation start): "
        + "; ".join(f"DOMContentLoaded {v['dcl']:.0f}, outlines {v['outlines']:.0f}, counts {v['counts']:.0f}, "
                    f"drag started {v['input']:.0f}, map followed (interactive) {v['interactive']:.0f}, "
                    f"moveend after inertia {v['moveend']:.0f}, "
                    f"wire {_kb(v['wire'])}" for v in views))
    log(f"reload (warm cache): {_kb(view['reload_wire'])} on the wire, counts drawn at "
        f"{view['reload_counts_ms']:.0f} ms")

    log("\n== zooming in at the centre of the district (from the first view, one step after another)")
    log(f"{'step':<36} {'kind':<10} {'features':>8} {'drawn in':>9} {'requests':>8} {'wire':>10} "
        f"{'cases wire':>11} {'cases JSON':>11}")
    for s in steps:
        log(f"{s['label']:<36} {s['kind']:<10} {s['features']:>8,} {s['drawn_ms']:>7.0f} ms {s['requests']:>8} "
            f"{_kb(s['wire']):>10} {_kb(s['cases_wire']):>11} {_kb(s['cases_body']):>11}"
            + ("  (truncated)" if s["truncated"] else ""))

    log(f"\n== server: GET /api/cases/map, median of {SERVER_REPEATS} (one keep-alive connection, after a warm-up)")
    log(f"{'view':<24} {'median':>9} {'max':>9} {'JSON':>10} {'on wire':>10}")
    for t in timings:
        log(f"{t['label']:<24} {t['median_ms']:>6.1f} ms {t['max_ms']:>6.1f} ms {_kb(t['bytes']):>10} "
            f"{_kb(t['wire_body']):>10}")

    interactive_s = view["interactive"] / 1000
    max_markers = max((s["features"] for s in steps if s["kind"] == "points"), default=0)
    ok_bytes = view["wire"] <= GOAL_FIRST_VIEW_BYTES
    ok_time = interactive_s <= GOAL_INTERACTIVE_S
    ok_markers = max_markers <= MAX_MARKERS
    log(f"\n== goals ({results['open_cases']:,} open cases)")
    log(f"first view ≤ {_kb(GOAL_FIRST_VIEW_BYTES)} on the wire: {'MET' if ok_bytes else 'NOT MET'} "
        f"({_kb(view['wire'])})")
    log(f"interactive ≤ {GOAL_INTERACTIVE_S:.0f} s: {'MET' if ok_time else 'NOT MET'} ({interactive_s:.2f} s)")
    log(f"markers ≤ {MAX_MARKERS:,}: {'MET' if ok_markers else 'NOT MET'} ({max_markers:,} at most)")
    results.update(first_views=views, zoom_steps=steps, server=timings, first_view_wire=view["wire"],
                   interactive_s=interactive_s, goals_met=ok_bytes and ok_time and ok_markers)


if __name__ == "__main__":
    sys.exit(main())
