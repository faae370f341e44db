"""Fuzz the JSON API from its own OpenAPI document (schemathesis, through the WSGI app).

Every operation of /api/openapi.json gets generated requests (valid and invalid bodies, query
strings and path parameters), sent with a bearer token over the tiny hierarchy in the real
PostGIS test database (rolled back per operation). Checks: no 5xx, every status code is
documented, the content type is the documented one, the body matches the documented schema.

Two identities: a planner of the whole district (reads everything, may not report or act) with
generated path ids, and the district's street leader (may report, dispatch, whistle) with the
real ids of a case, a whistle and a photo in the path, so the handlers behind the 404s run too.
Bounded for CI: derandomized, at most ``MAX_EXAMPLES`` generated requests per operation.
"""

from __future__ import annotations

from io import BytesIO

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from geo.services import accounts, cases, photos, whistles
from tests.conftest import make_user
from webmap import create_app

MAX_EXAMPLES = 10
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EAST = {"lon": 116.3175, "lat": 39.9025}


@pytest.fixture
def world(session, routed):
    leader = accounts.create_user(session, "fuzz_setup", role="street_leader", scope="110101",
                                  password="password-fuzz")
    case = cases.create_case(session, cases.NewCase(category="0101", **EAST), user=leader)
    whistle = whistles.blow(session, leader, case_nos=[case["id"]], lead="CGW", co=[], reason="综合执法")
    buf = BytesIO()
    Image.new("RGB", (8, 8), "blue").save(buf, "PNG")
    photo = photos.add_photos(session, leader, case["id"], [("photo", buf.getvalue())])[0]
    return {"case_id": case["id"], "whistle_id": whistle["id"], "photo_id": photo["id"]}


@pytest.fixture
def tokens(session, world):
    return {"planner": make_user(session, "fuzz_planner", "planner", "110101"),
            "street_leader": make_user(session, "fuzz_leader", "street_leader", "110101")}


def _openapi_document() -> dict:
    """The document as the app serves it. Read at collection (no database needed: the engine
    never connects for this public endpoint); requests later go to the test's own app."""
    app = create_app({"DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none", "GRIDMAP_SECRET_KEY": "x"})
    return app.test_client().get("/api/openapi.json").get_json()


#: The coverage phase would send every boundary combination of every parameter (minutes per run);
#: the explicit examples and the generated fuzzing phases stay on.
CONFIG = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
schema = schemathesis.openapi.from_dict(_openapi_document(), config=CONFIG)


_SETTINGS = settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, database=None,
                     suppress_health_check=list(HealthCheck))


def _call(app, case, token, ids=None):
    if ids and case.path_parameters:
        case.path_parameters = {k: ids.get(k, v) for k, v in case.path_parameters.items()}
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@schema.parametrize()
@_SETTINGS
def test_api_as_planner_with_generated_ids(app, case, tokens):
    _call(app, case, tokens["planner"])


@schema.parametrize()
@_SETTINGS
def test_api_as_street_leader_with_real_ids(app, case, tokens, world):
    _call(app, case, tokens["street_leader"], world)
