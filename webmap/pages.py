"""Pages for people: the map, statistics, monthly topics."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, render_template, url_for

from geo.domain.boundaries import LEVEL_NAMES
from geo.domain.errors import InvalidInput
from geo.domain.permissions import may_read_area_statistics, visible_area
from geo.domain.topics import month_of
from geo.services import boundaries as boundary_service
from webmap.auth import current
from webmap.config import score_weights
from webmap.db import get_session
from webmap.mapbuilder import BASEMAPS, build_map, render_parts
from webmap.page_options import map_options, stats_options, topics_options

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
    built = build_map(basemap=basemap, tianditu_key=current_app.config["GRIDMAP_TIANDITU_KEY"],
                      asset_url=_asset_url)
    options = map_options(
        current_app.config, user,
        streets=boundary_service.streets_for(get_session(), visible_area(user)),
        folium=built.names, layers=built.layers,
        urls={"boundaries": url_for("boundaries.boundary_layer", level="LEVEL").replace("LEVEL.geojson", ""),
              "cases": url_for("cases.case_map")},
        extent=boundary_service.map_extent(get_session()),
    )
    return render_template("pages/index.html", folium=render_parts(built.map), options=options)


#: What the statistics page can rank, in the order offered.
STATS_LEVELS = [*((level, LEVEL_NAMES[level]) for level in ("street", "community", "grid", "district")),
                ("departments", "部门")]


@bp.get("/stats")
def stats() -> str:
    """The planners' page: measures per boundary or department, ranking chart, trend, exports."""
    user = current()
    area = may_read_area_statistics(user)
    levels = [item for item in STATS_LEVELS if area or item[0] == "departments"]
    default = "departments" if not area else ("community" if len(user.scope) >= 9 else "street")
    weights = score_weights(current_app.config)
    return render_template("pages/stats.html", user=user, levels=levels, default_level=default,
                           options=stats_options(),
                           weights=f"{weights.response:g}×响应率 + {weights.resolution:g}×解决率 + "
                                   f"{weights.satisfaction:g}×满意率")


@bp.get("/topics")
def topics() -> str:
    """Monthly topics (每月一题): the topics of the user's area with this month's figures against the
    month before, and for planners the form that sets one."""
    user = current()
    options = topics_options(user, month_of(datetime.now(UTC), current_app.config["GRIDMAP_TIMEZONE"]))
    return render_template("pages/topics.html", user=user, options=options)
