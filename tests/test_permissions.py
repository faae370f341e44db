"""The permission table: every endpoint × every role × inside/outside scope, with the expected status.

The case lives in grid 110101002001002 (street 110101002), led by CGW; the whistle summons CGW. A
second case there, resolved, has a closed whistle (blown by the street, summoning HBJ) to score.
"inside" users' scopes contain them, "outside" users' do not. A new endpoint without a row here
fails ``test_every_endpoint_is_in_the_table``.
"""

from io import BytesIO

import pytest
from PIL import Image

from geo.domain.topics import TopicDraft
from geo.services import accounts, cases, photos, topics, whistles, workflow
from tests.conftest import make_user

EAST = {"lon": 116.3175, "lat": 39.9025}
USERS = {  # name: (role, scope, department)
    "worker_in": ("grid_worker", "110101002001002", None),
    "worker_out": ("grid_worker", "110101001001001", None),
    "leader_in": ("street_leader", "110101002", None),
    "leader_out": ("street_leader", "110101001", None),
    "staff_lead": ("department_staff", "", "CGW"),
    "staff_other": ("department_staff", "", "HBJ"),
    "planner_in": ("planner", "110101002", None),
    "planner_out": ("planner", "110101001", None),
    "admin": ("admin", "", None),
    "community_in": ("community_leader", "110101002001", None),
    "community_out": ("community_leader", "110101001001", None),
    "hotline_in": ("hotline", "110101", None),
    "hotline_out": ("hotline", "110102", None),
}
WHO = ["anon", *USERS]

# endpoint: (method, path, body, {who: status}); "*" is everyone else.
SIGNED_IN_200 = {"anon": 401, "*": 200}
SEE = {"anon": 401, "worker_in": 200, "worker_out": 404, "leader_in": 200, "leader_out": 404, "staff_lead": 200,
       "staff_other": 404, "planner_in": 200, "planner_out": 404, "admin": 200, "community_in": 200,
       "community_out": 404, "hotline_in": 200, "hotline_out": 404}
