"""Case use cases: create one (API, map pin, Open311), read, list, export."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from geo.domain import cases as rules
from geo.domain import requesters
from geo.domain.coordinates import normalize_crs_name
from geo.domain.deadlines import DEFAULT_TIMEZONE, check_urgency, deadlines
from geo.domain.errors import Conflict, Forbidden, InvalidInput, NotFound
from geo.domain.exports import write_frame
from geo.domain.filters import CaseFilters
from geo.domain.permissions import (
    User,
    can_see,
    check_can_report,
    check_can_use_source,
    check_visible,
    scoped_filters,
    sees_requester,
)
from geo.domain.routing import assign
from geo.domain.statuses import CLOCK_STEPS, clock_notes
from geo.domain.workflow import STATES
from geo.services import addresses as address_service
from geo.services import reference as reference_service
from geo.services import whistles as whistle_service
from geo.store import boundaries as boundary_store
from geo.store import case_map
from geo.store import cases as store
from geo.store import photos as photo_store
from geo.store import reference as reference_store

__all__ = ["CaseSettings", "create_case", "export_cases", "get_case", "list_cases", "map_layer", "nearby"]

CASE_STATUSES = tuple(STATES)


@dataclass(frozen=True)
class CaseSettings:
    timezone: str = DEFAULT_TIMEZONE
    duplicate_radius_m: float = 50.0
    duplicate_days: float = 7.0
    #: Sources only the bulk import and integration tokens may name (GRIDMAP_IMPORT_SOURCES).
    reserved_sources: tuple[str, ...] = ("12345",)


@dataclass(frozen=True)
class NewCase:
    lon: Any = None
    lat: Any = None
    category: Any = None
    description: Any = ""
    crs: str | None = None
    urgency: str | None = None
    external_id: str | None = None
    source: str | None = None
    reported_at: Any = None
    requester_name: Any = None
    requester_phone: Any = None
    requester_email: Any = None
    request_type: Any = None
    #: A gazetteer address (地址库) instead of lon/lat: the case is placed at the entry it matches.
    address: Any = None


def _position(session: Session, new: NewCase) -> tuple[Any, Any, str | None, str | None]:
    """(x, y, crs, matched address): the given coordinates, or — with an address and no coordinates —
    the gazetteer entry's WGS84 position and text."""
    if new.lon is None and new.lat is None and new.address is not None and str(new.address).strip():
        found = address_service.locate(session, str(new.address))
        return found.lon, found.lat, "wgs84", found.address
    for name, value in (("lon", new.lon), ("lat", new.lat)):
        if value is None:
            raise InvalidInput("必填（或不给经纬度、只给地址 address）。", field=name, code="invalid_input")
    return new.lon, new.lat, new.crs, None


