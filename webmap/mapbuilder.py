"""Build the folium (Leaflet) map: base tiles from settings, empty boundary and case layers, the
layer control. The page's modules (static/js/main.js) find them by the names in the options JSON.

Every script and style sheet is served by the app (``/static/vendor``): folium's default CDN
links are replaced on each instance, never on the shared class lists (PITFALLS.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import folium

__all__ = ["BASEMAPS", "LEVEL_LAYERS", "BuiltMap", "build_map", "render_parts"]

AssetUrl = Callable[[str], str]

#: (level, layer name shown to users, shown at start, minimum zoom for loading)
LEVEL_LAYERS = (
    ("district", "区界", True, 0),
    ("street", "街道", True, 0),
    ("community", "社区", True, 13),
    ("grid", "网格", True, 15),
)
BASEMAPS = ("none", "osm", "tianditu")
BEIJING = (39.9042, 116.4074)
MAX_ZOOM = 19

_TIANDITU = (
    "https://t{s}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk="
)


@dataclass(frozen=True)
class BuiltMap:
    """The folium map, and what static/js/main.js needs to find its parts and fill them."""

    map: folium.Map
    #: folium's JavaScript variable names: the map, each boundary group by level, the case group.
    names: dict[str, Any]
    #: Per level: its layer name and the zoom from which it loads.
    layers: dict[str, Any]


def build_map(*, basemap: str, tianditu_key: str, asset_url: AssetUrl) -> BuiltMap:
    """The map with empty boundary and case groups that the page's modules fill from the API;
    no external request unless the configured base tiles need one."""
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
    names = {"map": m.get_name(), "layers": {level: g.get_name() for level, g in groups.items()},
             "cases": cases.get_name()}
    layers = {"minZoom": {level: zoom for level, _, _, zoom in LEVEL_LAYERS},
              "labels": {level: label for level, label, _, _ in LEVEL_LAYERS}}
    return BuiltMap(m, names, layers)


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


#: folium's viewport line forbids pinch-zoom (maximum-scale=1, user-scalable=no): people with low
#: vision must be able to zoom the page (WCAG 1.4.4), so it is replaced by one that allows it.
_FOLIUM_VIEWPORT = re.compile(r'<meta name="viewport"[^>]*>', re.DOTALL)
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def render_parts(m: folium.Map) -> dict[str, str]:
    """folium's page split into header, body and script, for our own template (pinch-zoom allowed)."""
    root = m.get_root()
    root.render()
    return {
        "header": _FOLIUM_VIEWPORT.sub(VIEWPORT, root.header.render()),  # type: ignore[attr-defined]
        "body": root.html.render(),  # type: ignore[attr-defined]
        "script": root.script.render(),  # type: ignore[attr-defined]
    }
