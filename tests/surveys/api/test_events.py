import json
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from surveys.api.idempotency import purge_idempotency_keys
from surveys.models import Contact, Event, IdempotentRequest, Invitation
from tests.factories import make_api_token, make_contact, make_touchpoint
from tests.threads import at_once

pytestmark = pytest.mark.django_db

EVENTS = "/api/v1/events/"
BULK = "/api/v1/events/bulk/"


@pytest.fixture
def token(cx_manager):
    return make_api_token(user=cx_manager, write=True)


@pytest.fixture
def touchpoint():
    return make_touchpoint(slug="order-delivered", delay_seconds=3600, send_window=None)


def post(client, token, body=None, *, path=EVENTS, raw=None, content_type="application/json", key=None):
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    if key is not None:
        headers["Idempotency-Key"] = key
    data = raw if raw is not None else json.dumps(body)
    return client.post(path, data, content_type=content_type, headers=headers)


def counts():
    return Event.objects.count(), Contact.objects.count(), Invitation.objects.count()


def test_an_event_creates_its_contact_and_schedules_the_invitation_after_the_delay(client, token, touchpoint):
    occurred_at = timezone.now().replace(microsecond=0) - timedelta(minutes=10)
    answer = post(
        client,
        token,
        {
            "touchpoint": "order-delivered",
            "email": "Anna@Example.com",
            "external_id": "C-1001",
            "name": "Anna Schmidt",
            "language": "de",
            "legal_basis": "customer",
            "contact_properties": {"plan": "pro"},
            "properties": {"order_id": "10042", "total": 99.5, "express": True, "coupon": None},
            "occurred_at": occurred_at.isoformat(),
        },
    )
    assert answer.status_code == 202
    event = Event.objects.select_related("contact", "invitation").get()
    invitation = event.invitation
    assert answer.json() == {
        "event_id": event.pk,
        "invitation": {
            "id": invitation.pk,
            "status": "scheduled",
            "reason": None,
            "scheduled_for": answer.json()["invitation"]["scheduled_for"],
        },
    }
    scheduled_for = datetime.fromisoformat(answer.json()["invitation"]["scheduled_for"])
    assert scheduled_for == occurred_at + timedelta(hours=1) == invitation.scheduled_for
    assert event.occurred_at == occurred_at
    assert event.properties == {"order_id": "10042", "total": 99.5, "express": True, "coupon": None}
    contact = event.contact
    assert (contact.email, contact.external_id, contact.name, contact.language) == (
        "Anna@Example.com",
        "C-1001",
        "Anna Schmidt",
        "de",
    )
    assert contact.legal_basis == "customer"
    assert contact.properties == {"plan": "pro"}


def test_an_event_without_a_time_happened_when_it_arrived(client, token, touchpoint):
    before = timezone.now()
    answer = post(
        client, token, {"touchpoint": "order-delivered", "external_id": "C-7", "email": "b@example.com"}
    )
    assert answer.status_code == 202
    event = Event.objects.get()
    assert before <= event.occurred_at <= timezone.now()
    assert event.invitation.scheduled_for == event.occurred_at + timedelta(hours=1)


def test_an_unsubscribed_contact_is_skipped_and_the_reason_is_given(client, token, touchpoint):
    make_contact(email="anna@example.com", unsubscribed_at=timezone.now())
    answer = post(client, token, {"touchpoint": "order-delivered", "email": "ANNA@example.com"})
    assert answer.status_code == 202
    assert answer.json()["invitation"] | {"id": None} == {
        "id": None,
        "status": "skipped",
        "reason": "unsubscribed",
        "scheduled_for": None,
    }
    assert Invitation.objects.get().skip_reason == "unsubscribed"
    assert Contact.objects.count() == 1


def test_a_second_event_updates_the_contact_and_is_protected_from_recontact(client, token, touchpoint):
    post(client, token, {"touchpoint": "order-delivered", "email": "anna@example.com", "name": "Anna"})
    answer = post(
        client,
        token,
        {
            "touchpoint": "order-delivered",
            "email": "anna@example.com",
            "external_id": "C-1001",
            "name": "Anna Schmidt",
            "language": "en",
        },
    )
    assert answer.status_code == 202
    assert answer.json()["invitation"]["reason"] == "recently_invited"
    contact = Contact.objects.get()
    assert (contact.name, contact.language, contact.external_id) == ("Anna Schmidt", "en", "C-1001")
    assert Event.objects.filter(contact=contact).count() == 2


