"""Pages for people: the map."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, url_for

from geo.domain.errors import InvalidInput
from geo.domain.permissions import visible_area
from geo.services import boundaries as boundary_service
from webmap.auth import current
from webmap.config import score_weights
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


#: What the statistics page can rank, in the order offered.
STATS_LEVELS = [("street", "街道"), ("community", "社区"), ("grid", "网格"), ("district", "区"),
                ("departments", "部门")]


@bp.get("/stats")
def stats() -> str:
    """The planners' page: measures per boundary or department, ranking chart, trend, exports."""
    user = current()
    levels = [item for item in STATS_LEVELS if user.role != "department_staff" or item[0] == "departments"]
    default = "departments" if user.role == "department_staff" else ("community" if len(user.scope) >= 9 else "street")
    weights = score_weights(current_app.config)
    return render_template("pages/stats.html", user=user, levels=levels, default_level=default,
                           weights=f"{weights.response:g}×响应率 + {weights.resolution:g}×解决率 + "
                                   f"{weights.satisfaction:g}×满意率")