PUBLIC = {"*": 200}
# Area statistics and hotspots: everyone signed in, rows limited to their area; department staff
# see by department, not by area, so these are not theirs.
AREA_STATS = {"anon": 401, "staff_lead": 403, "staff_other": 403, "*": 200}
TOPIC = {"title": "东街道暴露垃圾", "category": "0101", "targets": ["110101002"], "lead_department": "CGW"}
TABLE = {
    "pages.index": ("GET", "/", None, {"anon": 302, "*": 200}),
    "pages.stats": ("GET", "/stats", None, {"anon": 302, "*": 200}),
    "pages.topics": ("GET", "/topics", None, {"anon": 302, "*": 200}),
    "auth.login": ("GET", "/login", None, PUBLIC),
    "auth.logout": ("POST", "/logout", None, {"*": 302}),
    "health.healthz": ("GET", "/healthz", None, PUBLIC),
    "health.readyz": ("GET", "/readyz", None, PUBLIC),
    # Asked from another machine (REMOTE below): only an admin; from this one anyone may scrape.
    "metrics.metrics": ("GET", "/metrics", None, {"anon": 401, "admin": 200, "*": 403}),
    "boundaries.boundary_layer": ("GET", "/api/boundaries/grid.geojson", None, SIGNED_IN_200),
    "boundaries.boundary_search": ("GET", "/api/boundaries/search?q=1101", None, SIGNED_IN_200),
    "cases.create_case": ("POST", "/api/cases", {**EAST, "category": "0101"},
                          {"anon": 401, "worker_in": 201, "worker_out": 403, "leader_in": 201, "leader_out": 403,
                           "staff_lead": 201, "staff_other": 201, "planner_in": 403, "planner_out": 403,
                           "admin": 403, "community_in": 201, "community_out": 403, "hotline_in": 201,
                           "hotline_out": 403}),
    "cases.list_cases": ("GET", "/api/cases", None, SIGNED_IN_200),
    "cases.search": ("GET", "/api/search?q=110101", None, SIGNED_IN_200),
    # Offline basemap tiles: signed in only; none configured here, so 404.
    "tiles.first_tile": ("GET", "/tiles/0/0/0", None, {"anon": 401, "*": 404}),
    "tiles.tile": ("GET", "/tiles/0/0/0/0", None, {"anon": 401, "*": 404}),
    "cases.case_map": ("GET", "/api/cases/map?zoom=16", None, SIGNED_IN_200),
    "cases.nearby": ("GET", "/api/cases/nearby?lon=116.3175&lat=39.9025&category=0101", None, SIGNED_IN_200),
    "cases.placement": ("GET", "/api/cases/placement?lon=116.3175&lat=39.9025", None, SIGNED_IN_200),
    "cases.get_case": ("GET", "/api/cases/{case}", None, SEE),
    "cases.case_events": ("GET", "/api/cases/{case}/events", None, SEE),
    "cases.case_actions": ("GET", "/api/cases/{case}/actions", None, SEE),
    "cases.case_action": ("POST", "/api/cases/{case}/actions", {"action": "dispatch"},
                          {**SEE, "worker_in": 403, "staff_lead": 403, "planner_in": 403, "admin": 403,
                           "community_in": 403}),
    "cases.categories": ("GET", "/api/categories", None, SIGNED_IN_200),
    "cases.departments": ("GET", "/api/departments", None, SIGNED_IN_200),
    # Streets, communities and the lead department (summoning others) whistle; who cannot see the case gets 404.
    "whistles.blow": ("POST", "/api/whistles", {"case_ids": ["{case}"], "lead_department": "HBJ", "reason": "群众诉求"},
                      {"anon": 401, "leader_in": 201, "leader_out": 404, "community_in": 201, "community_out": 404,
                       "staff_lead": 201, "staff_other": 404, "*": 403}),
    "whistles.report": ("POST", "/api/whistles/{whistle}/reports", EAST, {"anon": 401, "staff_lead": 201, "*": 403}),
    "whistles.get_whistle": ("GET", "/api/whistles/{whistle}", None, SEE),
    "whistles.list_whistles": ("GET", "/api/whistles?status=all", None, SIGNED_IN_200),
    # Only the whistling street scores; the others who see the whistle (HBJ is summoned to it) get 403.
    "whistles.score": ("POST", "/api/whistles/{closed}/scores",
                       {"department": "HBJ", "arrival": 5, "cooperation": 4, "result": 3},
                       {**SEE, "leader_in": 201, "worker_in": 403, "staff_lead": 403, "staff_other": 403,
                        "planner_in": 403, "admin": 403, "community_in": 403, "hotline_in": 403}),
    "photos.upload": ("POST", "/api/cases/{case}/photos", "PHOTO",
                      {"anon": 401, "worker_in": 201, "worker_out": 404, "leader_in": 201, "leader_out": 404,
                       "staff_lead": 201, "staff_other": 404, "planner_in": 403, "planner_out": 404, "admin": 403,
                       "community_in": 201, "community_out": 404, "hotline_in": 201, "hotline_out": 404}),
    "photos.case_photos": ("GET", "/api/cases/{case}/photos", None, SEE),
    "photos.photo": ("GET", "/api/photos/{photo}", None, SEE),
    "stats.measures": ("GET", "/api/stats/street.json", None, AREA_STATS),
    # hotline_out's district 110102 is not loaded here: its whole-area trend names the bad scope.
    "stats.trend": ("GET", "/api/stats/trend?level=street", None, {**AREA_STATS, "hotline_out": 422}),
    "hotspots.gistar": ("GET", "/api/hotspots/gistar.geojson", None, AREA_STATS),
    "hotspots.density": ("GET", "/api/hotspots/density.geojson", None, AREA_STATS),
    "hotspots.h3": ("GET", "/api/hotspots/h3.geojson", None, AREA_STATS),
    "hotspots.heat": ("GET", "/api/hotspots/heat.json", None, AREA_STATS),
    "hotspots.change": ("GET", "/api/hotspots/change.geojson?a_from=2026-01-01&a_to=2026-01-31"
                        "&b_from=2026-02-01&b_to=2026-02-28", None, AREA_STATS),
    "hotspots.recurring": ("GET", "/api/hotspots/recurring.json", None, AREA_STATS),
    # Monthly topics: the topic targets street 110101002 and is led by CGW. Everyone signed in lists
    # what they may see; planners and admins set and change topics inside their scope.
    "topics.list_topics": ("GET", "/api/topics", None, SIGNED_IN_200),
    "topics.export_topics": ("GET", "/api/topics.csv", None, SIGNED_IN_200),
    "topics.create_topic": ("POST", "/api/topics", TOPIC,
                            {"anon": 401, "planner_in": 201, "admin": 201, "*": 403}),
    "topics.get_topic": ("GET", "/api/topics/{topic}", None, SEE),
    "topics.export_topic": ("GET", "/api/topics/{topic}.xlsx", None, SEE),
    "topics.change_topic": ("PATCH", "/api/topics/{topic}", {"goal": "新目标"},
                            {**SEE, "planner_in": 200, "admin": 200, "worker_in": 403, "leader_in": 403,
                             "staff_lead": 403, "community_in": 403, "hotline_in": 403}),

    "api-docs.openapi_json": ("GET", "/api/openapi.json", None, PUBLIC),
    "api-docs.openapi_swagger_ui": ("GET", "/api/docs", None, PUBLIC),
    "open311.discovery": ("GET", "/open311/v2/discovery.json", None, PUBLIC),
    "open311.services": ("GET", "/open311/v2/services.json", None, PUBLIC),
    "open311.service_definition": ("GET", "/open311/v2/services/0101.json", None, PUBLIC),
    "open311.get_requests": ("GET", "/open311/v2/requests.json", None, PUBLIC),
    "open311.get_request": ("GET", "/open311/v2/requests/{case}.json", None, PUBLIC),
    "open311.token": ("GET", "/open311/v2/tokens/{case}.json", None, PUBLIC),
    # Open311 POST authenticates with api_key only (its own tests cover valid keys); cookies and
    # bearer headers do not count, so everyone without a key gets 403.
    "open311.post_request": ("POST", "/open311/v2/requests.json", None, {"*": 403}),
}
NOT_IN_TABLE = {"static"}  # files, no data
#: The client address of an endpoint's requests when it is not the test client's 127.0.0.1.
REMOTE = {"metrics.metrics": "203.0.113.7"}


