"""The map as a workplace in a real browser (issue 17): the case list beside the map (a row opens the case),
search by case number and by address, count bubbles that zoom and show their overdue part, a street
leader's own area first, the basemap switcher over an offline MBTiles file — on a 1366 × 768 desktop and
a 375 × 667 phone. Playwright (pip) driving Debian's /usr/bin/chromium."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.services.accounts import create_user
from geo.services.addresses import load_addresses
from geo.services.cases import NewCase, create_case
from tests.conftest import ARTIFACTS, load_tiny_hierarchy, load_tiny_reference

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "workplace-pw"
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 667}
#: East street (110101002) is 116.31–116.32 °E, 39.90–39.92 °N (tests/geometries.py).
EAST = (116.31, 39.90, 116.32, 39.92)
PLATES = [("景山前街10号", 116.3175, 39.9025), ("东华门大街1号", 116.3025, 39.9025)]


@contextmanager
def _serve(url: str, basemap: str) -> Iterator[str]:
    from waitress.server import create_server

    from webmap import create_app

    app = create_app({"DATABASE_URL": url, "GRIDMAP_SECRET_KEY": "test", "GRIDMAP_BASEMAP": basemap})
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()


@pytest.fixture(scope="module")
def world(admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Two servers over one database (the tiny hierarchy, an east-street leader, cases, door plates): one
    with the sample MBTiles basemap, one with none."""
    from scripts.make_sample_mbtiles import make_mbtiles
    from tests.conftest import _admin, _clone

    name, url = _clone(admin_url, template_db)
    folder = tmp_path_factory.mktemp("workplace")
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, folder / "boundaries")
        load_tiny_reference(session, folder / "reference")
        plates = folder / "plates.csv"
        pd.DataFrame(PLATES, columns=["地址", "经度", "纬度"]).to_csv(plates, index=False)
        load_addresses(session, plates)
        leader = create_user(session, "east", role="street_leader", scope="110101002", password=PASSWORD)
        create_user(session, "city", role="street_leader", scope="110101", password=PASSWORD)
        ids = [create_case(session, NewCase(lon=lon, lat=lat, category="0101", description=f"东侧问题{i}",
                                            external_id=f"W-{i}", source="api"), user=leader)["id"]
               for i, (lon, lat) in enumerate([(116.3175, 39.9025), (116.3180, 39.9030), (116.3150, 39.9150)])]
        # The second case is three days past its dispatch deadline: first in the list, red in its bubble.
        session.execute(text("UPDATE cases SET dispatch_due = now() - interval '3 days' WHERE case_no = :id"),
                        {"id": ids[1]})
    engine.dispose()
    tiles = make_mbtiles(folder / "base.mbtiles", zooms=range(0, 4))
    with _serve(url, str(tiles)) as with_tiles, _serve(url, "none") as without:
        yield {"tiles": with_tiles, "none": without, "ids": ids}
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: `make test` installs Debian's chromium package"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu",
                                                               "--disable-background-networking", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture(params=["desktop", "phone"])
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    phone = request.param == "phone"
    context = browser.new_context(viewport=PHONE if phone else DESKTOP, locale="zh-CN", is_mobile=phone,
                                  has_touch=phone)
    pg = context.new_page()
    pg.phone = phone
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.errors = errors
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


