"""The map in a real browser: Playwright (pip) driving Debian's /usr/bin/chromium, never a download."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from geo.services.accounts import create_user
from geo.services.cases import NewCase, create_case
from geo.services.hotspots import warm_gistar
from geo.services.workflow import act
from tests.conftest import ARTIFACTS, load_tiny_hierarchy, load_tiny_reference

PASSWORD = "street-leader-pw"
XSS = "<img src=x onerror=alert(1)>"
#: Two cases in the east street, one in the west (tests/geometries.py).
CASES = [(116.3175, 39.9025, "0101"), (116.3176, 39.9026, "0602"), (116.3025, 39.9025, "0101")]
#: Every case came in by the hotline: a requester (诉求人) and a request type (投诉).
REQUESTER = {"requester_name": "张三丰", "requester_phone": "13812345678", "request_type": "complaint"}

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
#: The module's database, for a test that adds what only it needs (it runs last: counts stay).
DATABASE: dict[str, str] = {}


@pytest.fixture(scope="module")
def server(admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a real WSGI server (waitress) on 127.0.0.1, over a database with the tiny hierarchy."""
    from tests.conftest import _admin, _clone, live_server

    name, url = _clone(admin_url, template_db)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path_factory.mktemp("boundaries"))
        load_tiny_reference(session, tmp_path_factory.mktemp("reference"))
        leader = create_user(session, "leader", role="street_leader", scope="110101", password=PASSWORD)
        create_user(session, "cgw", role="department_staff", department="CGW", password=PASSWORD)
        create_user(session, "planner", role="planner", password=PASSWORD)
        create_user(session, "hotline", role="hotline", scope="110101", password=PASSWORD)
        for lon, lat, category in CASES:
            create_case(session, NewCase(lon=lon, lat=lat, category=category, description=XSS, **REQUESTER),
                        user=leader)
    engine.dispose()
    DATABASE["url"] = url
    warm_gistar()  # as `gridmap serve` does before it listens
    with live_server(url) as base:
        yield base
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: `make test` installs Debian's chromium package"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def page(browser, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN")
    pg = context.new_page()
    yield pg
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def _paths(page) -> int:
    return page.locator(".leaflet-map-pane path").count()


def _login(page, server: str, password: str = PASSWORD, username: str = "leader") -> None:
    page.goto(server + "/")  # → the login page
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")


def _open_at_zoom_14(page, server: str) -> None:
    """Sign in, open the map and look at the whole tiny district at zoom 14 (below the grids' zoom 15)."""
    _login(page, server)
    page.wait_for_function("() => window.gridmapMap !== undefined")
    page.evaluate("window.gridmapMap.setView([39.91, 116.31], 14, {animate: false})")
    # District, 2 streets and 4 communities; no grids yet.
    page.wait_for_function("() => document.querySelectorAll('.leaflet-map-pane path').length === 7")


def test_map_draws_boundaries_and_makes_no_external_request(server, page):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    _open_at_zoom_14(page, server)
    outside = [u for u in requests if not u.startswith(server)]
    assert outside == []
    assert page.get_by_text("放大到 15 级显示网格").is_visible()


def test_grids_appear_when_zoomed_in_and_names_show_on_hover(server, page):
    _open_at_zoom_14(page, server)
    page.evaluate("window.gridmapMap.setView([39.905, 116.3025], 16, {animate: false})")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-map-pane path').length > 7")
    box = page.locator(".leaflet-container").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert "网格001001" in tooltip.inner_text()


def test_layer_control_hides_a_level(server, page):
    _open_at_zoom_14(page, server)
    page.get_by_label("社区").uncheck()
    page.wait_for_function("() => document.querySelectorAll('.leaflet-map-pane path').length === 3")


def test_search_jumps_to_a_boundary(server, page):
    _open_at_zoom_14(page, server)
    page.fill("#gm-search-input", "景山")
    page.locator("#gm-search-results li").first.click()
    page.wait_for_function("() => Math.abs(window.gridmapMap.getCenter().lng - 116.315) < 0.001")


def test_wrong_password_stays_on_the_login_page_with_a_chinese_error(server, page):
    _login(page, server, password="wrong-password")
    assert page.get_by_role("alert").inner_text() == "用户名或密码不正确，或尝试过于频繁（请稍后再试）。"
    assert "/login" in page.url


def test_logout_ends_the_session(server, page):
    _open_at_zoom_14(page, server)
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/login")
    page.goto(server + "/")
    assert "/login" in page.url


