"""Build the folium (Leaflet) map page: base tiles from settings, boundary layers, controls.

Every script and style sheet is served by the app (``/static/vendor``): folium's default CDN
links are replaced on each instance, never on the shared class lists (PITFALLS.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import folium
from branca.element import MacroElement
from folium.elements import JSCSSMixin
from jinja2 import Template

from geo.domain.workflow import STATES

__all__ = ["BASEMAPS", "LEVEL_LAYERS", "build_map"]

AssetUrl = Callable[[str], str]

#: (level, layer name shown to users, shown at start, minimum zoom for loading)
LEVEL_LAYERS = (
    ("district", "区界", True, 0),
    ("street", "街道", True, 0),
    ("community", "社区", True, 13),
    ("grid", "网格", True, 15),
)
BASEMAPS = ("none", "osm", "tianditu")
#: Marker colour by case status; the legend pairs each with the status's Chinese name.
_COLOURS = {
    "received": "#9e9e9e", "dispatched": "#1e88e5", "signed": "#3949ab", "responded": "#5e35b1",
    "in_progress": "#fb8c00", "returned": "#6d4c41", "suspended": "#546e7a", "resolved": "#43a047",
    "checked": "#2e7d32", "closed": "#1b5e20", "void": "#bdbdbd",
}
STATUS_COLOURS = {status: [_COLOURS[status], name] for status, name in STATES.items()}
BEIJING = (39.9042, 116.4074)
MAX_ZOOM = 19

_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk="
)


class GridmapLayers(JSCSSMixin, MacroElement):
    """Hands the map and its (empty) boundary groups to static/gridmap.js, which fills them."""

    _template = Template(
        """{% macro script(this, kwargs) %}
        gridmap.init({{ this._parent.get_name() }}, {{ this.options|tojson }}, {
        {%- for level, group in this.groups.items() %}
            {{ level|tojson }}: {{ group.get_name() }},
        {%- endfor %}
        }, {{ this.cases.get_name() }});
        {% endmacro %}"""
    )

    def __init__(self, groups: dict[str, folium.FeatureGroup], cases: folium.FeatureGroup, options: dict[str, Any],
                 asset_url: AssetUrl):
        super().__init__()
        self._name = "GridmapLayers"
        self.groups = groups
        self.cases = cases
        self.options = options
        self.default_js = [("gridmap_js", asset_url("gridmap.js"))]
        self.default_css = [("gridmap_css", asset_url("gridmap.css"))]


def build_map(
    *,
    extent: tuple[float, float, float, float] | None,
    basemap: str,
    tianditu_key: str,
    asset_url: AssetUrl,
    api_base: str,
    cases_api: str,
    user: dict[str, Any] | None = None,
) -> folium.Map:
    """The map: no external request unless the configured base tiles need one."""
    m = folium.Map(location=BEIJING, zoom_start=12, tiles=None, max_zoom=MAX_ZOOM,
                   control_scale=False)
    m.default_js = [("leaflet", asset_url("vendor/leaflet/leaflet.js"))]
    m.default_css = [("leaflet_css", asset_url("vendor/leaflet/leaflet.css"))]
    _add_basemap(m, basemap, tianditu_key)
    groups: dict[str, folium.FeatureGroup] = {}
    for level, label, show, _ in LEVEL_LAYERS:
        groups[level] = folium.FeatureGroup(name=label, show=show)
        groups[level].add_to(m)
    cases = folium.FeatureGroup(name="案件", show=True)
    cases.add_to(m)
    folium.LayerControl(collapsed=False, position="topright").add_to(m)
    options = {
        "api": api_base,
        "minZoom": {level: zoom for level, _, _, zoom in LEVEL_LAYERS},
        "labels": {level: label for level, label, _, _ in LEVEL_LAYERS},
        "extent": list(extent) if extent else None,
        "casesApi": cases_api,
        "statuses": STATUS_COLOURS,
        "user": user or {},
    }
    GridmapLayers(groups, cases, options, asset_url).add_to(m)
    return m


def _add_basemap(m: folium.Map, basemap: str, tianditu_key: str) -> None:
    kind = (basemap or "none").strip()
    if kind.lower() == "none":
        return
    if kind.lower() == "osm":
        folium.TileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", name="OpenStreetMap",
                         attr="&copy; OpenStreetMap contributors", max_zoom=MAX_ZOOM).add_to(m)
    elif kind.lower() == "tianditu":
        for layer, name, overlay in (("vec", "天地图矢量", False), ("cva", "天地图注记", True)):
            folium.TileLayer(_TIANDITU.replace("{layer}", layer) + tianditu_key, name=name,
                             attr="&copy; 天地图", subdomains="01234567", overlay=overlay,
                             max_zoom=18).add_to(m)
    else:
        folium.TileLayer(kind, name="底图", attr="底图", max_zoom=MAX_ZOOM).add_to(m)


def render_parts(m: folium.Map) -> dict[str, str]:
    """folium's page split into header, body and script, for our own template."""
    root = m.get_root()
    root.render()
    return {
        "header": root.header.render(),  # type: ignore[attr-defined]
        "body": root.html.render(),  # type: ignore[attr-defined]
        "script": root.script.render(),  # type: ignore[attr-defined]
    }
