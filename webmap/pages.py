"""Pages for people: the map."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for

from geo.errors import InvalidInput
from geo.permissions import visible_area
from geo.services import boundaries as boundary_service
from webmap.auth import current
from webmap.db import get_session
from webmap.mapbuilder import BASEMAPS, build_map, render_parts

bp = Blueprint("pages", __name__)


def _asset_url(name: str) -> str:
    return url_for("static", filename=name)


@bp.get("/")
def index() -> str:
    basemap = current_app.config["GRIDMAP_BASEMAP"]
    if basemap not in BASEMAPS and "{z}" not in basemap:
        raise InvalidInput(
            f"GRIDMAP_BASEMAP={basemap!r} 无效：应为 none、osm、tianditu 或含 {{z}}/{{x}}/{{y}} 的瓦片地址。",
            field="GRIDMAP_BASEMAP", code="bad_setting")
    user = current()
    m = build_map(
        extent=boundary_service.map_extent(get_session()),
        basemap=basemap,
        tianditu_key=current_app.config["GRIDMAP_TIANDITU_KEY"],
        asset_url=_asset_url,
        api_base=url_for("boundaries.boundary_layer", level="LEVEL").replace("LEVEL.geojson", ""),
        cases_api=url_for("cases.case_map"),
        user={"role": user.role, "scope": user.scope, "department": user.department,
              "streets": boundary_service.streets_for(get_session(), visible_area(user))},
    )
    return render_template("pages/index.html", folium=render_parts(m))
