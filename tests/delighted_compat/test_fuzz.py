"""Whatever an integration sends to the Delighted API, the answer is never a server error: any
JSON body and any query, to every endpoint, with the parameters' own names as well as others."""

import json
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.delighted_compat.test_api import BASE, basic
from tests.factories import make_contact, make_response

pytestmark = pytest.mark.django_db

NAMES = [
    "email",
    "name",
    "delay",
    "send",
    "properties",
    "email_update",
    "phone_number",
    "channel",
    "person",
    "person_id",
    "person_email",
    "person_name",
    "score",
    "comment",
    "person_properties",
    "created_at",
    "since",
    "until",
    "updated_since",
    "updated_until",
    "trend",
    "order",
    "expand",
    "page",
    "per_page",
    "page_info",
    "locale",
]
TEXT = st.text(max_size=30) | st.sampled_from(["", "0", "-1", "10", "1e3", "jana@example.com", "true", "asc"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
BODIES = st.dictionaries(st.sampled_from(NAMES) | TEXT, JSON, max_size=6)
QUERIES = st.lists(st.tuples(st.sampled_from([*NAMES, "expand[]", "properties[plan]"]), TEXT), max_size=6)
ROUTES = [
    ("post", "people.json"),
    ("get", "people.json"),
    ("delete", "people/{person}"),
    ("delete", "people/jana@example.com/survey_requests/pending"),
    ("post", "survey_responses.json"),
    ("get", "survey_responses.json"),
    ("get", "survey_responses/{response}.json"),
    ("put", "survey_responses/{response}.json"),
    ("get", "metrics.json"),
    ("post", "unsubscribes.json"),
    ("get", "unsubscribes.json"),
    ("get", "bounces.json"),
    ("get", "autopilot/email.json"),
    ("post", "autopilot/email/memberships.json"),
    ("get", "autopilot/email/memberships.json"),
    ("delete", "autopilot/email/memberships.json"),
]


@pytest.mark.parametrize(("method", "route"), ROUTES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, query=QUERIES)
def test_no_input_is_a_server_error(client, project, settings, method, route, body, query):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api": 10**6}
    contact = make_contact()
    response = make_response(survey=project.touchpoint.survey, contact=contact, score=7)
    path = f"{BASE}/{route.format(person=contact.pk, response=response.pk)}?{urlencode(query)}"
    answer = getattr(client, method)(
        path,
        json.dumps(body) if method != "get" else None,
        content_type="application/json",
        headers=basic(project.key),
    )
    assert answer.status_code < 500, (answer.status_code, path, body)
    assert answer["Content-Type"].startswith("application/json")
