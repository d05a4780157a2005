"""The API's JSON parser: bodies nested too deeply are a 400 in the error shape on every endpoint
that reads a body, never a RecursionError."""

import json
import uuid

import pytest
from django.contrib.auth.models import Permission

from feedback.models import ExportRecord
from surveys.api.parsers import MAX_DEPTH, nested_deeper_than
from surveys.models import Contact, Event, Response, Survey, Touchpoint
from tests.factories import make_api_token, make_contact, make_subscription, make_touchpoint
from webhooks.models import Message, Subscription

pytestmark = pytest.mark.django_db

TOO_DEEP = f"The JSON is nested more than {MAX_DEPTH} levels deep."
# Every endpoint that reads a JSON body; {survey}, {touchpoint}, {contact} and {subscription} are ids.
BODIES = [
    ("post", "/api/v1/surveys/"),
    ("patch", "/api/v1/surveys/{survey}/"),
    ("put", "/api/v1/surveys/{survey}/"),
    ("post", "/api/v1/touchpoints/"),
    ("patch", "/api/v1/touchpoints/{touchpoint}/"),
    ("post", "/api/v1/contacts/"),
    ("patch", "/api/v1/contacts/{contact}/"),
    ("post", "/api/v1/events/"),
    ("post", "/api/v1/events/bulk/"),
    ("post", "/api/v1/widget/responses/"),
    ("patch", "/api/v1/widget/responses/{response}/"),
    ("post", "/api/v1/exports/"),
    ("post", "/api/v1/webhooks/"),
    ("patch", "/api/v1/webhooks/{subscription}/"),
    ("post", "/api/v1/webhooks/{subscription}/resend/"),
]


def nested(depth: int, inner: str = "") -> str:
    return "[" * depth + inner + "]" * depth


def rows() -> tuple[int, ...]:
    models = (Survey, Touchpoint, Contact, Event, Response, ExportRecord, Subscription, Message)
    return tuple(model.objects.count() for model in models)


@pytest.fixture
def send(client, cx_manager):
    cx_manager.user_permissions.add(*Permission.objects.filter(content_type__app_label="webhooks"))
    token = make_api_token(user=cx_manager, write=True)
    touchpoint = make_touchpoint(slug="order-delivered")
    ids = {
        "survey": touchpoint.survey_id,
        "touchpoint": touchpoint.pk,
        "contact": make_contact().pk,
        "subscription": make_subscription(owner=cx_manager).pk,
        "response": uuid.uuid4(),
    }

    def request(method: str, path: str, body: str):
        headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
        return getattr(client, method)(
            path.format(**ids), body, content_type="application/json", headers=headers
        )

    return request


@pytest.mark.parametrize(("method", "path"), BODIES)
def test_fifteen_thousand_nested_brackets_are_a_bad_request_everywhere(send, method, path):
    before = rows()
    refused = send(method, path, nested(15_000))
    assert refused.status_code == 400
    assert refused.json()["error"] == {"code": "parse_error", "message": TOO_DEEP, "fields": {}}
    assert rows() == before


def test_a_body_nested_less_than_the_stack_allows_is_refused_before_any_code_recurses_over_it(send):
    # Django resolves a lookup value that is a list recursively: 600 levels exhaust the stack.
    before = rows()
    body = f'{{"name": "Delivery", "slug": "delivery", "survey": {nested(600, "1")}}}'
    refused = send("post", "/api/v1/touchpoints/", body)
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == TOO_DEEP
    assert rows() == before


def test_the_limit_lies_at_max_depth_levels(send):
    def properties(depth: int) -> str:
        # The event is one level, its properties a second, the lists the rest.
        properties = {"plan": "__nested__"}
        event = {"touchpoint": "order-delivered", "email": "anna@example.com", "properties": properties}
        return json.dumps(event).replace('"__nested__"', nested(depth - 2, '"pro"'))

    # Read, and refused for what it says: a property's value cannot be a list.
    read = send("post", "/api/v1/events/", properties(MAX_DEPTH)).json()["error"]
    assert read["code"] == "invalid"
    assert "must be a string, a number, true, false or null" in read["message"]
    refused = send("post", "/api/v1/events/", properties(MAX_DEPTH + 1)).json()["error"]
    assert refused["message"] == TOO_DEEP
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("data", "limit", "deeper"),
    [
        (None, 0, False),
        ("[[[", 0, False),
        ([], 0, True),
        ([], 1, False),
        ([[]], 1, True),
        ({"a": [1, {"b": None}]}, 3, False),
        ({"a": [1, {"b": []}]}, 3, True),
        ([1, [2, [3]], {"x": 4}], 3, False),
    ],
)
def test_nesting_depth_counts_lists_and_objects_alike(data, limit, deeper):
    assert nested_deeper_than(data, limit) is deeper


def test_nesting_depth_is_measured_without_recursion():
    data = []
    for _ in range(100_000):
        data = [data]
    assert nested_deeper_than(data, 99_999) and not nested_deeper_than(data, 100_001)