def test_api_docs_page_makes_no_external_request(server, page):
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20000)
    assert [u for u in requests if not u.startswith(server)] == []
    assert page.locator(".opblock-summary-path", has_text="/api/cases").count() >= 1


def test_case_layer_counts_when_zoomed_out_markers_when_zoomed_in(server, page):
    _open_at_zoom_14(page, server)
    # Zoom 14: counts per community (the two eastern cases share a community).
    page.wait_for_function("() => document.querySelectorAll('.gm-count').length === 2")
    counts = sorted(page.locator(".gm-count").all_inner_texts())
    assert counts == ["1", "2"]
    page.evaluate("window.gridmapMap.setView([39.9025, 116.3175], 17, {animate: false})")
    page.wait_for_function("() => +(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0) >= 2")
    assert page.locator(".gm-count").count() == 0
    _click_first_marker(page)
    popup = page.locator(".leaflet-popup-content")
    popup.wait_for()
    assert "已受理" in popup.inner_text() and "110101-" in popup.inner_text()


def test_filters_and_view_live_in_the_url(server, page):
    _open_at_zoom_14(page, server)
    page.evaluate("window.gridmapMap.setView([39.9025, 116.3175], 17, {animate: false})")
    page.wait_for_function("() => +(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0) === 2")
    page.wait_for_function("() => document.querySelectorAll('#gm-filters select[name=category] option').length > 1")
    page.select_option("#gm-filters select[name=category]", "0602")
    page.wait_for_function("() => +(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0) === 1")
    assert "category=0602" in page.url and "#map=17/39.9025" in page.url
    page.reload()  # the same URL in a fresh page, as a shared link opens
    page.wait_for_function("() => window.gridmapMap !== undefined")
    assert page.evaluate("window.gridmapMap.getZoom()") == 17
    page.wait_for_function("() => +(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0) === 1")
    assert page.input_value("#gm-filters select[name=category]") == "0602"


def test_case_panel_shows_text_safely_and_acts(server, page):
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _open_at_zoom_14(page, server)
    page.evaluate("window.gridmapMap.setView([39.9025, 116.3025], 17, {animate: false})")
    page.wait_for_function("() => +(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0) === 1")
    _click_first_marker(page)
    panel = page.locator("#gm-panel")
    panel.get_by_text(XSS).wait_for()  # the description appears as text …
    assert page.locator("#gm-panel img").count() == 0 and dialogs == []  # … never as an element
    assert panel.locator("button[data-action]").all_inner_texts() == ["派遣", "不予立案", "备注", "吹哨"]
    panel.locator("button[data-action=dispatch]").click()
    form = panel.locator("form.gm-action-form")  # an inline form (改派 picker), never a browser dialog
    assert form.get_by_label("主责部门").count() == 1
    form.get_by_role("button", name="确定").click()
    panel.get_by_text("派遣：已完成").wait_for()
    assert "派遣 · leader" in panel.locator(".gm-timeline").inner_text()
    # Nothing left in the lifecycle for the street leader but notes; whistling stays possible while it is open.
    assert panel.locator("button[data-action]").all_inner_texts() == ["备注", "吹哨"]
    assert dialogs == []


@pytest.mark.parametrize(("user", "name", "phone"), [("leader", "张**", "138****5678"),
                                                     ("hotline", "张三丰", "13812345678")])
def test_case_panel_shows_the_request_type_and_the_requester_as_the_api_gives_it(server, page, user, name, phone):
    _login(page, server, username=user)
    page.wait_for_function("() => window.gridmapMap !== undefined")
    page.evaluate("window.gridmapMap.setView([39.9025, 116.3025], 17, {animate: false})")
    page.wait_for_function("() => +(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0) === 1")
    _click_first_marker(page)
    panel = page.locator("#gm-panel")
    panel.get_by_text(name, exact=True).wait_for()
    rows = dict(line.split("\n", 1) for line in panel.locator(".gm-panel-row").all_inner_texts())
    assert (rows["诉求类型"], rows["诉求人"], rows["联系方式"]) == ("投诉", name, phone)
    assert (panel.locator(".gm-masked").count() == 2) == (user == "leader")
    if user == "leader":
        assert "13812345678" not in page.content() and "张三丰" not in page.content()


def _click_first_marker(page) -> None:
    """Case markers are drawn on one canvas: click where the first one is."""
    first = page.evaluate("window.gridmapCases.markers()[0]")
    _click_map_at(page, first["lat"], first["lng"])


