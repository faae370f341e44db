"""Open311 GeoReport v2 on top of gridmap's cases (see ../shared/OPEN311.md).

services = categories (service_code = the 4-digit code, group = the major class); a request is a
case: status ``closed`` for closed and void cases, ``open`` otherwise, ``status_notes`` the
detailed state in Chinese, ``agency_responsible`` the lead department, ``expected_datetime`` the
resolve deadline. A POSTed request is routed like any other case (source ``open311``).

Privacy (OPEN311.md): a GET without ``api_key`` gets the public projection — no description, no
media, the location rounded to about 100 m (``PUBLIC_DECIMALS``); with a valid key it gets the
cases that key's user may see (as ``/api/cases`` scopes them), in full. The requester is in neither.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from geo.domain.deadlines import URGENCIES, URGENCY_NAMES
from geo.domain.errors import InvalidInput, NotFound
from geo.domain.filters import CaseFilters
from geo.domain.permissions import User, scoped_filters
from geo.domain.requesters import REQUEST_TYPES, check_request_type, check_requester, full_name
from geo.domain.statuses import STATES, TERMINAL
from geo.services import cases as case_service
from geo.store import cases as case_store
from geo.store import reference as reference_store

__all__ = ["MAX_REQUESTS", "get_requests", "post_request", "service_definition", "services"]

MAX_REQUESTS = 1000
#: How deep paging may go (page × page_size): past it a client narrows by date, so no request
#: makes PostgreSQL sort and skip millions of rows.
RESULT_WINDOW = 10_000
MAX_RANGE = timedelta(days=90)
DESCRIPTION_MAX = 4000
#: Public (keyless) reads round lat/long to this many decimals: 0.001° is about 111 m north–south
#: and 85 m east–west in Beijing.
PUBLIC_DECIMALS = 3


def services(session: Session) -> list[dict[str, Any]]:
    return [{"service_code": c["code"], "service_name": c["name"], "description": f"{c['major_name']}：{c['name']}",
             "metadata": True, "type": "realtime", "keywords": ",".join((c["major_name"], c["name"])),
             "group": c["major_name"]}
            for c in reference_store.all_categories(session).values()]


def service_definition(session: Session, code: str) -> dict[str, Any]:
    if code not in reference_store.all_categories(session):
        raise NotFound(f"service_code {code} 不存在。", field="service_code", code="not_found")
    return {"service_code": code, "attributes": [{
        "variable": True, "code": "urgency", "datatype": "singlevaluelist", "required": False,
        "datatype_description": "紧急程度（不填用分类默认值）", "order": 1, "description": "紧急程度",
        "values": [{"key": k, "name": URGENCY_NAMES[k]} for k in URGENCIES]}, {
        "variable": True, "code": "request_type", "datatype": "singlevaluelist", "required": False,
        "datatype_description": "诉求类型（可不填）", "order": 2, "description": "诉求类型",
        "values": [{"key": k, "name": name} for k, name in REQUEST_TYPES.items()]}]}


def post_request(session: Session, user: User, form: dict[str, str], *,
                 settings: case_service.CaseSettings | None = None) -> list[dict[str, Any]]:
    """Create a case from an Open311 POST (lat/long WGS84 required: gridmap routes by location).
    ``first_name``/``last_name``, ``phone`` and ``email`` become the requester (诉求人), the optional
    ``attribute[request_type]`` the request type; none of them is ever served back by GET."""
    values = {k: v for k, v in form.items() if v not in (None, "")}  # empty means absent
    if "lat" not in values or "long" not in values:
        raise InvalidInput("需要 lat 和 long（WGS84）；仅有地址无法定位到网格。", field="lat", code="location_required")
    if len(values.get("description", "")) > DESCRIPTION_MAX:
        raise InvalidInput(f"description 最多 {DESCRIPTION_MAX} 字。", field="description", code="too_long")
    try:
        lon, lat = float(values["long"]), float(values["lat"])
    except ValueError as exc:
        raise InvalidInput("lat/long 必须是数字。", field="lat", code="bad_number") from exc
    # Checked here first so that errors name Open311's own fields (phone, email, attribute[request_type]).
    requester = check_requester(full_name(values.get("first_name"), values.get("last_name")), values.get("phone"),
                                values.get("email"), prefix="")
    request_type = check_request_type(values.get("attribute[request_type]"), field="attribute[request_type]")
    case = case_service.create_case(session, case_service.NewCase(
        lon=lon, lat=lat, crs="wgs84", category=values.get("service_code"),
        description=values.get("description", ""), urgency=values.get("attribute[urgency]"),
        source="open311", external_id=None, requester_name=requester.name, requester_phone=requester.phone,
        requester_email=requester.email, request_type=request_type), user=user, settings=settings)
    return [{"service_request_id": case["id"], "service_notice": "", "account_id": values.get("account_id", "")}]


def _iso(ts: datetime | None) -> str:
    return ts.isoformat() if ts else ""


def _request(row: dict[str, Any], departments: dict[str, str]) -> dict[str, Any]:
    lead = row["lead_department"]
    return {
        "service_request_id": row["case_no"],
        "status": "closed" if row["status"] in TERMINAL else "open",
        "status_notes": STATES.get(row["status"], row["status"]),
        "service_name": row["category_name"], "service_code": row["category_code"],
        "description": row["description"],
        "agency_responsible": departments.get(lead, lead) if lead else f"属地街道 {row['street_code']}",
        "service_notice": "", "requested_datetime": _iso(row["reported_at"]),
        "updated_datetime": _iso(row["updated_at"]), "expected_datetime": _iso(row["resolve_due"]),
        "address": "", "address_id": "", "zipcode": "", "lat": row["lat"], "long": row["lon"], "media_url": "",
    }


def _public(request: dict[str, Any]) -> dict[str, Any]:
    """What anyone may read of a request: no description or media, the point rounded."""
    return {**request, "description": "", "media_url": "", "lat": round(request["lat"], PUBLIC_DECIMALS),
            "long": round(request["long"], PUBLIC_DECIMALS)}


def get_requests(session: Session, args: dict[str, str], *, user: User | None = None,
                 now: datetime | None = None) -> list[dict[str, Any]]:
    """GET /requests with the spec's filters (and page/page_size); at most 1,000. ``user`` (the
    api_key's): the cases they may see, in full; None: every case, as the public projection."""
    now = now or datetime.now(UTC)
    args = {k: v for k, v in args.items() if v not in (None, "")}
    query: dict[str, Any] = {}
    if "service_request_id" in args:
        query["ids"] = [i.strip() for i in args["service_request_id"].split(",") if i.strip()]
    else:
        end = _date(args.get("end_date"), "end_date") or now
        start = _date(args.get("start_date"), "start_date") or end - MAX_RANGE
        if end - start > MAX_RANGE or start > end:
            raise InvalidInput("start_date 到 end_date 不能超过 90 天，且开始不能晚于结束。", field="start_date",
                               code="bad_range")
        query.update(start=start, end=end)
        if "service_code" in args:
            query["codes"] = [c.strip() for c in args["service_code"].split(",")]
        if "status" in args:
            wanted = {s.strip() for s in args["status"].split(",")}
            if not wanted <= {"open", "closed"}:
                raise InvalidInput("status 只能是 open、closed。", field="status", code="bad_status")
            if len(wanted) == 1:
                query["closed"] = wanted == {"closed"}
    page_size = _int(args.get("page_size"), "page_size", MAX_REQUESTS)
    page = _int(args.get("page"), "page", max(1, RESULT_WINDOW // page_size), default=1)
    scope = scoped_filters(CaseFilters(), user) if user is not None else None
    rows = case_store.open311_requests(session, limit=page_size, offset=(page - 1) * page_size, scope=scope,
                                       **query)
    departments = reference_store.department_names(session)
    requests = [_request(r, departments) for r in rows]
    return requests if user is not None else [_public(r) for r in requests]


def get_request(session: Session, request_id: str, *, user: User | None = None) -> list[dict[str, Any]]:
    found = get_requests(session, {"service_request_id": request_id}, user=user)
    if not found:
        raise NotFound(f"service_request_id {request_id} 不存在。", field="service_request_id", code="not_found")
    return found


def _date(value: str | None, field: str) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"{field} 必须是带时区的 ISO 8601 时间。", field=field, code="bad_time") from exc
    if ts.tzinfo is None:
        raise InvalidInput(f"{field} 必须带时区（Z 或 ±HH:MM）。", field=field, code="bad_time")
    return ts


def _int(value: str | None, field: str, high: int, *, default: int | None = None) -> int:
    if value is None:
        return default if default is not None else high
    if not value.isdigit() or len(value) > len(str(high)) or not 1 <= int(value) <= high:
        raise InvalidInput(f"{field} 应为 1 到 {high} 的整数（更早的请求请按日期 start_date/end_date 缩小范围）。",
                           field=field, code="bad_number")
    return int(value)
