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

from geo.domain.errors import InvalidInput
from geo.services.tiles import describe as describe_tiles

__all__ = ["LEVEL_LAYERS", "Basemap", "BuiltMap", "build_map", "mbtiles_paths", "parse_basemaps", "render_parts"]

AssetUrl = Callable[[str], str]

#: (level, layer name shown to users, shown at start, minimum zoom for loading)
LEVEL_LAYERS = (
    ("district", "区界", True, 0),
    ("street", "街道", True, 0),
    ("community", "社区", True, 13),
    ("grid", "网格", True, 15),
)
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


@dataclass(frozen=True)
class Basemap:
    """One base layer of the layer switcher (an overlay such as 天地图注记 rides on the one before it)."""

    name: str
    url: str
    attr: str
    subdomains: str = "abc"
    max_native_zoom: int = MAX_ZOOM
    min_zoom: int = 0
    overlay: bool = False


def parse_basemaps(setting: str, *, tianditu_key: str, mbtiles_url: Callable[[int], str]) -> list[Basemap]:
    """GRIDMAP_BASEMAP as base layers: a comma-separated list of ``none``, ``osm``, ``tianditu``, XYZ URL
    templates and paths of ``.mbtiles`` files (served by the app at ``mbtiles_url(n)``, n counting the
    files from 0). Refuses anything else, naming the setting and the fix."""
    layers: list[Basemap] = []
    files = 0
    for raw in (part.strip() for part in (setting or "none").split(",")):
        kind = raw.lower()
        if kind in ("", "none"):
            continue
        if kind == "osm":
            layers.append(Basemap("OpenStreetMap", "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                                  "&copy; OpenStreetMap contributors"))
        elif kind == "tianditu":
            for layer, name, overlay in (("vec", "天地图矢量", False), ("cva", "天地图注记", True)):
                layers.append(Basemap(name, _TIANDITU.replace("{layer}", layer) + tianditu_key, "&copy; 天地图",
                                      subdomains="01234567", max_native_zoom=18, overlay=overlay))
        elif kind.endswith(".mbtiles"):
            tiles = describe_tiles(raw)
            layers.append(Basemap(tiles.name, mbtiles_url(files), tiles.attribution or tiles.name,
                                  max_native_zoom=min(tiles.max_zoom, MAX_ZOOM), min_zoom=tiles.min_zoom))
            files += 1
        elif "{z}" in raw and "{x}" in raw and "{y}" in raw:
            layers.append(Basemap("底图" if not layers else f"底图 {len(layers) + 1}", raw, "底图"))
        else:
            raise InvalidInput(
                f"GRIDMAP_BASEMAP 中的 {raw!r} 无效：应为 none、osm、tianditu、含 {{z}}/{{x}}/{{y}} 的瓦片地址或 "
                ".mbtiles 文件的路径（多个用逗号分隔）。", field="GRIDMAP_BASEMAP", code="bad_setting")
    return layers


def mbtiles_paths(setting: str) -> list[str]:
    """The .mbtiles files named in GRIDMAP_BASEMAP, in order (the app serves file n at /tiles/n/…)."""
    return [p.strip() for p in (setting or "").split(",") if p.strip().lower().endswith(".mbtiles")]


def build_map(*, basemaps: list[Basemap], asset_url: AssetUrl) -> BuiltMap:
    """The map with empty boundary and case groups that the page's modules fill from the API;
    no external request unless the configured base tiles need one."""
    m = folium.Map(location=BEIJING, zoom_start=12, tiles=None, max_zoom=MAX_ZOOM,
                   control_scale=False)
    m.default_js = [("leaflet", asset_url("vendor/leaflet/leaflet.js"))]
    m.default_css = [("leaflet_css", asset_url("vendor/leaflet/leaflet.css"))]
    for i, base in enumerate(basemaps):
        folium.TileLayer(base.url, name=base.name, attr=base.attr, subdomains=base.subdomains, overlay=base.overlay,
                         max_zoom=MAX_ZOOM, max_native_zoom=base.max_native_zoom, min_zoom=base.min_zoom,
                         show=i == 0 or base.overlay).add_to(m)
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
              "labels": {level: label for level, label, _, _ in LEVEL_LAYERS},
              "basemaps": [b.name for b in basemaps if not b.overlay]}
    return BuiltMap(m, names, layers)


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