def _click_map_at(page, lat: float, lon: float) -> None:
    point = page.evaluate("([lat, lon]) => { const p = window.gridmapMap.latLngToContainerPoint([lat, lon]);"
                          " return [p.x, p.y]; }", [lat, lon])
    box = page.locator(".leaflet-container").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])


def test_pin_to_report_offers_duplicates_then_creates_the_case(server, page):
    _open_at_zoom_14(page, server)
    page.evaluate("window.gridmapMap.setView([39.9025, 116.3175], 17, {animate: false})")
    page.get_by_role("button", name="上报").click()
    _click_map_at(page, 39.90250, 116.31770)  # 17 m from an existing 0101 case
    form = page.locator(".gm-report-form")
    form.wait_for()
    page.wait_for_function("() => document.querySelectorAll('.gm-report-form select[name=category] option').length > 1")
    form.locator("select[name=category]").select_option("0101")
    form.locator(".gm-duplicate").first.wait_for()  # the existing case is offered first
    form.locator("textarea").fill("东门垃圾桶满溢")
    form.get_by_role("button", name="提交").click()
    panel = page.locator("#gm-panel")
    panel.get_by_text("东门垃圾桶满溢").wait_for()
    assert "网格001002" in panel.inner_text() and "已受理" in panel.inner_text()  # names; codes in tooltips
    assert panel.get_by_text("网格001002").get_attribute("title") == "110101002001002"


def test_pin_to_report_outside_the_area_shows_the_error_inline(server, page):
    _open_at_zoom_14(page, server)
    page.get_by_role("button", name="上报").click()
    _click_map_at(page, 39.915, 116.325)  # east of the district: no grid
    page.wait_for_function("() => document.querySelectorAll('.gm-report-form select[name=category] option').length > 1")
    page.locator(".gm-report-form select[name=category]").select_option("0101")
    page.get_by_role("button", name="提交").click()
    page.locator(".gm-report-form .gm-login-error").get_by_text("不在任何网格内", exact=False).wait_for()


def _png_file(tmp_path: Path) -> Path:
    from PIL import Image

    path = tmp_path / "现场.png"
    Image.new("RGB", (120, 80), (30, 160, 60)).save(path, "PNG")
    return path


def test_pin_to_report_with_a_photo_shows_it_in_the_panel(server, page, tmp_path):
    _open_at_zoom_14(page, server)
    page.evaluate("window.gridmapMap.setView([39.9025, 116.3175], 17, {animate: false})")
    page.get_by_role("button", name="上报").click()
    _click_map_at(page, 39.90300, 116.31800)
    form = page.locator(".gm-report-form")
    page.wait_for_function("() => document.querySelectorAll('.gm-report-form select[name=category] option').length > 1")
    form.locator("select[name=category]").select_option("0602")
    form.locator("textarea").fill("路灯不亮，附照片")
    form.locator("input[type=file]").set_input_files(str(_png_file(tmp_path)))
    form.get_by_role("button", name="提交").click()
    panel = page.locator("#gm-panel")
    panel.get_by_text("已上报，照片已上传").wait_for()
    image = panel.locator(".gm-photos img")
    assert image.count() == 1
    page.wait_for_function("() => document.querySelector('.gm-photos img').naturalWidth === 120")
    assert "上传照片 · leader" in panel.locator(".gm-timeline").inner_text()


def test_whistle_from_the_panel_then_the_department_checks_in_on_site(server, browser, page):
    _open_at_zoom_14(page, server)
    page.evaluate("window.gridmapMap.setView([39.9026, 116.3176], 18, {animate: false})")
    page.wait_for_function("() => +(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0) >= 2")
    # The 0602 case (street lights) is the one at 116.3176, 39.9026; open it through the API's id.
    case_id = page.evaluate("""fetch('/api/cases?category=0602').then(r => r.json()).then(d => d.features
                               .find(f => Math.abs(f.geometry.coordinates[0] - 116.3176) < 1e-6).id)""")
    page.evaluate("id => window.gridmapPanel.open(id)", case_id)
    panel = page.locator("#gm-panel")
    panel.locator("button[data-action=whistle]").click()
    page.wait_for_function(
        "() => document.querySelectorAll('.gm-whistle-form select[name=lead_department] option').length > 1")
    panel.locator("select[name=lead_department]").select_option("CGW")
    panel.locator("select[name=reason]").select_option("综合执法")
    panel.get_by_role("button", name="吹哨召集").click()
    panel.get_by_text("已吹哨", exact=False).wait_for()
    assert "主责 " in panel.locator(".gm-whistle-box").inner_text() and "待报到" in panel.inner_text()

    def department_page(lat: float, lon: float):
        context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN",
                                      geolocation={"latitude": lat, "longitude": lon, "accuracy": 10},
                                      permissions=["geolocation"])
        staff = context.new_page()
        _login(staff, server, username="cgw")
        staff.wait_for_function("() => window.gridmapPanel !== undefined")
        staff.evaluate("id => window.gridmapPanel.open(id)", case_id)
        return context, staff

    far_context, far = department_page(39.9125, 116.3176)  # ≈ 1.1 km north
    far.locator("#gm-panel button[data-action=check_in]").click()
    far.locator("#gm-panel").get_by_text("不算到场", exact=False).wait_for()
    far_context.close()

    near_context, near = department_page(39.90262, 116.31762)
    near.locator("#gm-panel button[data-action=check_in]").click()
    near.locator("#gm-panel .gm-panel-message").get_by_text("已报到", exact=False).wait_for()
    assert "已报到" in near.locator("#gm-panel .gm-whistle-box").inner_text()
    assert near.locator("#gm-panel button[data-action=check_in]").count() == 0
    near_context.close()