def test_an_email_and_external_id_of_two_contacts_are_refused(client, token, touchpoint):
    make_contact(email="anna@example.com")
    make_contact(email="bob@example.com", external_id="C-2")
    before = counts()
    answer = post(
        client, token, {"touchpoint": "order-delivered", "email": "anna@example.com", "external_id": "C-2"}
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert error["fields"]["email"] == ["The email and the external id belong to two contacts."]
    assert "external_id" in error["fields"]
    assert counts() == before


def test_only_post_is_allowed(client, token):
    answer = client.get(EVENTS, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 405
    assert answer.json()["error"]["code"] == "method_not_allowed"


# Every malformed body: a clear 4xx in the error shape, and nothing stored.

FUTURE = (timezone.now() + timedelta(days=2)).isoformat()
VALID = '"touchpoint": "order-delivered", "email": "anna@example.com"'


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ('{"touchpoint": "no-such-touchpoint", "email": "anna@example.com"}', "touchpoint", "No touchpoint"),
        ('{"touchpoint": 42, "email": "anna@example.com"}', "touchpoint", "Not a valid string"),
        (
            '{"touchpoint": "order\\u0000delivered", "email": "a@example.com"}',
            "touchpoint",
            "Null characters",
        ),
        ('{"email": "anna@example.com"}', "touchpoint", "required"),
        ('{"touchpoint": "order-delivered", "email": "not-an-email"}', "email", "valid email"),
        ('{"touchpoint": "order-delivered", "email": "anna\\u0000@example.com"}', "email", ""),
        ('{"touchpoint": "order-delivered"}', "non_field_errors", "email or external_id"),
        ('{"touchpoint": "order-delivered", "email": "", "external_id": ""}', "non_field_errors", "email"),
        ('{"touchpoint": "order-delivered", "external_id": 1001}', "external_id", "Not a valid string"),
        (f'{{{VALID}, "name": ["Anna"]}}', "name", "Not a valid string"),
        (f'{{{VALID}, "name": "An\\u0000na"}}', "name", "Null characters"),
        (f'{{{VALID}, "name": "An\\ud800na"}}', "name", "Surrogate"),
        (f'{{{VALID}, "name": "{"x" * 201}"}}', "name", "200 characters"),
        (f'{{{VALID}, "language": "fr"}}', "language", "Choose one of: de, en."),
        (f'{{{VALID}, "language": 1}}', "language", "Choose one of"),
        (f'{{{VALID}, "legal_basis": "maybe"}}', "legal_basis", "Choose one of"),
        (f'{{{VALID}, "occurred_at": "2025-03-01T14:30:00"}}', "occurred_at", "no offset"),
        (f'{{{VALID}, "occurred_at": "2025-03-01"}}', "occurred_at", "no offset"),
        (f'{{{VALID}, "occurred_at": "{FUTURE}"}}', "occurred_at", "more than a day in the future"),
        (f'{{{VALID}, "occurred_at": "yesterday"}}', "occurred_at", "ISO 8601"),
        (f'{{{VALID}, "occurred_at": 1740000000}}', "occurred_at", "ISO 8601"),
        (f'{{{VALID}, "occurred_at": "0001-01-01T00:00:00+01:00"}}', "occurred_at", "ISO 8601"),
        (f'{{{VALID}, "properties": ["order_id"]}}', "properties", "JSON object"),
        (f'{{{VALID}, "properties": "order_id=1"}}', "properties", "JSON object"),
        (f'{{{VALID}, "properties": {{"order": {{"id": 1}}}}}}', "properties", "not a list or an object"),
        (f'{{{VALID}, "properties": {{"items": [1, 2]}}}}', "properties", "not a list or an object"),
        (f'{{{VALID}, "properties": {{"note": "a\\u0000b"}}}}', "properties", "NUL"),
        (f'{{{VALID}, "properties": {{"note": "a\\udc00b"}}}}', "properties", "surrogate"),
        (f'{{{VALID}, "properties": {{"bad key": "x"}}}}', "properties", "not a valid property name"),
        (f'{{{VALID}, "properties": {{"a\\u0000": "x"}}}}', "properties", "not a valid property name"),
        (f'{{{VALID}, "properties": {{"note": "{"x" * 501}"}}}}', "properties", "longer than 500"),
        (f'{{{VALID}, "properties": {{"total": 1e309}}}}', "properties", "too large"),
        (f'{{{VALID}, "properties": {{"id": {10**30}}}}}', "properties", "too large"),
        (
            f'{{{VALID}, "properties": {json.dumps({f"p{n}": n for n in range(51)})}}}',
            "properties",
            "At most 50",
        ),
        (f'{{{VALID}, "contact_properties": {{"segment": {{"a": 1}}}}}}', "contact_properties", "not a list"),
        (f'{{{VALID}, "propertis": {{}}}}', "propertis", "Unknown field"),
    ],
)
def test_a_malformed_event_is_refused_and_nothing_is_stored(client, token, touchpoint, raw, field, message):
    make_contact(email="someone@example.com")
    before = counts()
    answer = post(client, token, raw=raw)
    assert answer.status_code == 400, answer.content
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error
    assert message in json.dumps(error["fields"][field], ensure_ascii=False) + error["message"]
    assert error["message"]
    assert counts() == before


