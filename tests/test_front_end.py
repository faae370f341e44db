"""The browser modules (webmap/static/js) without a browser: one home for labels and limits, imports
that resolve. Labels, limits and the status vocabulary reach the JavaScript through the page's
options JSON (webmap/page_options.py), never typed into it."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from geo.domain.permissions import User
from geo.domain.statuses import COLOURS, GROUPS, LEGEND, OPEN, STATES
from webmap.config import DEFAULTS, load_config
from webmap.page_options import map_options, status_filters

ROOT = Path(__file__).resolve().parents[1]
JS = ROOT / "webmap" / "static" / "js"
MODULES = sorted(JS.glob("*.js"))
ENTRY_POINTS = ("main.js", "stats.js", "topics.js")
IMPORT = re.compile(r"^import\s*\{([^}]*)\}\s*from\s*'([^']+)';", re.MULTILINE)
EXPORT = re.compile(r"^export\s+(?:const|let|function|class)\s+(\w+)", re.MULTILINE)


def _source(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _code(path: Path) -> str:
    """The module without its comments (a comment may name a limit; code may not)."""
    text = re.sub(r"/\*.*?\*/", "", _source(path), flags=re.DOTALL)
    return re.sub(r"(?m)^\s*//.*$|\s//\s.*$", "", text)


def test_the_old_scripts_are_gone():
    assert not (ROOT / "webmap" / "static" / "gridmap.js").exists()
    assert not (ROOT / "webmap" / "static" / "stats.js").exists()
    assert {p.name for p in MODULES} >= {"main.js", "stats.js", "dom.js", "options.js", "api.js", "panel.js"}


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_status_label_is_typed_into_a_module(path):
    source = _source(path)
    assert [name for name in STATES.values() if name in source] == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_status_code_or_group_is_typed_into_a_module(path):
    code = _code(path)
    assert [s for s in STATES if re.search(rf"""['"]{s}['"]""", code)] == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_whistle_word_is_typed_into_a_module(path):
    """Summons states, score aspects and whistle statuses come from the options (geo.domain.whistles)."""
    from geo.domain import whistles

    words = [*whistles.OUTCOMES.values(), *whistles.SCORE_ASPECTS.values(), *whistles.STATUS_NAMES.values()]
    code = _code(path)
    assert [w for w in words if re.search(rf"""['"（]{re.escape(w)}['"）]""", code)] == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_limit_is_typed_into_a_module(path):
    code = _code(path)
    radius = f"{DEFAULTS['GRIDMAP_CHECKIN_MAX_M']:g}"
    photo = f"{DEFAULTS['GRIDMAP_PHOTO_MAX_MB']:g}"
    assert not re.search(rf"\b{radius}\b", code), f"check-in radius {radius} typed in"
    assert not re.search(rf"\b{photo}\s*MB|\b1024\b", code), f"photo limit {photo} MB typed in"


def _imports(path: Path) -> list[tuple[Path, list[str]]]:
    return [((path.parent / target).resolve(), [n.strip().split(" as ")[0] for n in names.split(",") if n.strip()])
            for names, target in IMPORT.findall(_source(path))]


def _reachable(entry: str) -> set[Path]:
    seen: set[Path] = set()
    todo = [JS / entry]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(target for target, _ in _imports(path) if target.exists())
    return seen


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_import_of_an_entry_point_exists_and_is_exported(entry):
    for path in _reachable(entry):
        for target, names in _imports(path):
            assert target.exists(), f"{path.name} imports missing {target.name}"
            exported = set(EXPORT.findall(_source(target)))
            assert set(names) <= exported, f"{path.name} imports {set(names) - exported} not exported by {target.name}"


def test_every_module_is_used_by_a_page():
    used = set().union(*(_reachable(entry) for entry in ENTRY_POINTS))
    assert {p.name for p in MODULES} - {p.name for p in used} == set()


def test_status_filters_cover_every_open_or_closed_status_once():
    codes = [code for value, _ in status_filters() for code in value.split(",")]
    assert sorted(codes) == sorted({*OPEN, *GROUPS["closed"]})


def test_every_status_has_its_own_marker_colour():
    """Colours live with the statuses (geo.domain.statuses); two statuses sharing one would blur the map."""
    assert len(set(COLOURS.values())) == len(STATES)


def _options(role: str, **config) -> dict:
    user = User(1, "u", role, "110101" if role in ("grid_worker", "street_leader") else "",
                department="CGW" if role == "department_staff" else None)
    return map_options(load_config(config, environ={}), user, streets=[], folium={}, layers={},
                       urls={"boundaries": "/b/", "cases": "/c"}, extent=None)


def test_the_options_carry_the_settings_and_the_legend():
    options = _options("street_leader", GRIDMAP_CHECKIN_MAX_M=120, GRIDMAP_PHOTO_MAX_MB=3, GRIDMAP_PHOTOS_PER_CASE=7)
    assert options["limits"] | {"descriptionMax": 0} == {"checkInRadiusM": 120.0, "photoMaxMB": 3.0,
                                                        "photoMaxBytes": 3 * 1024 * 1024,
                                                        "photosPerCase": 7, "descriptionMax": 0}
    assert options["legendStatuses"] == list(LEGEND)
    assert options["statuses"]["received"] == [COLOURS["received"], STATES["received"]]


@pytest.mark.parametrize(("role", "may_report", "may_read_areas"), [
    ("grid_worker", True, True), ("street_leader", True, True), ("department_staff", True, False),
    ("planner", False, True), ("admin", False, True)])
def test_what_the_page_offers_follows_the_permission_rules(role, may_report, may_read_areas):
    user = _options(role)["user"]
    assert (user["mayReport"], user["mayReadAreas"]) == (may_report, may_read_areas)


def test_the_status_filter_options_are_not_typed_into_the_template():
    template = _source(ROOT / "templates" / "pages" / "index.html")
    assert [name for name in STATES.values() if name in template] == []


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.options: dict | None = None
        self.status_options: list[tuple[str, str]] = []
        self._in: str | None = None
        self._value = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script" and a.get("id") == "gm-options":
            self._in = "options"
        elif tag == "select" and a.get("name") == "status":
            self._in = "status"
        elif tag == "option" and self._in == "status":
            self._value = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag in ("script", "select"):
            self._in = None

    def handle_data(self, data):
        if self._in == "options":
            self.options = json.loads(data)
        elif self._in == "status" and self._value and data.strip():
            self.status_options.append((self._value, data.strip()))
            self._value = ""


def test_the_map_page_carries_the_server_settings_in_its_options(app, client, loaded):
    app.config["GRIDMAP_CHECKIN_MAX_M"] = 150.0
    app.config["GRIDMAP_PHOTO_MAX_MB"] = 8.0
    html = client.get("/").get_data(as_text=True)
    page = _Page()
    page.feed(html)
    assert page.options is not None
    assert page.options["limits"]["checkInRadiusM"] == 150.0 and page.options["limits"]["photoMaxMB"] == 8.0
    assert page.options["statuses"]["closed"][1] == STATES["closed"]
    assert page.status_options == status_filters()
    assert '<script type="module" src="/static/js/main.js"></script>' in html
    assert client.get("/static/js/main.js").status_code == 200
