"""Pages for people: the map, statistics, monthly topics."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, current_app, render_template, url_for

from geo.domain.boundaries import LEVEL_NAMES
from geo.domain.permissions import may_read_area_statistics, visible_area
from geo.domain.topics import month_of
from geo.services import boundaries as boundary_service
from webmap.auth import current
from webmap.config import score_weights
from webmap.db import get_session
from webmap.mapbuilder import build_map, parse_basemaps, render_parts
from webmap.page_options import map_options, stats_options, topics_options

bp = Blueprint("pages", __name__)


def _asset_url(name: str) -> str:
    return url_for("static", filename=name)


@bp.get("/")
def index() -> str:
    config = current_app.config
    basemaps = parse_basemaps(config["GRIDMAP_BASEMAP"], tianditu_key=config["GRIDMAP_TIANDITU_KEY"],
                              mbtiles_url=lambda n: url_for("tiles.tile", n=n, z=0, x=0, y=0)
                              .rsplit("/", 3)[0] + "/{z}/{x}/{y}")
    user = current()
    built = build_map(basemaps=basemaps, asset_url=_asset_url)
    home = boundary_service.home_area(get_session(), user.scope) if user.role != "department_staff" else None
    options = map_options(
        config, user,
        streets=boundary_service.streets_for(get_session(), visible_area(user)),
        folium=built.names, layers=built.layers,
        urls={"boundaries": url_for("boundaries.boundary_layer", level="LEVEL").replace("LEVEL.geojson", ""),
              "cases": url_for("cases.case_map"), "list": url_for("cases.list_cases"),
              "search": url_for("cases.search")},
        extent=tuple(home["bbox"]) if home else boundary_service.map_extent(get_session()),
        home=home,
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