def _post(page, url: str, body: dict) -> dict:
    """POST JSON from the signed-in page (its session cookie and CSRF token), as the modules do."""
    return page.evaluate("""([url, body]) => fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json',
        'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content}, body: JSON.stringify(body)})
        .then(async (r) => ({status: r.status, data: await r.json()}))""", [url, body])


def test_the_whistle_list_flies_to_the_first_case_and_opens_it(server, page):
    _open_at_zoom_14(page, server)
    case = _post(page, "/api/cases", {"lon": 116.3160, "lat": 39.9040, "category": "0101"})["data"]["id"]
    made = _post(page, "/api/whistles", {"case_ids": [case], "lead_department": "HBJ", "reason": "重点工作"})
    assert made["status"] == 201
    page.get_by_role("button", name="吹哨", exact=True).click()
    row = page.locator(f"#gm-panel .gm-whistle-row[data-whistle='{made['data']['id']}']")
    row.wait_for()
    assert "重点工作" in row.inner_text() and "1 个案件" in row.inner_text() and "待报到" in row.inner_text()
    assert page.locator("#gm-panel").get_by_label("显示").input_value() == "open"
    row.click()
    page.locator("#gm-panel .gm-tip-code", has_text=case).wait_for()
    page.wait_for_function("() => Math.abs(window.gridmapMap.getCenter().lng - 116.3160) < 0.0005")


def test_the_whistler_scores_a_summoned_department_in_the_case_panel(server, browser, page):
    _open_at_zoom_14(page, server)
    case = _post(page, "/api/cases", {"lon": 116.3165, "lat": 39.9045, "category": "0101"})["data"]["id"]
    assert _post(page, "/api/whistles", {"case_ids": [case], "lead_department": "HBJ",
                                         "reason": "综合执法"})["status"] == 201
    assert _post(page, f"/api/cases/{case}/actions", {"action": "dispatch"})["status"] == 200
    context = browser.new_context(locale="zh-CN")
    staff = context.new_page()
    _login(staff, server, username="cgw")
    staff.wait_for_function("() => window.gridmapPanel !== undefined")
    for step in ("sign", "start", "resolve"):  # the lead department finishes: the whistle closes
        assert _post(staff, f"/api/cases/{case}/actions", {"action": step, "note": "已处理"})["status"] == 200
    context.close()
    page.evaluate("id => window.gridmapPanel.open(id)", case)
    form = page.locator("#gm-panel .gm-score-form")
    form.wait_for()
    assert "生态环境局" in form.inner_text()
    form.get_by_label("到场").select_option("4")
    form.get_by_label("配合").select_option("5")
    form.get_by_label("效果").select_option("3")
    form.get_by_label("评语").fill("配合得好")
    form.get_by_role("button", name="提交评分").click()
    page.locator("#gm-panel .gm-panel-message").get_by_text("已给 生态环境局 评分").wait_for()
    assert page.locator("#gm-panel .gm-score-form").count() == 0
    assert "吹哨评分" in page.locator("#gm-panel .gm-timeline").inner_text()