def _login(page, base: str, username: str = "east") -> None:
    page.goto(base + "/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_function("() => window.gridmapMap !== undefined")


def _open_list(page) -> None:
    if page.phone:  # folded away on a phone until asked for
        assert page.locator("#gm-list").is_hidden()
        page.get_by_role("button", name="列表").click()
    page.locator("#gm-list .gm-list-row").first.wait_for()


def test_a_street_leader_starts_on_their_street_outlined_with_the_shortcuts(world, page):
    _login(page, world["tiles"])
    bounds = page.evaluate("(() => { const b = window.gridmapMap.getBounds(); "
                           "return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
    # The view holds the east street and is not much wider than it (not the whole district).
    assert bounds[0] <= EAST[0] and bounds[2] >= EAST[2] and bounds[1] <= EAST[1] and bounds[3] >= EAST[3]
    centre = page.evaluate("[window.gridmapMap.getCenter().lng, window.gridmapMap.getCenter().lat]")
    assert centre == pytest.approx([116.315, 39.91], abs=1e-3)  # the street's centre, not the district's (116.31)
    assert page.locator(".leaflet-gm-home-pane canvas").count() == 1
    _open_list(page)
    shortcut = page.locator("#gm-list .gm-shortcut", has_text="我的街道")
    mine = page.get_by_role("checkbox", name="我的上报").last  # the list's shortcut (the filter form has one too)
    assert shortcut.is_visible() and mine.is_visible()
    page.evaluate("window.gridmapMap.setView([39.95, 116.40], 12, {animate: false})")
    shortcut.click()
    page.wait_for_function("() => window.gridmapMap.getBounds().contains([39.91, 116.315])")
    mine.check()  # the three cases were reported by this leader; the city leader reported none
    page.wait_for_function("() => document.querySelector('#gm-list .gm-list-count').textContent === '共 3 件'")
    assert "mine=true" in page.url
    assert page.errors == []


def test_my_reports_shows_only_the_cases_i_reported(world, page):
    _login(page, world["tiles"], username="city")
    if page.phone:
        page.get_by_role("button", name="列表").click()
    page.wait_for_function("() => /共 [0-9]+ 件/.test(document.querySelector('#gm-list .gm-list-count').textContent)")
    page.evaluate("window.gridmapMap.setView([39.91, 116.31], 14, {animate: false})")
    page.wait_for_function("() => document.querySelector('#gm-list .gm-list-count').textContent === '共 3 件'")
    page.get_by_role("checkbox", name="我的上报").last.check()
    page.wait_for_function("() => document.querySelector('#gm-list .gm-list-count').textContent === '共 0 件'")
    page.locator("#gm-list .gm-list-empty").wait_for()


def test_the_list_puts_the_overdue_case_first_and_a_row_opens_its_panel(world, page):
    _login(page, world["tiles"])
    _open_list(page)
    page.wait_for_function("() => document.querySelector('#gm-list .gm-list-count').textContent === '共 3 件'")
    first = page.locator("#gm-list .gm-list-row").first
    assert first.get_attribute("data-case") == world["ids"][1]
    assert "派遣超期 3 天" in first.inner_text()
    first.click()
    page.locator("#gm-panel .gm-tip-code", has_text=world["ids"][1]).wait_for()
    assert page.locator("#gm-panel").is_visible()
    if page.phone:
        assert page.locator("#gm-list").is_hidden()  # the sheet made way for the case
    page.wait_for_function("() => Math.abs(window.gridmapMap.getCenter().lng - 116.3180) < 0.001")
    assert page.errors == []


def test_the_list_follows_the_view_sort_and_filters_with_an_empty_state(world, page):
    _login(page, world["tiles"])
    _open_list(page)
    page.select_option("#gm-list select[name=sort]", "newest")
    page.wait_for_function(
        f"() => document.querySelector('#gm-list .gm-list-row').dataset.case === '{world['ids'][2]}'")
    page.evaluate("window.gridmapMap.setView([39.9026, 116.3177], 18, {animate: false})")
    page.wait_for_function("() => document.querySelector('#gm-list .gm-list-count').textContent === '共 2 件'")
    page.evaluate("window.gridmapMap.setView([39.91, 116.305], 17, {animate: false})")  # the west street
    page.locator("#gm-list .gm-list-empty").wait_for()
    assert page.locator("#gm-list .gm-list-count").inner_text() == "共 0 件"


def test_search_by_case_number_opens_the_case(world, page):
    _login(page, world["tiles"])
    page.fill("#gm-search-input", world["ids"][0])
    result = page.locator("#gm-search-results li", has_text=world["ids"][0])
    result.click()
    page.locator("#gm-panel .gm-tip-code", has_text=world["ids"][0]).wait_for()


def test_search_by_ticket_number_and_by_address_and_nothing_found_keeps_the_map(world, page):
    _login(page, world["tiles"])
    page.fill("#gm-search-input", "W-2")
    page.locator("#gm-search-results li", has_text="工单 W-2").wait_for()
    page.fill("#gm-search-input", "景山前街 10号")
    page.locator("#gm-search-results li", has_text="景山前街10号").click()
    page.wait_for_function("() => Math.abs(window.gridmapMap.getCenter().lng - 116.3175) < 0.0002 "
                           "&& window.gridmapMap.getZoom() === 18")
    before = page.evaluate("[window.gridmapMap.getCenter().lat, window.gridmapMap.getCenter().lng]")
    page.fill("#gm-search-input", "火星大道99号")
    page.locator("#gm-search-results li.gm-empty", has_text="没有找到").wait_for()
    assert page.evaluate("[window.gridmapMap.getCenter().lat, window.gridmapMap.getCenter().lng]") == before


def test_a_count_bubble_shows_its_overdue_part_and_zooms_in_on_click(world, page):
    _login(page, world["tiles"])
    page.evaluate("window.gridmapMap.setView([39.91, 116.315], 12, {animate: false})")
    bubble = page.locator(".gm-count", has_text="超期1")
    bubble.wait_for()
    assert bubble.text_content() == "3 · 超期1"
    assert bubble.locator(".gm-count-late").evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(213, 0, 0)"
    bubble.click()
    page.wait_for_function("() => window.gridmapMap.getZoom() === 13")
    page.wait_for_function("() => document.querySelectorAll('.gm-count').length === 2")  # one per community now
    page.locator(".gm-count", has_text="超期1").click()
    page.wait_for_function("() => window.gridmapMap.getZoom() === 15")


def test_the_basemap_switcher_shows_the_offline_mbtiles(world, page):
    _login(page, world["tiles"])
    if page.phone:
        page.get_by_role("button", name="图层").click()
    radio = page.get_by_label("示例离线底图")
    assert radio.is_checked()
    page.evaluate("window.gridmapMap.setView([39.91, 116.315], 3, {animate: false})")
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.leaflet-tile')].some(i => i.src.includes('/tiles/0/3/')"
                           " && i.complete && i.naturalWidth === 256)")
    assert page.locator(".gm-basemap-notice").count() == 0


def test_without_a_basemap_the_map_says_so(world, page):
    _login(page, world["none"])
    notice = page.locator(".gm-basemap-notice")
    assert notice.inner_text() == "未配置底图"
    assert page.locator("img.leaflet-tile").count() == 0


def test_a_loading_sign_shows_while_the_case_layer_is_fetched(world, page):
    held: list = []
    page.route("**/api/cases/map?**", lambda route: held.append(route))
    _login(page, world["tiles"])
    sign = page.locator(".gm-loading")
    sign.wait_for(state="visible")
    assert sign.inner_text() == "加载中…"
    for route in held:
        route.continue_()
    page.unroute("**/api/cases/map?**")
    sign.wait_for(state="hidden")


def test_no_two_map_controls_overlap(world, page):
    _login(page, world["tiles"])
    if page.phone:
        for name in ("图例", "图层", "专题"):
            page.get_by_role("button", name=name).click()
    page.wait_for_timeout(300)
    boxes = page.evaluate("""[...document.querySelectorAll('.leaflet-control')]
        .filter((e) => e.offsetParent !== null && e.offsetWidth > 0)
        .map((e) => { const r = e.getBoundingClientRect(); const c = e.parentElement.getBoundingClientRect();
                      return [e.className, Math.max(r.top, c.top), Math.min(r.bottom, c.bottom), r.left, r.right]; })
        .filter((b) => b[2] > b[1])""")
    overlaps = [(a[0], b[0]) for i, a in enumerate(boxes) for b in boxes[i + 1:]
                if a[1] < b[2] - 1 and b[1] < a[2] - 1 and a[3] < b[4] - 1 and b[3] < a[4] - 1]
    assert len(boxes) >= 6 and overlaps == []
