"""Each role's day on the map (issue 17), in a real browser: a grid worker reporting on a phone, a street
leader finding overdue cases, dispatching and whistling on a desktop, the hotline's callback, a
planner ranking and exporting. axe-core (from the npm lockfile, served from static/vendor) checks
every page and form on the way: no critical or serious WCAG 2 A/AA violation."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from geo.services.accounts import authenticate, create_user
from geo.services.cases import NewCase, create_case
from geo.services.workflow import act
from tests.conftest import ARTIFACTS, load_tiny_hierarchy, load_tiny_reference

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "workplace-day-pw"
AXE = Path(__file__).resolve().parents[1] / "webmap/static/vendor/axe-core/axe.min.js"
PHONE = {"viewport": {"width": 375, "height": 667}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1366, "height": 768}}
#: The grid worker's grid: 110101002001002 (网格001002 in 社区001, 景山街道; tests/geometries.py).
GRID = "110101002001002"
#: Where the day's cases are (all in the worker's grid).
OLD_0101 = (116.3175, 39.9025)
OVERDUE_0602 = (116.3180, 39.9030)
OTHER_0101 = (116.3185, 39.9040)
CLOSED_0101 = (116.3190, 39.9050)
IDS: dict[str, str] = {}
#: The end of a date range that holds today's cases, whatever the hour in Beijing.
TOMORROW = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()


@pytest.fixture(scope="module")
def server(admin_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on waitress over the tiny hierarchy, its departments and duty list, the day's people
    and cases: an old 0101 case (a duplicate to find), a 0602 case three days late for dispatch,
    another open case of the street, and a closed case waiting for its callback."""
    from tests.conftest import _admin, _clone, live_server

    name, url = _clone(admin_url, template_db)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path_factory.mktemp("boundaries"))
        load_tiny_reference(session, tmp_path_factory.mktemp("reference"))
        leader = create_user(session, "leader", role="street_leader", scope="110101002", password=PASSWORD,
                             display_name="王街道")
        create_user(session, "worker", role="grid_worker", scope=GRID, password=PASSWORD, display_name="李网格")
        create_user(session, "cgw", role="department_staff", department="CGW", password=PASSWORD,
                    display_name="赵城管")
        create_user(session, "hotline", role="hotline", scope="110101", password=PASSWORD)
        create_user(session, "planner", role="planner", password=PASSWORD)
        for key, (lon, lat), category in (("old", OLD_0101, "0101"), ("overdue", OVERDUE_0602, "0602"),
                                          ("other", OTHER_0101, "0101"), ("closed", CLOSED_0101, "0101")):
            IDS[key] = create_case(session, NewCase(lon=lon, lat=lat, category=category, description=f"{key} 案件"),
                                   user=leader)["id"]
        session.execute(text("UPDATE cases SET dispatch_due = now() - interval '3 days 2 hours' WHERE case_no = :n"),
                        {"n": IDS["overdue"]})
        cgw = authenticate(session, "cgw", PASSWORD)
        act(session, leader, IDS["closed"], "dispatch")
        for step in ("sign", "start"):
            act(session, cgw, IDS["closed"], step)
        act(session, cgw, IDS["closed"], "resolve", note="已清理")
        act(session, leader, IDS["closed"], "check")
        act(session, leader, IDS["closed"], "close")
    engine.dispose()
    with live_server(url) as base:
        yield base
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: `make test` installs Debian's chromium package"
    assert AXE.exists(), "axe-core is missing: the setup step copies it from node_modules (package-lock.json)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync"])
        yield b
        b.close()


@pytest.fixture
def open_page(browser, request: pytest.FixtureRequest):
    """open_page(**context options) → a page in a fresh zh-CN context; a screenshot when the test fails."""
    contexts = []

    def make(**kwargs):
        context = browser.new_context(locale="zh-CN", **kwargs)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        return page

    dialogs: list[str] = []
    make.dialogs = dialogs
    yield make
    report = getattr(request.node, "rep_call", None)
    for i, context in enumerate(contexts):
        if report is not None and report.failed and context.pages:
            ARTIFACTS.mkdir(exist_ok=True)
            context.pages[0].screenshot(path=str(ARTIFACTS / f"{request.node.name}-{i}.png"), full_page=True)
        context.close()