def test_date_range_and_street_filters_narrow_the_cases_and_stay_in_the_url(server, page):
    _open_at_zoom_14(page, server)
    page.wait_for_function("() => document.querySelectorAll('.gm-count').length >= 2")
    form = page.locator("#gm-filters")
    form.locator("select[name=street]").select_option("110101001")
    page.wait_for_function("() => document.querySelectorAll('.gm-count').length === 1")
    assert page.locator(".gm-count").all_inner_texts() == ["1"]
    assert "street=110101001" in page.url
    form.locator("select[name=street]").select_option("")
    page.wait_for_function("() => document.querySelectorAll('.gm-count').length >= 2")
    form.locator("input[name=to]").fill("2020-01-31")  # every case was received after this day
    page.wait_for_function("() => document.querySelectorAll('.gm-count').length === 0")
    assert "to=2020-01-31" in page.url
    page.reload()
    page.wait_for_function("() => window.gridmapMap !== undefined")
    assert page.input_value("#gm-filters input[name=to]") == "2020-01-31"
    page.wait_for_timeout(300)
    assert page.locator(".gm-count").count() == 0


def test_locate_me_centres_the_map_on_the_device(server, browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800}, locale="zh-CN",
                                  geolocation={"latitude": 39.9031, "longitude": 116.3102, "accuracy": 25},
                                  permissions=["geolocation"])
    page = context.new_page()
    try:
        _open_at_zoom_14(page, server)
        page.get_by_role("button", name="定位到我的位置").click()
        page.wait_for_function("() => Math.abs(window.gridmapMap.getCenter().lat - 39.9031) < 0.0005 && "
                               "Math.abs(window.gridmapMap.getCenter().lng - 116.3102) < 0.0005")
        assert page.evaluate("window.gridmapMap.getZoom()") >= 15
    finally:
        context.close()


def test_phone_viewport_is_usable(server, browser, request):
    context = browser.new_context(viewport={"width": 375, "height": 667}, locale="zh-CN", is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    page = context.new_page()
    try:
        _open_at_zoom_14(page, server)
        # Nothing wider than the screen; the bar's controls fit and can be reached.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        for name in ("上报", "筛选", "退出", "定位到我的位置"):
            box = page.get_by_role("button", name=name).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 375 and box["y"] + box["height"] <= 667, name
        # Legend and layer list are folded behind buttons, leaving the map free.
        assert not page.locator(".gm-legend .gm-legend-row").first.is_visible()
        page.get_by_role("button", name="图例").click()
        assert page.locator(".gm-legend .gm-legend-row").first.is_visible()
        # Filters open from the 筛选 button and work.
        page.get_by_role("button", name="筛选").click()
        street = page.locator("#gm-filters select[name=street]")
        assert street.is_visible()
        street.select_option("110101002")
        page.wait_for_function("() => document.querySelectorAll('.gm-count').length === 1")
        page.get_by_role("button", name="筛选 (1)").click()
        assert not street.is_visible()
        # Pin to report works by touch and the form fits the screen.
        page.evaluate("window.gridmapMap.setView([39.9025, 116.3175], 17, {animate: false})")
        page.get_by_role("button", name="上报").tap()
        box = page.locator(".leaflet-container").bounding_box()
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 3)
        form = page.locator(".gm-report-form")
        form.wait_for()
        submit = form.get_by_role("button", name="提交")
        submit.scroll_into_view_if_needed()
        sbox = submit.bounding_box()
        assert sbox and sbox["x"] >= 0 and sbox["x"] + sbox["width"] <= 375
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
        raise
    finally:
        context.close()