@pytest.mark.parametrize(
    ("raw", "code", "message"),
    [
        (
            b'[{"touchpoint": "order-delivered", "email": "anna@example.com"}]',
            "invalid",
            "Expected a JSON object.",
        ),
        (b'"order-delivered"', "invalid", "Expected a JSON object."),
        (b"null", "invalid", "Expected a JSON object."),
        (b"{not json", "parse_error", "JSON parse error"),
        (b'{"touchpoint": NaN}', "parse_error", "JSON parse error"),
        (b'{"touchpoint": "\xff\xfe"}', "parse_error", "JSON parse error"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(client, token, touchpoint, raw, code, message):
    before = counts()
    answer = post(client, token, raw=raw)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == code
    assert message in answer.json()["error"]["message"]
    assert counts() == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_json_is_an_unsupported_media_type(client, token, touchpoint, content_type):
    raw = json.dumps({"touchpoint": "order-delivered", "email": "anna@example.com"})
    answer = post(client, token, raw=raw, content_type=content_type)
    assert answer.status_code == 415
    assert answer.json()["error"]["code"] == "unsupported_media_type"
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("path", [EVENTS, BULK])
def test_a_body_over_one_megabyte_is_refused_before_it_is_read(client, token, touchpoint, path):
    raw = json.dumps(
        {"touchpoint": "order-delivered", "email": "a@example.com", "padding": "x" * 1024 * 1024}
    )
    answer = post(client, token, raw=raw, path=path)
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert (error["code"], error["message"]) == (
        "payload_too_large",
        "The request body is larger than 1024 kB.",
    )
    assert counts() == (0, 0, 0)


def test_a_lower_django_upload_limit_is_answered_in_the_same_shape(client, token, touchpoint, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    raw = json.dumps({"touchpoint": "order-delivered", "email": "a@example.com", "name": "x" * 150})
    answer = post(client, token, raw=raw)
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"
    assert counts() == (0, 0, 0)


# Idempotency-Key


def test_a_retry_with_the_same_key_gets_the_same_answer_and_creates_nothing(client, token, touchpoint):
    body = {"touchpoint": "order-delivered", "email": "anna@example.com", "properties": {"order_id": "1"}}
    first = post(client, token, body, key="order-1-delivered")
    retry = post(client, token, body, key="order-1-delivered")
    assert first.status_code == retry.status_code == 202
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert counts() == (1, 1, 1)


def test_the_same_key_with_another_body_is_a_conflict_and_stores_nothing(client, token, touchpoint):
    post(client, token, {"touchpoint": "order-delivered", "email": "anna@example.com"}, key="k-1")
    answer = post(client, token, {"touchpoint": "order-delivered", "email": "bob@example.com"}, key="k-1")
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "conflict"
    assert "Idempotency-Key" in error["message"]
    assert counts() == (1, 1, 1)
    assert not Contact.objects.filter(email="bob@example.com").exists()
    assert IdempotentRequest.objects.count() == 1


def test_the_same_key_on_the_other_endpoint_is_a_conflict(client, token, touchpoint):
    body = {"touchpoint": "order-delivered", "email": "anna@example.com"}
    post(client, token, body, key="k-1")
    answer = post(client, token, {"events": [body]}, path=BULK, key="k-1")
    assert answer.status_code == 409
    assert counts() == (1, 1, 1)


def test_keys_belong_to_one_token(client, token, touchpoint, cx_manager):
    other = make_api_token(user=cx_manager, write=True, name="other system")
    body = {"touchpoint": "order-delivered", "email": "anna@example.com"}
    post(client, token, body, key="k-1")
    answer = post(client, other, body, key="k-1")
    assert answer.status_code == 202
    assert "Idempotent-Replayed" not in answer
    assert Event.objects.count() == 2


def test_a_refused_request_does_not_use_up_its_key(client, token, touchpoint):
    refused = post(client, token, {"touchpoint": "order-delivered", "email": "not-an-email"}, key="k-1")
    assert refused.status_code == 400
    assert not IdempotentRequest.objects.exists()
    corrected = post(client, token, {"touchpoint": "order-delivered", "email": "anna@example.com"}, key="k-1")
    assert corrected.status_code == 202
    assert "Idempotent-Replayed" not in corrected
    assert counts() == (1, 1, 1)


def test_a_key_older_than_a_day_is_new_again_and_can_be_purged(client, token, touchpoint):
    body = {"touchpoint": "order-delivered", "email": "anna@example.com"}
    post(client, token, body, key="k-old")
    post(client, token, body, key="k-fresh")
    IdempotentRequest.objects.filter(key="k-old").update(created_at=timezone.now() - timedelta(hours=25))
    again = post(client, token, body, key="k-old")
    assert again.status_code == 202
    assert "Idempotent-Replayed" not in again
    assert Event.objects.count() == 3
    IdempotentRequest.objects.update(created_at=timezone.now() - timedelta(hours=25))
    IdempotentRequest.objects.filter(key="k-fresh").update(created_at=timezone.now())
    assert purge_idempotency_keys(now=timezone.now()) == 1
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["k-fresh"]


@pytest.mark.parametrize("key", ["", "x" * 256, "schlüssel", "tab\there"])
def test_a_malformed_idempotency_key_is_refused(client, token, touchpoint, key):
    answer = post(client, token, {"touchpoint": "order-delivered", "email": "anna@example.com"}, key=key)
    assert answer.status_code == 400
    assert "Idempotency-Key" in answer.json()["error"]["fields"]
    assert counts() == (0, 0, 0)


# Bulk


def test_bulk_stores_the_valid_events_and_reports_the_others_by_index(client, token, touchpoint):
    make_contact(email="anna@example.com")
    make_contact(email="bob@example.com", external_id="C-2")
    events = [
        {"touchpoint": "order-delivered", "email": "carla@example.com", "properties": {"order_id": "1"}},
        {"touchpoint": "order-delivered", "email": "not-an-email"},
        {"touchpoint": "no-such-touchpoint", "email": "dora@example.com"},
        {"touchpoint": "order-delivered", "external_id": "C-9", "email": "emil@example.com"},
        {"touchpoint": "order-delivered", "email": "anna@example.com", "external_id": "C-2"},
        ["not", "an", "object"],
        {"touchpoint": "order-delivered", "email": "fritz@example.com", "properties": {"a": {"b": 1}}},
    ]
    answer = post(client, token, {"events": events}, path=BULK)
    assert answer.status_code == 200
    results = answer.json()["results"]
    assert [result["index"] for result in results] == list(range(7))
    assert [result["status"] for result in results] == [202, 400, 400, 202, 400, 400, 400]
    assert "email" in results[1]["error"]["fields"]
    assert results[2]["error"]["fields"]["touchpoint"] == ["No touchpoint has the slug “no-such-touchpoint”."]
    assert results[4]["error"]["message"].startswith("email: The email and the external id belong")
    assert results[5]["error"] == {
        "code": "invalid",
        "message": "Expected a JSON object.",
        "fields": {"non_field_errors": ["Expected a JSON object."]},
    }
    assert "properties" in results[6]["error"]["fields"]
    stored = Event.objects.select_related("contact", "invitation")
    assert sorted(event.contact.email for event in stored) == ["carla@example.com", "emil@example.com"]
    carla = stored.get(contact__email="carla@example.com")
    assert results[0]["event_id"] == carla.pk
    assert results[0]["invitation"]["id"] == carla.invitation.pk
    assert results[0]["invitation"]["status"] == "scheduled"
    assert carla.properties == {"order_id": "1"}
    assert not Contact.objects.filter(email__in=["dora@example.com", "fritz@example.com"]).exists()


def test_bulk_takes_up_to_a_thousand_events(client, token, touchpoint):
    events = [{"touchpoint": "order-delivered", "email": f"c{n}@example.com"} for n in range(1000)]
    answer = post(client, token, {"events": events}, path=BULK)
    assert answer.status_code == 200
    assert {result["status"] for result in answer.json()["results"]} == {202}
    assert counts() == (1000, 1000, 1000)


def test_bulk_refuses_more_than_a_thousand_events_as_a_whole(client, token, touchpoint):
    events = [{"touchpoint": "order-delivered", "email": f"c{n}@example.com"} for n in range(1001)]
    answer = post(client, token, {"events": events}, path=BULK)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert "no more than 1000" in error["fields"]["events"][0]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"touchpoint": "order-delivered", "email": "a@example.com"}], "non_field_errors"),
        ({"events": {"touchpoint": "order-delivered"}}, "events"),
        ({}, "events"),
        ({"events": [], "dry_run": True}, "dry_run"),
    ],
)
def test_a_malformed_bulk_body_is_refused_as_a_whole(client, token, touchpoint, body, field):
    answer = post(client, token, body, path=BULK)
    assert answer.status_code == 400
    assert field in answer.json()["error"]["fields"]
    assert counts() == (0, 0, 0)