def create_case(session: Session, new: NewCase, *, user: User | None = None,
                settings: CaseSettings | None = None, now: datetime | None = None,
                integration: bool = False) -> dict[str, Any]:
    """Validate → convert to WGS84 → route (one query) → number and insert → look for duplicates.

    Refuses with ``outside_area`` when the point is in no grid, ``unknown_category``, or a 409
    when (source, external_id) exists. Nothing is stored on refusal.
    """
    settings = settings or CaseSettings()
    now = now or datetime.now(UTC)
    tz = rules.zone(settings.timezone)
    x_in, y_in, crs_in, address = _position(session, new)
    crs = normalize_crs_name(crs_in)
    lon, lat = rules.wgs84_position(x_in, y_in, crs)
    x, y = float(x_in), float(y_in)
    category = rules.check_category_code(new.category)
    description = rules.check_text(new.description, field="description", max_length=rules.DESCRIPTION_MAX)
    source = _source(new.source or "api")
    check_can_use_source(user, source, settings.reserved_sources, integration=integration)
    external_id = rules.check_text(new.external_id, field="external_id", max_length=rules.EXTERNAL_ID_MAX) or None
    reported_at = rules.parse_time(new.reported_at, tz, now=now) if new.reported_at else now.astimezone(tz)
    requester = requesters.check_requester(new.requester_name, new.requester_phone, new.requester_email)
    request_type = requesters.check_request_type(new.request_type)
    facts = store.point_facts(session, lon, lat, category, source, external_id)
    if facts.category is None:
        raise InvalidInput(f"问题分类 {category} 不存在。可用的分类见 /api/categories。", field="category",
                           code="unknown_category")
    if facts.existing_case_no:
        existing = store.get_case(session, facts.existing_case_no)
        if user is None or (existing is not None and can_see(user, existing)):
            raise Conflict(f"来源 {source} 的编号 {external_id} 已存在（案件 {facts.existing_case_no}）。",
                           field="external_id", code="duplicate", details={"id": facts.existing_case_no})
        raise Conflict(f"来源 {source} 的编号 {external_id} 已存在。", field="external_id", code="duplicate")
    if facts.placement is None or facts.version_id is None:
        raise InvalidInput(rules.outside_message(lon, lat, crs), field="lon", code="outside_area")
    if user is not None:
        try:
            check_can_report(user, facts.placement.grid)
        except Forbidden:  # the refusal names the grid and the user's area: read their names only then
            check_can_report(user, facts.placement.grid,
                             names=boundary_store.names_of(session, [facts.placement.grid, user.scope]))
            raise
    urgency = check_urgency(new.urgency or facts.category["urgency"])
    assignment = assign(facts.rules, facts.placement, facts.coverage)
    hours = assignment.resolve_limit_hours
    if hours is None:
        hours = facts.category.get("resolve_limit_hours")
    schedule = reference_service.schedule(session, settings.timezone, stamp=facts.calendar_stamp)
    due = deadlines(reported_at, urgency, schedule=schedule,
                    clock=facts.category.get("clock") or "natural", resolve_hours=hours)
    placement = facts.placement
    values = {
        "source": source, "external_id": external_id, "category_code": category, "description": description,
        "urgency": urgency, "reported_at": reported_at, "lon": lon, "lat": lat, "orig_x": x, "orig_y": y,
        "orig_crs": crs, **placement.codes(),
        "boundary_version_id": facts.version_id, "lead_department": assignment.lead,
        "co_departments": list(assignment.co), "routing_rule": assignment.rule,
        "dispatch_due": due.dispatch_due, "respond_due": due.respond_due, "resolve_due": due.resolve_due,
        "day": reported_at.astimezone(tz).date(),
        "resolve_limit_hours": assignment.resolve_limit_hours or facts.category.get("resolve_limit_hours"),
        "requester_name": requester.name, "requester_phone": requester.phone, "requester_email": requester.email,
        "request_type": request_type, "address": address,
    }
    # Duplicates are looked up before the insert: the insert locks the day's counter row until
    # the caller commits, so nothing else may run after it.
    duplicates = store.possible_duplicates(
        session, lon=lon, lat=lat, category=category, since=now - timedelta(days=settings.duplicate_days),
        radius_m=settings.duplicate_radius_m)
    event = {"actor_user_id": user.id if user else None, "actor_name": user.username if user else source,
             "actor_role": user.role if user else "",
             "event_details": json.dumps({"source": source, "routing_rule": assignment.rule}, ensure_ascii=False)}
    try:
        row = store.insert_case(session, values, event)
    except IntegrityError as exc:  # a concurrent insert of the same (source, external_id)
        raise Conflict(f"来源 {source} 的编号 {external_id} 已存在。", field="external_id", code="duplicate") from exc
    case = _feature(row, user)
    case["possible_duplicates"] = _visible(duplicates, user)
    return case


def _visible(rows: list[dict[str, Any]], user: User | None) -> list[dict[str, Any]]:
    """Possible duplicates the user may see, without the columns that decided it: a case outside
    one's scope is not revealed by a nearby search either."""
    hidden = ("grid_code", "street_code", "lead_department", "co_departments")
    return [_iso({k: v for k, v in r.items() if k not in hidden}) for r in rows if user is None or can_see(user, r)]


def _source(text: str) -> str:
    source = text.strip().lower()
    if not rules.SOURCE_PATTERN.fullmatch(source):
        raise InvalidInput(f"来源 source={text!r} 应为 1–32 位小写字母、数字、_ 或 -，如 api、grid_worker、12345。",
                           field="source", code="bad_source")
    return source