def _login(page, server: str, username: str) -> None:
    page.goto(server + "/")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def _map(page, server: str, username: str, lat: float, lon: float, zoom: int = 17) -> None:
    _login(page, server, username)
    page.wait_for_function("() => window.gridmapMap !== undefined")
    page.evaluate("([lat, lon, z]) => window.gridmapMap.setView([lat, lon], z, {animate: false})", [lat, lon, zoom])
    page.wait_for_function("() => Number(document.querySelector('.leaflet-gm-cases-pane').dataset.markers || 0) >= 1")


def axe_violations(page, selector: str | None = None) -> list[dict]:
    """axe-core's critical and serious WCAG 2 A/AA violations on the page (or inside ``selector``)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(url="/static/vendor/axe-core/axe.min.js")  # served here: the CSP refuses inline
    return page.evaluate("""async (selector) => {
        const result = await axe.run(selector ? document.querySelector(selector) : document,
            {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
        return result.violations.filter((v) => v.impact === 'critical' || v.impact === 'serious')
            .map((v) => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' '))}));
    }""", selector)


def _tap_map_at(page, lat: float, lon: float) -> None:
    point = page.evaluate("([lat, lon]) => { const p = window.gridmapMap.latLngToContainerPoint([lat, lon]);"
                          " return [p.x, p.y]; }", [lat, lon])
    box = page.locator(".leaflet-container").bounding_box()
    page.touchscreen.tap(box["x"] + point[0], box["y"] + point[1])


def _big_photo(tmp_path: Path) -> Path:
    """A 2400 × 1800 (4.3 MP) photo straight from a phone camera."""
    from PIL import Image

    path = tmp_path / "现场.png"
    Image.new("RGB", (2400, 1800), (200, 60, 30)).save(path, "PNG")
    return path


def _draft(page) -> dict | None:
    return page.evaluate("JSON.parse(localStorage.getItem('gridmap.reportDraft') || 'null')")


def _abort_case_posts(route) -> None:
    if route.request.method == "POST":
        route.abort("internetdisconnected")
    else:
        route.continue_()


def test_grid_worker_reports_on_a_phone_and_keeps_the_draft_through_a_lost_connection(server, open_page, tmp_path):
    page = open_page(**PHONE)
    _map(page, server, "worker", OLD_0101[1], OLD_0101[0])
    assert "user-scalable=no" not in page.content() and "maximum-scale" not in page.content()  # pinch-zoom allowed
    assert axe_violations(page) == []

    page.get_by_role("button", name="上报").tap()
    assert page.get_by_role("button", name="使用当前位置").first.is_visible()
    # A tap next to the old case picks the place: it does not open the old case.
    _tap_map_at(page, OLD_0101[1] + 0.0001, OLD_0101[0] + 0.0001)
    form = page.locator(".gm-report-form")
    form.wait_for()
    placement = page.locator("#gm-panel .gm-placement")
    placement.get_by_text("将上报到：网格001002（社区001）").wait_for()
    assert page.locator("#gm-panel h2").inner_text() == "上报问题"
    # The pin is drawn, and kept above the bottom sheet.
    pin = page.locator(".gm-pin").bounding_box()
    sheet = page.locator("#gm-panel").bounding_box()
    assert pin and sheet and pin["y"] + pin["height"] <= sheet["y"]
    assert axe_violations(page, "#gm-panel") == []

    # Categories grouped by their big class, named (the code is the tooltip).
    page.wait_for_function("() => document.querySelectorAll('.gm-report-form optgroup').length >= 2")
    option = form.locator("optgroup[label='市容环境'] option[value='0101']")
    assert option.inner_text() == "暴露垃圾" and option.get_attribute("title") == "0101"
    form.get_by_label("问题分类").select_option("0101")
    duplicates = form.locator(".gm-duplicates")
    duplicates.get_by_role("button", name="是同一问题（补充照片）").wait_for()
    assert "old 案件" in duplicates.inner_text()
    form.get_by_label("问题描述").fill("东门垃圾桶满溢，附照片")
    form.locator("input[type=file]").set_input_files(str(_big_photo(tmp_path)))
    notes = form.locator(".gm-photo-notes")
    notes.get_by_text("已压缩", exact=False).wait_for()
    assert "2400×1800 → 1633×1225" in notes.inner_text()
    duplicates.get_by_role("button", name="继续上报（不是同一问题）").tap()
    assert duplicates.inner_text() == ""
    page.wait_for_function("() => (JSON.parse(localStorage.getItem('gridmap.reportDraft') || '{}').photos || [])"
                           ".length === 1")
    assert _draft(page)["description"] == "东门垃圾桶满溢，附照片" and _draft(page)["category"] == "0101"

    # The network drops while sending: a clear error, 重试, a button that works, and the draft kept.
    page.route("**/api/cases", _abort_case_posts)
    form.get_by_role("button", name="提交").tap()
    error = form.locator(".gm-form-error")
    error.get_by_text("网络连接失败", exact=False).wait_for()
    assert form.get_by_role("button", name="重试").is_visible()
    assert form.get_by_role("button", name="提交").is_enabled()
    assert _draft(page)["description"] == "东门垃圾桶满溢，附照片"

    # Even a reload loses nothing: the form comes back where it was, with the text and the photo.
    page.reload()
    page.wait_for_function("() => window.gridmapMap !== undefined")
    form = page.locator(".gm-report-form")
    form.wait_for()
    page.locator("#gm-panel .gm-form-error").get_by_text("已恢复未发送的上报草稿", exact=False).wait_for()
    page.wait_for_function("() => document.querySelector('.gm-report-form select[name=category]').value === '0101'")
    assert form.get_by_label("问题描述").input_value() == "东门垃圾桶满溢，附照片"
    form.locator(".gm-photo-notes").get_by_text("草稿中的 1 张照片", exact=False).wait_for()
    page.locator("#gm-panel .gm-placement").get_by_text("将上报到：网格001002", exact=False).wait_for()
    form.get_by_role("button", name="提交").tap()
    form.get_by_role("button", name="重试").wait_for()

    page.unroute("**/api/cases", _abort_case_posts)
    form.get_by_role("button", name="重试").tap()
    panel = page.locator("#gm-panel")
    panel.locator(".gm-panel-message").get_by_text("已上报，照片已上传").wait_for()
    page.wait_for_function("() => document.querySelector('.gm-photos img') && "
                           "document.querySelector('.gm-photos img').naturalWidth === 1633")
    assert "东门垃圾桶满溢" in panel.inner_text()
    assert "受理 · 李网格" in panel.locator(".gm-timeline").inner_text()  # display names, not user names
    assert _draft(page) is None
    assert open_page.dialogs == []


def test_grid_worker_adds_a_photo_to_the_existing_case_instead_of_a_new_one(server, open_page, tmp_path):
    page = open_page(**PHONE)
    _map(page, server, "worker", OTHER_0101[1], OTHER_0101[0])
    before = page.evaluate("id => fetch('/api/cases/' + id).then(r => r.json())"
                           ".then(f => f.properties.photos.length)", IDS["other"])
    page.get_by_role("button", name="上报").tap()
    _tap_map_at(page, OTHER_0101[1] + 0.0001, OTHER_0101[0])
    form = page.locator(".gm-report-form")
    page.wait_for_function("() => document.querySelectorAll('.gm-report-form optgroup').length >= 2")
    form.get_by_label("问题分类").select_option("0101")
    form.get_by_label("问题描述").fill("又满了")
    form.locator("input[type=file]").set_input_files(str(_big_photo(tmp_path)))
    form.locator(".gm-photo-notes").get_by_text("已压缩", exact=False).wait_for()
    item = form.locator(".gm-duplicate", has_text="other 案件")
    item.get_by_role("button", name="是同一问题（补充照片）").tap()
    panel = page.locator("#gm-panel")
    panel.locator(".gm-panel-message").get_by_text("已补充到已有案件（照片已上传）").wait_for()
    assert panel.locator(".gm-tip-code").first.inner_text() == IDS["other"]
    assert panel.locator(".gm-photos img").count() == before + 1
    assert "补充：又满了" in panel.locator(".gm-timeline").inner_text()
    assert _draft(page) is None


def test_reporting_by_keyboard_uses_the_map_centre(server, open_page):
    page = open_page(**DESKTOP)
    _map(page, server, "worker", OLD_0101[1] + 0.001, OLD_0101[0] + 0.001)
    # Polygons are out of the Tab order: 上报 is a few presses away, not dozens.
    page.wait_for_function("() => document.querySelectorAll('.leaflet-gm-grid-pane path').length >= 1")
    assert page.evaluate("[...document.querySelectorAll('.leaflet-pane path')].every(p => p.tabIndex < 0)")
    presses = 0
    while page.evaluate("document.activeElement.textContent") != "上报" and presses < 60:
        page.keyboard.press("Tab")
        presses += 1
    # the bar's controls (a date field is three stops), the case list's head, shortcuts and pager
    # (open beside the map from 1,000 px), the map, zoom, 上报 — never the dozens of boundary shapes
    assert presses < 40
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement.textContent === '使用地图中心'")
    page.keyboard.press("Enter")
    page.locator("#gm-panel .gm-placement").get_by_text("将上报到：网格001002（社区001）").wait_for()
    centre = page.evaluate("window.gridmapMap.getCenter()")
    coords = page.locator("#gm-panel .gm-tip-code").first.inner_text()
    assert coords == f"{centre['lng']:.6f}, {centre['lat']:.6f}"
    assert page.evaluate("document.getElementById('gm-panel').contains(document.activeElement)")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('gm-panel').hidden")
    assert page.locator(".gm-pin").count() == 0


def test_street_leader_finds_the_overdue_case_dispatches_and_whistles(server, open_page):
    page = open_page(**DESKTOP)
    _map(page, server, "leader", OVERDUE_0602[1], OVERDUE_0602[0])
    assert axe_violations(page) == []
    page.locator("#gm-filters input[name=overdue]").check()
    page.wait_for_function("() => Number(document.querySelector('.leaflet-gm-cases-pane').dataset.markers) === 1")
    marker = page.evaluate("window.gridmapCases.markers()[0]")
    assert marker["id"] == IDS["overdue"]
    point = page.evaluate("([lat, lon]) => { const p = window.gridmapMap.latLngToContainerPoint([lat, lon]);"
                          " return [p.x, p.y]; }", [marker["lat"], marker["lng"]])
    box = page.locator(".leaflet-container").bounding_box()
    page.mouse.click(box["x"] + point[0], box["y"] + point[1])
    panel = page.locator("#gm-panel")
    panel.locator(".gm-panel-row", has_text="派遣时限").get_by_text("派遣超期 3 天").wait_for()
    assert "（派遣超期 3 天）" in panel.locator(".gm-panel-row", has_text="状态").inner_text()
    assert page.evaluate("document.getElementById('gm-panel').contains(document.activeElement)")
    # Names in the panel, codes in the tooltips.
    grid = panel.locator(".gm-panel-row", has_text="网格").locator("span").nth(1)
    assert grid.inner_text() == "网格001002" and grid.get_attribute("title") == GRID
    assert axe_violations(page, "#gm-panel") == []

    panel.locator("button[data-action=dispatch]").click()
    form = panel.locator("form.gm-action-form")
    form.locator(".gm-checklist input[type=checkbox]").nth(2).wait_for()  # touch-friendly, no Ctrl
    assert "Ctrl" not in form.inner_text()
    form.get_by_role("button", name="确定").click()
    panel.locator(".gm-panel-message").get_by_text("派遣：已完成").wait_for()
    assert "派遣 · 王街道" in panel.locator(".gm-timeline").inner_text()
    assert "派遣超期" not in panel.inner_text()
    assert "距响应时限" in panel.locator(".gm-panel-row", has_text="响应时限").inner_text()

    # The whistle form starts from the case's departments (0602 in 景山街道: lead GA, co HBJ).
    panel.locator("button[data-action=whistle]").click()
    whistle = panel.locator("form.gm-whistle-form")
    page.wait_for_function(
        "() => document.querySelector('.gm-whistle-form select[name=lead_department]').value === 'GA'")
    assert whistle.get_by_label("生态环境局").is_checked()
    assert not whistle.get_by_label("城管执法局").is_checked()
    assert "按住" not in whistle.inner_text()
    cases = whistle.locator(".gm-checklist[data-name=case_ids]")
    cases.locator(f"input[value='{IDS['other']}']").wait_for()
    assert cases.locator(f"input[value='{IDS['overdue']}']").is_checked()
    cases.locator(f"input[value='{IDS['other']}']").check()
    whistle.get_by_label("吹哨事由").select_option("综合执法")
    assert axe_violations(page, "#gm-panel") == []
    whistle.get_by_role("button", name="吹哨召集").click()
    message = panel.locator(".gm-panel-message")
    message.get_by_text("已吹哨：召集 公安分局、生态环境局 到场报到（2 个案件）").wait_for()
    other = page.evaluate("id => fetch('/api/cases/' + id).then(r => r.json())", IDS["other"])
    assert len(other["properties"]["whistles"]) == 1
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('gm-panel').hidden")
    assert open_page.dialogs == []


def test_a_summoned_department_checks_in_with_a_fresh_position_and_a_refusal_reads_as_an_error(server, open_page):
    leader = open_page(**DESKTOP)
    _map(leader, server, "leader", OLD_0101[1], OLD_0101[0])
    made = leader.evaluate("""id => fetch('/api/whistles', {method: 'POST',
        headers: {'Content-Type': 'application/json',
                  'X-CSRFToken': document.querySelector('meta[name=csrf-token]').content},
        body: JSON.stringify({case_ids: [id], lead_department: 'CGW', reason: '综合执法'})}).then(r => r.status)""",
                           IDS["old"])
    assert made == 201
    far = open_page(**DESKTOP, geolocation={"latitude": OLD_0101[1] + 0.01, "longitude": OLD_0101[0], "accuracy": 12},
                    permissions=["geolocation"])
    _login(far, server, "cgw")
    far.wait_for_function("() => window.gridmapPanel !== undefined")
    calls = far.evaluate("""() => { window.positionOptions = []; const get = navigator.geolocation.getCurrentPosition
        .bind(navigator.geolocation); navigator.geolocation.getCurrentPosition = (ok, bad, o) => {
        window.positionOptions.push(o); return get(ok, bad, o); }; return true; }""")
    assert calls
    far.evaluate("id => window.gridmapPanel.open(id)", IDS["old"])
    far.locator("#gm-panel button[data-action=check_in]").click()
    refusal = far.locator("#gm-panel .gm-panel-message.gm-panel-error")
    refusal.get_by_text("不算到场", exact=False).wait_for()
    assert "not on site" not in refusal.inner_text() and "定位精度约 12 米" in refusal.inner_text()
    assert refusal.get_attribute("role") == "alert"
    assert far.evaluate("window.positionOptions[0].maximumAge") == 0  # never a remembered position


def test_the_hotline_records_a_callback_in_an_inline_form(server, open_page):
    page = open_page(**DESKTOP)
    _login(page, server, "hotline")
    page.wait_for_function("() => window.gridmapPanel !== undefined")
    page.evaluate("id => window.gridmapPanel.open(id)", IDS["closed"])
    panel = page.locator("#gm-panel")
    panel.locator("button[data-action=callback]").click()
    form = panel.locator("form.gm-action-form")
    form.get_by_label("是否联系上诉求人").select_option("true")
    form.get_by_label("问题是否解决").select_option("true")
    form.get_by_label("诉求人是否满意").select_option("false")
    assert axe_violations(page, "#gm-panel") == []
    form.get_by_role("button", name="确定").click()
    panel.locator(".gm-panel-message").get_by_text("回访：已完成").wait_for()
    assert "回访" in panel.locator(".gm-timeline").inner_text()
    assert open_page.dialogs == []


def test_the_login_page_passes_axe(server, open_page):
    page = open_page(**PHONE)
    page.goto(server + "/login")
    assert axe_violations(page) == []


def test_planner_ranks_and_exports_for_excel(server, open_page):
    page = open_page(**DESKTOP)
    _login(page, server, "planner")
    page.goto(server + "/stats?level=community")
    page.wait_for_function("() => document.querySelectorAll('#gm-stats-table tbody tr').length === 4")
    assert axe_violations(page) == []
    failures: list[str] = []
    page.on("response", lambda r: failures.append(r.url) if r.status >= 400 else None)
    page.fill("input[name=from]", "2020-01-01")
    page.locator("input[name=from]").dispatch_event("change")
    page.locator("#gm-stats-status").get_by_text("请再选择结束日期", exact=False).wait_for()
    assert "from=" not in page.url and failures == []
    page.fill("input[name=to]", TOMORROW)
    page.locator("input[name=to]").dispatch_event("change")
    page.wait_for_function("() => to => location.search.includes('to=' + to)", arg=TOMORROW)
    page.locator("#gm-stats-table th[data-column=cases_total]").click()  # rank: most cases first
    page.wait_for_function("() => +document.querySelector('#gm-stats-table tbody tr td:nth-child(3)').textContent"
                           " >= 4")
    counts = [int(t) for t in page.locator("#gm-stats-table tbody tr td:nth-child(3)").all_inner_texts()]
    assert counts == sorted(counts, reverse=True) and failures == []

    excel = page.locator(".gm-export a[data-format=excel-csv]")
    assert "Excel" in page.locator(".gm-export-group", has=page.locator("a[data-format=excel-csv]")).inner_text()
    body = page.request.get(server + excel.get_attribute("href")).body()
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:4] == ["编码", "名称", "上级编码", "案件数"]
    assert next(r[:3] for r in rows if "110101002001" in r[0]) == ['="110101002001"', "社区001", '="110101002"']

    xlsx = page.request.get(server + page.get_attribute(".gm-export a[data-format=xlsx]", "href")).body()
    book = load_workbook(io.BytesIO(xlsx))
    notes = {row[0]: row[1] for row in book["说明"].iter_rows(values_only=True)}
    assert notes["受理日期"].startswith(f"2020-01-01 至 {TOMORROW}") and notes["范围"] == "全市"
    assert "生成时间" in notes and "响应率" in notes
    assert "GIS" in page.locator(".gm-export-group", has=page.locator("a[data-format=gpkg]")).inner_text()


def test_the_map_prints_with_title_legend_scale_and_date(server, open_page):
    page = open_page(**DESKTOP)
    _map(page, server, "leader", OLD_0101[1], OLD_0101[0])
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    page.emulate_media(media="print")
    assert not page.locator(".gm-bar").is_visible()
    assert page.locator(".gm-print-header h1").is_visible()
    assert "打印时间：" in page.locator("#gm-print-meta").inner_text()
    assert page.locator(".gm-legend .gm-legend-row").first.is_visible()
    assert page.locator(".leaflet-control-scale").is_visible()
    assert not page.locator(".leaflet-control-zoom").is_visible()