def test_an_empty_bulk_request_answers_no_results(client, token):
    answer = post(client, token, {"events": []}, path=BULK)
    assert (answer.status_code, answer.json()) == (200, {"results": []})


def test_bulk_needs_a_fixed_number_of_queries_whatever_the_batch_size(client, token, touchpoint):
    def queries_for(size, offset):
        events = [
            {"touchpoint": "order-delivered", "email": f"c{offset + n}@example.com"} for n in range(size)
        ]
        with CaptureQueriesContext(connection) as queries:
            assert post(client, token, {"events": events}, path=BULK).status_code == 200
        return len(queries)

    queries_for(1, 1000)  # the token's first use is recorded once
    assert queries_for(3, 0) == queries_for(30, 100)


def test_a_bulk_retry_with_the_same_key_is_replayed(client, token, touchpoint):
    body = {
        "events": [
            {"touchpoint": "order-delivered", "email": "anna@example.com"},
            {"touchpoint": "order-delivered", "email": "bad"},
            {"touchpoint": "order-delivered", "email": "bob@example.com", "name": "Bob\u0000"},
            {"touchpoint": "order-delivered", "email": "carl@example.com", "n\u0000ame": "x"},
        ]
    }
    first = post(client, token, body, path=BULK, key="batch-7")
    retry = post(client, token, body, path=BULK, key="batch-7")
    assert first.status_code == retry.status_code == 200
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert [result["status"] for result in retry.json()["results"]] == [202, 400, 400, 400]
    assert counts() == (1, 1, 1)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_requests_with_the_same_key_create_one_event(cx_manager):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises all writers; the race needs PostgreSQL")
    token = make_api_token(user=cx_manager, write=True)
    make_touchpoint(slug="order-delivered", send_window=None)
    body = {"touchpoint": "order-delivered", "email": "anna@example.com"}
    for attempt in range(5):
        answers = at_once(
            lambda client, key=f"race-{attempt}": post(client, token, body, key=key), [Client(), Client()]
        )
        assert [answer.status_code for answer in answers] == [202, 202]
        assert answers[0].json() == answers[1].json()
        assert sorted(answer.get("Idempotent-Replayed", "") for answer in answers) == ["", "true"]
    assert Event.objects.count() == 5


def test_events_are_accepted_while_redis_is_down(client, token, touchpoint, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
        }
    }
    answer = post(client, token, {"touchpoint": "order-delivered", "email": "anna@example.com"})
    assert answer.status_code == 202
    assert answer.json()["invitation"]["status"] == "scheduled"
    assert Invitation.objects.get().status == "scheduled"
    assert "rate limit for api not enforced: the cache is unavailable" in caplog.text