def test_planner_page_sorts_charts_and_exports(server, page):
    _login(page, server)
    page.goto(server + "/stats?level=community")
    table = page.locator("#gm-stats-table")
    page.wait_for_function("() => document.querySelectorAll('#gm-stats-table tbody tr').length === 4")
    assert page.input_value("select[name=level]") == "community"
    table.locator("th[data-column=cases_total]").click()  # numbers sort largest first
    counts = [int(t) for t in table.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and counts[0] >= 2
    table.locator("th[data-column=cases_total]").click()
    counts = [int(t) for t in table.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    assert counts == sorted(counts)
    table.locator("tbody tr").first.click()
    page.wait_for_function("() => document.querySelectorAll('#gm-trend-chart rect').length >= 12")
    assert "近 12 个月趋势" in page.inner_text("#gm-trend-title")
    page.fill("input[name=from]", "2020-01-01")
    page.fill("input[name=to]", "2020-01-31")
    page.locator("input[name=to]").dispatch_event("change")
    page.wait_for_function("() => [...document.querySelectorAll('#gm-stats-table tbody tr td:nth-child(3)')]"
                           ".every(td => td.textContent === '0')")
    href = page.get_attribute(".gm-export a[data-format=csv]", "href")
    assert href == "/api/stats/community.csv?from=2020-01-01&to=2020-01-31" and "from=2020-01-01" in page.url
    download = page.request.get(server + href)
    assert download.ok and download.body().startswith(b"\xef\xbb\xbf")


def test_thematic_layers_draw_with_their_legends(server, page):
    _open_at_zoom_14(page, server)
    theme = page.locator(".gm-theme")
    theme.locator("select[name=theme]").select_option("measure")
    theme.locator("select[name=theme_level]").select_option("community")
    theme.locator("select[name=theme_measure]").select_option("cases_total")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-gm-theme-pane path').length === 4")
    assert theme.locator(".gm-theme-legend .gm-legend-row").count() >= 2
    assert "theme=measure%3Acommunity%3Acases_total" in page.url or "theme=measure:community:cases_total" in page.url
    theme.locator("select[name=theme]").select_option("gistar")
    theme.locator(".gm-theme-legend", has_text="热点 99%").wait_for()
    assert theme.locator(".gm-theme-legend .gm-legend-row").count() == 7
    theme.locator("select[name=theme]").select_option("h3")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-gm-theme-pane path').length >= 1")
    theme.locator("select[name=theme]").select_option("heat")
    page.wait_for_function("() => document.querySelector('canvas.leaflet-heatmap-layer') !== null")
    theme.locator("select[name=theme]").select_option("")
    page.wait_for_function("() => document.querySelectorAll('.leaflet-gm-theme-pane path').length === 0")


def test_a_planner_sets_changes_and_closes_a_topic_on_the_topics_page(server, page):
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    _login(page, server, username="planner")
    page.goto(server + "/stats")
    page.click("a[href='/topics']")
    page.wait_for_selector("#gm-topic-form")
    page.wait_for_function("() => document.querySelectorAll('#gm-topic-lead option').length > 0"
                           " && document.querySelectorAll('#gm-topic-category option').length > 0")
    page.get_by_label("题目").fill(XSS)
    page.get_by_label("问题分类").select_option("0101")
    page.get_by_label("目标区划编码").fill("110101002")
    page.get_by_label("牵头部门").select_option("CGW")
    page.get_by_label("目标", exact=True).fill("减少一半")
    page.click("#gm-topic-form button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#gm-topics-table tbody tr').length === 1")
    row = page.locator("#gm-topics-table tbody tr").first
    assert row.locator("td").first.inner_text() == XSS  # text, never markup
    assert page.locator("#gm-topics-table img").count() == 0
    row.click()
    page.wait_for_selector("#gm-topic-detail .gm-topic-edit")
    page.fill("#gm-edit-goal", "减少七成")
    page.click("#gm-topic-detail button[type=submit]")
    page.wait_for_function("() => document.querySelector('#gm-topic-detail').textContent.includes('减少七成')")
    page.click("#gm-topic-detail button[type=button]")
    page.wait_for_function("() => !document.querySelector('#gm-topic-detail .gm-topic-edit')"
                           " && document.querySelectorAll('#gm-topic-detail li').length === 3")
    assert errors == []


def _returned_case() -> str:
    """A case CGW sent back to the street."""
    from geo.services.accounts import authenticate

    engine = create_engine(DATABASE["url"])
    with Session(engine) as session, session.begin():
        leader, cgw = authenticate(session, "leader", PASSWORD), authenticate(session, "cgw", PASSWORD)
        number = create_case(session, NewCase(lon=116.3178, lat=39.9022, category="0101"), user=leader)["id"]
        act(session, leader, number, "dispatch")
        act(session, cgw, number, "return", note="不属于城管职责")
    engine.dispose()
    return number


def test_a_returned_case_shows_why_and_is_reassigned_in_the_panel(server, page):
    number = _returned_case()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    _login(page, server)
    page.wait_for_function("() => window.gridmapPanel !== undefined")
    page.evaluate("(id) => window.gridmapPanel.open(id)", number)
    panel = page.locator("#gm-panel")
    reason = panel.locator(".gm-panel-row", has_text="退回原因")
    reason.wait_for()  # the return's reason, shown to the dispatcher
    assert "不属于城管职责" in reason.inner_text()
    panel.locator("button[data-action=dispatch]").click()
    form = panel.locator("form.gm-action-form")
    form.get_by_label("主责部门").select_option("HBJ")
    form.get_by_role("button", name="确定").click()
    panel.get_by_text("派遣：已完成").wait_for()
    assert "生态环境局" in panel.inner_text() and dialogs == []