def test_every_endpoint_is_in_the_table(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()} - NOT_IN_TABLE
    assert endpoints == set(TABLE)


#: The world every row reads, made once for the module and committed in a database of its own;
#: each test's requests still run inside a transaction that is rolled back (conftest's app).
WORLD: dict[str, str] = {}
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def db_url(admin_url, template_db, tmp_path_factory):
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from tests.conftest import _admin, _clone, load_tiny_hierarchy, load_tiny_reference

    name, url = _clone(admin_url, template_db)
    engine = create_engine(url)
    with Session(engine) as session, session.begin():
        load_tiny_hierarchy(session, tmp_path_factory.mktemp("boundaries"))
        load_tiny_reference(session, tmp_path_factory.mktemp("reference"))
        WORLD.update(_make_world(session))
        for who, (role, scope, department) in USERS.items():
            TOKENS[who] = make_user(session, who, role, scope, department)
    engine.dispose()
    yield url
    _admin(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="module")
def engine(db_url):
    from sqlalchemy import create_engine

    eng = create_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def world(db_url):
    return WORLD


def _make_world(session):
    leader = accounts.create_user(session, "setup_leader", role="street_leader", scope="110101002",
                                  password="password-setup")
    case = cases.create_case(session, cases.NewCase(category="0101", **EAST), user=leader)
    assert case["properties"]["lead_department"] == "CGW"
    whistle = whistles.blow(session, leader, case_nos=[case["id"]], lead="CGW", co=[], reason="综合执法")
    photo = photos.add_photos(session, leader, case["id"], [("photo", _png())])[0]
    done = cases.create_case(session, cases.NewCase(category="0101", **EAST), user=leader)
    closed = whistles.blow(session, leader, case_nos=[done["id"]], lead="HBJ", co=[], reason="重点工作")
    cgw = accounts.create_user(session, "setup_cgw", role="department_staff", department="CGW",
                               password="password-setup")
    workflow.act(session, leader, done["id"], "dispatch")
    for step in ("sign", "start", "resolve"):
        workflow.act(session, cgw, done["id"], step, note="已处理")
    planner = accounts.create_user(session, "setup_planner", role="planner", password="password-setup")
    topic = topics.create(session, planner, TopicDraft(TOPIC["title"], "0101", ("110101002",), "", "CGW"))
    return {"case": case["id"], "whistle": str(whistle["id"]), "photo": str(photo["id"]), "closed": str(closed["id"]),
            "topic": str(topic["id"])}


def _png() -> bytes:
    buf = BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "PNG")
    return buf.getvalue()


def _fill(value, world):
    if isinstance(value, str):
        return value.format(**world)
    if isinstance(value, list):
        return [_fill(v, world) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, world) for k, v in value.items()}
    return value


@pytest.mark.parametrize("who", WHO)
@pytest.mark.parametrize("endpoint", sorted(TABLE))
def test_permission_table(app, world, endpoint, who):
    method, path, body, expected = TABLE[endpoint]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = REMOTE.get(endpoint, "127.0.0.1")
    if who != "anon":
        client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + TOKENS[who]
    path, body = _fill(path, world), _fill(body, world)
    if body == "PHOTO":
        resp = client.open(path, method=method, data={"photo": (BytesIO(_png()), "p.png")},
                           content_type="multipart/form-data")
    elif body is not None:
        resp = client.open(path, method=method, json=body)
    else:
        resp = client.open(path, method=method)
    assert resp.status_code == expected.get(who, expected.get("*")), resp.get_data(as_text=True)[:300]
