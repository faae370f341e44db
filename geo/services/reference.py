"""Reference-data use cases: the seed categories, and loading categories, departments, duty lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy.orm import Session

from geo.domain.boundary_files import read_boundary_file
from geo.domain.cases import zone
from geo.domain.crs import WGS84, reproject
from geo.domain.deadlines import Calendar, Schedule
from geo.domain.errors import InvalidInput
from geo.domain.reference import parse_calendar, parse_categories, parse_departments, parse_duties
from geo.domain.tables import TABLE_SUFFIXES, read_table
from geo.store import reference as store

__all__ = [
    "SEED_CATEGORIES",
    "install_seed_categories",
    "list_categories",
    "list_departments",
    "load_calendar",
    "load_categories",
    "load_departments",
    "load_duties",
]

#: The seed taxonomy of DOMAIN.md, installed by `gridmap db upgrade`.
SEED_CATEGORIES = Path(__file__).resolve().parents[2] / "data" / "reference" / "categories.csv"


def install_seed_categories(session: Session, path: Path = SEED_CATEGORIES) -> int:
    """Add the seed categories a database lacks (edits made since are kept)."""
    return store.insert_missing_categories(session, parse_categories(read_table(path)))


def list_departments(session: Session) -> list[dict[str, Any]]:
    """Departments and their units (code, name, parent_code, whether a jurisdiction polygon is loaded)."""
    return store.all_departments(session)


def load_categories(session: Session, path: str | Path, *, encoding: str | None = None) -> int:
    """Add or update categories from a CSV/XLSX (code, name, major_name, urgency, resolve_limit_hours, clock)."""
    return store.upsert_categories(session, parse_categories(read_table(path, encoding=encoding)))


def load_departments(session: Session, path: str | Path, *, encoding: str | None = None) -> int:
    """Add or update departments and units from CSV/XLSX, or from GeoJSON/GeoPackage/Shapefile whose
    polygons are the units' jurisdictions (辖区). A parent must exist or be in the same file."""
    path = Path(path)
    if path.suffix.lower() in TABLE_SUFFIXES:
        frame: pd.DataFrame = read_table(path, encoding=encoding)
    else:
        frame = _read_jurisdictions(path, encoding)
    rows = parse_departments(frame)
    known = store.department_codes(session) | {r.code for r in rows}
    orphans = sorted({r.parent_code for r in rows if r.parent_code and r.parent_code not in known})
    if orphans:
        raise InvalidInput(f"上级部门不存在：{', '.join(orphans)}。请先加载这些部门。", field="parent_code",
                           code="unknown_parent")
    return store.upsert_departments(session, rows)


def _read_jurisdictions(path: Path, encoding: str | None) -> gpd.GeoDataFrame:
    frame = read_boundary_file(path, encoding=encoding)
    if frame.crs is None:
        raise InvalidInput("辖区文件没有坐标系（缺 .prj）。", field="crs", code="missing_crs")
    frame = frame.set_geometry(reproject(frame.geometry.values, frame.crs, WGS84), crs=WGS84)
    codes = frame["code"] if "code" in frame.columns else frame.index
    bad = [str(c) for c, g in zip(codes, frame.geometry, strict=True)
           if g is not None and g.geom_type not in ("Polygon", "MultiPolygon")]
    if bad:
        raise InvalidInput(f"辖区必须是面，这些不是：{', '.join(bad[:10])}。", field="geometry", code="not_polygon")
    multi = [g if g is None or g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in frame.geometry]
    return frame.set_geometry(multi, crs=WGS84)


def load_duties(session: Session, path: str | Path, *, encoding: str | None = None) -> int:
    """Replace the duty list (责任清单) from CSV/XLSX: category, scope, lead, co, resolve_limit_hours."""
    frame = read_table(path, encoding=encoding)
    rules = parse_duties(frame, categories=set(store.all_categories(session)),
                         departments=store.department_codes(session))
    return store.replace_duty_rules(session, rules)


def list_categories(session: Session) -> list[dict[str, object]]:
    return list(store.all_categories(session).values())


#: Calendars already read, by (stamp, time zone): a create passes the stamp its routing query
#: selected, so the calendar is read again only after it changed (any process may change it).
_SCHEDULES: dict[tuple[str, str], Schedule] = {}


def schedule(session: Session, timezone: str, *, stamp: str | None = None) -> Schedule:
    """The stored calendar in ``timezone``: what every deadline is counted with. ``stamp``: the
    calendar's current CALENDAR_STAMP_SQL, read in this transaction; a cached copy with it is used."""
    if stamp is not None and (cached := _SCHEDULES.get((stamp, timezone))) is not None:
        return cached
    holidays, workdays, stamp = store.calendar_days(session)
    made = Schedule(Calendar(holidays, workdays), zone(timezone))
    if len(_SCHEDULES) > 16:  # old stamps are never asked for again
        _SCHEDULES.clear()
    _SCHEDULES[(stamp, timezone)] = made
    return made


def load_calendar(session: Session, path: str | Path, *, encoding: str | None = None) -> int:
    """Holidays and make-up workdays (调休) for working-day clocks: CSV/XLSX with day, kind, name."""
    frame = read_table(path, encoding=encoding)
    rows = parse_calendar(frame)
    store.upsert_calendar(session, rows)
    return len(rows)
