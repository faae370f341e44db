"""One SQLAlchemy Session per request; the request (the edge) decides to commit."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from geo.services.boundaries import BoundarySettings

__all__ = ["boundary_settings", "get_session", "init_app"]


def get_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["gridmap"]["sessionmaker"]()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()  # rolls back whatever was not committed


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)


def boundary_settings() -> BoundarySettings:
    cfg = current_app.config
    return BoundarySettings(
        metric_crs=cfg["GRIDMAP_METRIC_CRS"],
        min_finding_area_m2=cfg["GRIDMAP_CHECK_MIN_AREA_M2"],
        min_finding_width_m=cfg["GRIDMAP_CHECK_MIN_WIDTH_M"],
        max_grid_area_m2=cfg["GRIDMAP_GRID_MAX_AREA_M2"],
    )