def _iso(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def _requester(row: dict[str, Any], user: User | None) -> dict[str, Any] | None:
    """The requester as ``user`` may see it (masked unless geo.domain.permissions says otherwise)."""
    requester = requesters.Requester(row.pop("requester_name"), row.pop("requester_phone"),
                                     row.pop("requester_email"))
    if not requester:
        return None
    return requester.as_dict(masked=not sees_requester(user, row))


def _feature(row: dict[str, Any], user: User | None = None) -> dict[str, Any]:
    """A case row as a GeoJSON Feature; a row carrying the requester gets it masked for ``user``."""
    row = dict(row)
    shown = "requester_name" in row
    requester = _requester(row, user) if shown else None
    props = _iso(row)
    props.pop("id", None)
    if shown:
        props["requester"] = requester
    lon, lat = props.pop("lon"), props.pop("lat")
    props["id"] = props.pop("case_no")
    props["deadlines"] = {k: props.pop(k) for k in ("dispatch_due", "respond_due", "resolve_due", "extension_due")
                          if k in props}
    props["category"] = props.pop("category_code")
    props["overdue"] = bool(props.get("overdue"))
    return {"type": "Feature", "id": props["id"], "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": props}


def get_case(session: Session, case_no: str, *, user: User | None = None, detail: bool = False) -> dict[str, Any]:
    """One case as a GeoJSON Feature (properties carry codes, departments, deadlines). ``detail`` adds
    department names, photos and the whistles the case is part of (for the case panel)."""
    row = store.get_case(session, case_no)
    if row is None:
        raise NotFound(f"案件 {case_no} 不存在。", field="id", code="not_found")
    if user is not None:
        check_visible(user, row, case_no)
    feature = _feature(row, user)
    if detail:
        props = feature["properties"]
        names = reference_store.department_names(session)
        involved = [d for d in [row["lead_department"], *(row["co_departments"] or [])] if d]
        props["department_names"] = {d: names.get(d, d) for d in involved}
        areas = [row[k] for k in ("grid_code", "community_code", "street_code", "district_code") if row[k]]
        props["boundary_names"] = boundary_store.names_of(session, areas)
        props["photos"] = [{"id": p["id"], "url": f"/api/photos/{p['id']}", "width": p["width"],
                            "height": p["height"]} for p in photo_store.photos_of(session, row["id"])]
        props["whistles"] = [_iso(w) for w in whistle_service.of_case(session, row["id"])]
        due = {step: row.get(f"{step}_due") for step in CLOCK_STEPS}
        props["clock_notes"] = clock_notes(row["status"], due, now=datetime.now(UTC))
    return feature


def list_cases(session: Session, filters: CaseFilters, *, user: User | None, limit: int = 100,
               cursor: str | None = None) -> dict[str, Any]:
    """A FeatureCollection page of what ``user`` may see (None: the system), newest first; ``next``
    is the cursor of the following page."""
    filters = scoped_filters(filters, user)
    for status in filters.statuses:
        if status not in CASE_STATUSES:
            raise InvalidInput(f"状态 {status!r} 无效，可选：{', '.join(CASE_STATUSES)}。", field="status",
                               code="bad_status")
    before = None
    if cursor:
        if not cursor.isdigit():
            raise InvalidInput("分页游标 cursor 无效。", field="cursor", code="bad_cursor")
        before = int(cursor)
    rows = store.list_cases(session, filters, limit=limit + 1, before_id=before)
    more = len(rows) > limit
    rows = rows[:limit]
    return {"type": "FeatureCollection", "features": [_feature(r) for r in rows],
            "next": str(rows[-1]["id"]) if more else None}


def export_cases(session: Session, path: str | Path, fmt: str, *, filters: CaseFilters) -> int:
    """Write matching cases (WGS84) as CSV, GeoJSON or GeoPackage; the request type, never the requester
    (storage does not even read it for exports)."""
    records: list[dict[str, Any]] = []
    for batch in store.iter_cases(session, filters):
        records.extend(batch)
    frame = gpd.GeoDataFrame(
        {
            "id": [r["case_no"] for r in records], "external_id": [r["external_id"] for r in records],
            "source": [r["source"] for r in records], "category": [r["category_code"] for r in records],
            "category_name": [r["category_name"] for r in records], "status": [r["status"] for r in records],
            "lon": [r["lon"] for r in records], "lat": [r["lat"] for r in records],
            "grid_code": [r["grid_code"] for r in records], "community_code": [r["community_code"] for r in records],
            "street_code": [r["street_code"] for r in records], "district_code": [r["district_code"] for r in records],
            "lead_department": [r["lead_department"] for r in records],
            "co_departments": [";".join(r["co_departments"]) for r in records],
            "urgency": [r["urgency"] for r in records],
            "request_type": [r["request_type"] for r in records],
            "reported_at": [r["reported_at"].isoformat() for r in records],
            "description": [r["description"] for r in records],
        },
        geometry=shapely.points([r["lon"] for r in records], [r["lat"] for r in records]) if records else [],
        crs="EPSG:4326",
    )
    return write_frame(frame, path, fmt, layer="cases")


#: Never more markers than this on one map view (DESIGN.md: aggregates below street zoom).
MAP_MAX_POINTS = 5000
#: Zoom from which single cases are drawn; below it counts per community, and below
#: ``MAP_COMMUNITY_ZOOM`` counts per street.
MAP_POINTS_ZOOM = 15
MAP_COMMUNITY_ZOOM = 13
#: Map coordinates keep 6 decimals (about 0.1 m): enough for any zoom, and a third fewer gzip
#: bytes for 5,000 markers than full doubles, whose trailing digits do not compress.
MAP_DECIMALS = 6


def map_layer(session: Session, filters: CaseFilters, *, user: User | None, zoom: float) -> str:
    """What the map shows ``user`` for a view: single cases when zoomed in, counts per area otherwise.

    Returns GeoJSON text: a FeatureCollection with a foreign member ``kind`` ("points", "community",
    "street") and ``truncated`` when more than ``MAP_MAX_POINTS`` cases matched.
    """
    filters = scoped_filters(filters, user)
    if zoom >= MAP_POINTS_ZOOM:
        features = case_map.map_points(session, filters, limit=MAP_MAX_POINTS + 1, decimals=MAP_DECIMALS)
        head = {"type": "FeatureCollection", "kind": "points", "truncated": len(features) > MAP_MAX_POINTS}
        return json.dumps(head)[:-1] + ', "features": [' + ",".join(features[:MAP_MAX_POINTS]) + "]}"
    level = "community" if zoom >= MAP_COMMUNITY_ZOOM else "street"
    rows = case_map.map_aggregates(session, replace(filters, bbox=None), level=level)
    counts = [{"type": "Feature", "id": r["code"], "geometry": {"type": "Point", "coordinates": _map_xy(r)},
               "properties": {"code": r["code"], "name": r["name"], "cases": r["cases"], "overdue": r["overdue"]}}
              for r in rows]
    return json.dumps({"type": "FeatureCollection", "kind": level, "truncated": False, "features": counts},
                      ensure_ascii=False)


def _map_xy(row: dict[str, Any]) -> list[float]:
    return [round(row["lon"], MAP_DECIMALS), round(row["lat"], MAP_DECIMALS)]


def nearby(session: Session, *, lon: Any, lat: Any, category: Any, crs: str | None = None, user: User | None = None,
           settings: CaseSettings | None = None, now: datetime | None = None) -> list[dict[str, Any]]:
    """Open cases of the category close to a point that ``user`` may see: offered to a grid worker
    before saving a new one."""
    settings = settings or CaseSettings()
    now = now or datetime.now(UTC)
    x, y = rules.wgs84_position(lon, lat, crs)
    rows = store.possible_duplicates(
        session, lon=x, lat=y, category=rules.check_category_code(category),
        since=now - timedelta(days=settings.duplicate_days), radius_m=settings.duplicate_radius_m)
    return _visible(rows, user)
