"""Consent that can be proved: every path that sets a contact's legal basis (events, the contacts
API, uploads, the back office) adds to its consent history what is new, and only that."""

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from surveys.ingest import EventIn, ingest_events
from surveys.models import Consent, ConsentRecord, Contact, Event, LegalBasisStated
from surveys.upload import import_contacts, parse_contacts
from tests.factories import make_api_token, make_contact, make_touchpoint, take_away

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
AGREED = "Ja, Kessler darf mich per E-Mail nach meiner Zufriedenheit fragen. Widerruf jederzeit möglich."
EVENTS, BULK, CONTACTS = "/api/v1/events/", "/api/v1/events/bulk/", "/api/v1/contacts/"


def history(contact: Contact | None = None) -> list[tuple]:
    """(legal basis, text, source) of the records, oldest first."""
    records = ConsentRecord.objects.order_by("id")
    if contact is not None:
        records = records.filter(contact=contact)
    return list(records.values_list("legal_basis", "text", "source"))


# What the history records: the rules, without a path in front of them.


def state(contact, legal_basis, before, consent=None):
    return LegalBasisStated(contact=contact, legal_basis=legal_basis, before=before, consent=consent)


def record(*statements):
    return ConsentRecord.objects.record(statements, source="events_api", recorded_by=None, now=NOW)


def test_a_legal_basis_set_for_a_new_contact_or_changed_is_recorded_and_a_repeated_one_is_not():
    anna = make_contact(language="de")
    assert len(record(state(anna, "customer", None))) == 1
    assert record(state(anna, "customer", "customer")) == []
    assert len(record(state(anna, "consent", "customer"))) == 1
    assert history(anna) == [("customer", "", "events_api"), ("consent", "", "events_api")]
    [first, _] = ConsentRecord.objects.order_by("id")
    assert (first.given_at, first.recorded_at, first.language, first.recorded_by_id) == (NOW, NOW, "de", None)


def test_a_legal_basis_stated_again_with_a_new_wording_is_recorded_with_the_same_wording_it_is_not():
    anna = make_contact()
    record(state(anna, "consent", None, Consent(text=AGREED)))
    assert record(state(anna, "consent", "consent", Consent(text=AGREED))) == []
    given = NOW - timedelta(days=2)
    [again] = record(state(anna, "consent", "consent", Consent(text="Neue Fassung 2027", given_at=given)))
    assert (again.text, again.given_at) == ("Neue Fassung 2027", given)
    assert history(anna) == [
        ("consent", AGREED, "events_api"),
        ("consent", "Neue Fassung 2027", "events_api"),
    ]


def test_a_consent_for_a_legal_basis_known_from_before_the_history_is_recorded_once():
    anna = make_contact(legal_basis="consent")  # set before there was a history
    assert len(record(state(anna, "consent", "consent", Consent(text=AGREED)))) == 1
    assert record(state(anna, "consent", "consent", Consent(text=AGREED))) == []


def test_statements_of_one_batch_build_on_each_other():
    anna, ben = make_contact(), make_contact(legal_basis="customer")
    made = record(
        state(anna, "customer", None),
        state(anna, "customer", None),  # the same new contact in a second event of the batch
        state(ben, "customer", "customer", Consent(text=AGREED)),
        state(ben, "customer", "customer", Consent(text=AGREED)),
        state(ben, "none", "customer"),
    )
    assert [(r.contact_id, r.legal_basis, r.text) for r in made] == [
        (anna.pk, "customer", ""),
        (ben.pk, "customer", AGREED),
        (ben.pk, "none", ""),
    ]


def test_the_records_of_a_batch_are_one_insert_and_the_latest_records_one_query():
    contacts = [make_contact(legal_basis="consent") for _ in range(5)]
    with CaptureQueriesContext(connection) as queries:
        record(*(state(contact, "consent", "consent", Consent(text=AGREED)) for contact in contacts))
    assert [query["sql"].split()[0] for query in queries] == ["SELECT", "INSERT"]
    with CaptureQueriesContext(connection) as queries:
        record(*(state(contact, "customer", "consent") for contact in contacts))
    assert [query["sql"].split()[0] for query in queries] == ["INSERT"]


def test_a_contacts_history_goes_when_the_contact_is_erased():
    anna = make_contact()
    record(state(anna, "consent", None, Consent(text=AGREED)))
    anna.delete()
    assert not ConsentRecord.objects.exists()


# The events API.


@pytest.fixture
def token(cx_manager):
    return make_api_token(user=cx_manager, write=True)


@pytest.fixture
def touchpoint():
    return make_touchpoint(slug="order-delivered", send_window=None)


def post(client, token, body, path=EVENTS):
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    return client.post(path, json.dumps(body), content_type="application/json", headers=headers)


def event(email="anna@example.com", **fields):
    return {"touchpoint": "order-delivered", "email": email, **fields}


def test_an_event_records_the_legal_basis_it_sets_with_its_consent_and_who_sent_it(
    client, token, touchpoint, cx_manager
):
    given_at = (timezone.now() - timedelta(hours=3)).replace(microsecond=0)
    body = event(
        language="de", legal_basis="consent", consent={"text": AGREED, "given_at": given_at.isoformat()}
    )
    assert post(client, token, body).status_code == 202
    record = ConsentRecord.objects.select_related("contact").get()
    assert (record.contact.email, record.legal_basis, record.text, record.language) == (
        "anna@example.com",
        "consent",
        AGREED,
        "de",
    )
    assert (record.given_at, record.source, record.recorded_by) == (given_at, "events_api", cx_manager)

    assert post(client, token, body).status_code == 202  # the shop sends it with every order
    assert post(client, token, event(legal_basis="consent")).status_code == 202
    assert post(client, token, event(name="Anna")).status_code == 202
    assert ConsentRecord.objects.count() == 1
    assert post(client, token, event(legal_basis="none")).status_code == 202  # withdrawn
    assert history() == [("consent", AGREED, "events_api"), ("none", "", "events_api")]


def test_a_consent_without_its_time_was_given_when_it_arrived(client, token, touchpoint):
    before = timezone.now()
    assert post(client, token, event(legal_basis="consent", consent={"text": AGREED})).status_code == 202
    assert before <= ConsentRecord.objects.get().given_at <= timezone.now()


def test_an_event_without_a_legal_basis_records_nothing(client, token, touchpoint):
    assert post(client, token, event(legal_basis=None, consent=None)).status_code == 202
    assert post(client, token, event(email="ben@example.com")).status_code == 202
    assert Contact.objects.count() == 2
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize(
    ("consent", "field", "message"),
    [
        ({"text": "x" * 2001}, "text", "Ensure this field has no more than 2000 characters."),
        ({"text": 42}, "text", "Not a valid string."),
        ({"given_at": "2099-01-01T10:00:00+01:00"}, "given_at", "This time lies in the future."),
        ({"given_at": "2026-11-20T18:02:11"}, "given_at", "This time has no offset"),
        ({"given_at": "yesterday"}, "given_at", "Send a time in ISO 8601 with its offset"),
        ({"txt": AGREED}, "txt", "Unknown field."),
    ],
)
def test_a_consent_that_proves_nothing_is_refused_and_nothing_is_stored(
    client, token, touchpoint, consent, field, message
):
    answer = post(client, token, event(legal_basis="consent", consent=consent))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    assert error["message"].startswith(f"consent: {field}: {message}")
    assert error["fields"]["consent"][field][0].startswith(message)
    assert (Contact.objects.count(), Event.objects.count(), ConsentRecord.objects.count()) == (0, 0, 0)


@pytest.mark.parametrize("body", [event(consent={"text": AGREED}), event(legal_basis="", consent={})])
def test_a_consent_without_the_legal_basis_it_proves_is_refused(client, token, touchpoint, body):
    answer = post(client, token, body)
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"] == {
        "consent": ["Send the legal_basis that this consent proves beside it."]
    }
    assert not Contact.objects.exists()


def test_a_consent_that_is_not_an_object_is_refused(client, token, touchpoint):
    answer = post(client, token, event(legal_basis="consent", consent=AGREED))
    assert answer.status_code == 400
    assert "consent" in answer.json()["error"]["fields"]


def test_a_bulk_request_records_its_legal_bases_in_one_insert(client, token, touchpoint):
    events = [event(f"c{n}@example.com", legal_basis="customer") for n in range(20)]
    events[3] = event("c3@example.com", legal_basis="consent", consent={"text": AGREED})
    events[4] = event("c4@example.com", legal_basis="consent", consent={"given_at": "2099-01-01T00:00:00Z"})
    with CaptureQueriesContext(connection) as queries:
        answer = post(client, token, {"events": events}, path=BULK)
    assert answer.status_code == 200
    assert [result["status"] for result in answer.json()["results"]].count(400) == 1
    assert answer.json()["results"][4]["error"]["fields"]["consent"]["given_at"]
    inserts = [query for query in queries if query["sql"].startswith('INSERT INTO "surveys_consentrecord"')]
    assert len(inserts) == 1
    assert ConsentRecord.objects.count() == 19
    assert history(Contact.objects.get(email="c3@example.com")) == [("consent", AGREED, "events_api")]


def test_events_that_leave_the_legal_basis_as_it_is_cost_no_query_more(client, token, touchpoint):
    def queries_for(events) -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            assert post(client, token, {"events": events}, path=BULK).status_code == 200
        return [query["sql"] for query in queries]

    emails = [f"c{n}@example.com" for n in range(30)]
    queries_for([event(email, legal_basis="customer") for email in emails])  # creates them
    repeated = queries_for([event(email, legal_basis="customer") for email in emails])
    without = queries_for([event(email) for email in emails])
    assert len(repeated) == len(without)
    assert not [sql for sql in repeated if "surveys_consentrecord" in sql]
    assert ConsentRecord.objects.count() == 30


def test_ingesting_one_new_contact_twice_in_a_batch_records_it_once():
    touchpoint = make_touchpoint(send_window=None)
    events = [
        EventIn(touchpoint=touchpoint, occurred_at=NOW, email="anna@example.com", legal_basis="customer"),
        EventIn(touchpoint=touchpoint, occurred_at=NOW, email="ANNA@example.com", legal_basis="customer"),
        EventIn(
            touchpoint=touchpoint,
            occurred_at=NOW,
            email="anna@example.com",
            legal_basis="consent",
            consent=Consent(text=AGREED),
        ),
    ]
    ingest_events(events, now=NOW, recorded_by=None)
    assert history() == [("customer", "", "events_api"), ("consent", AGREED, "events_api")]
    ingest_events(events[2:], now=NOW)  # the last one again, at the same moment: nothing new
    assert ConsentRecord.objects.count() == 2


# The contacts API.


@pytest.fixture
def writer(cx_manager):
    return make_api_token(user=cx_manager, write=True)


def call(client, token, method, url, body):
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}
    return getattr(client, method)(url, json.dumps(body), content_type="application/json", headers=headers)


def test_the_contacts_api_records_a_legal_basis_with_its_consent(client, writer, cx_manager):
    given_at = "2026-11-20T18:02:11+01:00"
    created = call(
        client,
        writer,
        "post",
        CONTACTS,
        {
            "email": "eva@example.com",
            "language": "en",
            "legal_basis": "consent",
            "consent": {"text": AGREED, "given_at": given_at},
        },
    )
    assert created.status_code == 201, created.content
    assert "consent" not in created.json()
    record = ConsentRecord.objects.get()
    assert (record.legal_basis, record.text, record.language, record.source, record.recorded_by) == (
        "consent",
        AGREED,
        "en",
        "contacts_api",
        cx_manager,
    )
    assert record.given_at == datetime.fromisoformat(given_at)

    contact = f"{CONTACTS}{created.json()['id']}/"
    assert (
        call(client, writer, "patch", contact, {"legal_basis": "consent", "name": "Eva"}).status_code == 200
    )
    assert call(client, writer, "patch", contact, {"name": "Eva K."}).status_code == 200
    assert ConsentRecord.objects.count() == 1
    assert call(client, writer, "patch", contact, {"legal_basis": "customer"}).status_code == 200
    assert history() == [("consent", AGREED, "contacts_api"), ("customer", "", "contacts_api")]


def test_a_contact_made_without_a_legal_basis_has_no_history(client, writer):
    assert call(client, writer, "post", CONTACTS, {"email": "eva@example.com"}).status_code == 201
    assert not ConsentRecord.objects.exists()


def test_the_contacts_api_refuses_a_consent_that_proves_nothing(client, writer):
    contact = make_contact(legal_basis="customer")
    url = f"{CONTACTS}{contact.pk}/"
    answer = call(client, writer, "patch", url, {"consent": {"text": AGREED}})
    assert answer.status_code == 400
    assert (
        answer.json()["error"]["message"]
        == "consent: Send the legal_basis that this consent proves beside it."
    )
    answer = call(
        client, writer, "patch", url, {"legal_basis": "consent", "consent": {"given_at": "2099-01-01T00:00Z"}}
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["consent"]["given_at"] == [
        "This time lies in the future. Send the time at which it happened."
    ]
    contact.refresh_from_db()
    assert contact.legal_basis == "customer"
    assert not ConsentRecord.objects.exists()


# Contact uploads.


def upload(text: str, touchpoint, **options):
    parsed = parse_contacts(text.encode(), touchpoint=touchpoint, now=NOW)
    return parsed, import_contacts(parsed, now=NOW, **options)


def test_an_upload_records_each_rows_legal_basis_with_its_consent(cx_manager):
    touchpoint = make_touchpoint(send_window=None)
    parsed, _ = upload(
        "email;legal_basis;consent_text;consent_given_at\n"
        f"anna@example.com;consent;{AGREED};2026-11-01T09:30:00+01:00\n"
        "ben@example.com;customer;;\n"
        "carl@example.com;;;\n",
        touchpoint,
        recorded_by=cx_manager.pk,
    )
    assert parsed.errors == []
    records = ConsentRecord.objects.select_related("contact").order_by("contact__email")
    assert [(r.contact.email, r.legal_basis, r.text, r.source, r.recorded_by_id) for r in records] == [
        ("anna@example.com", "consent", AGREED, "upload", cx_manager.pk),
        ("ben@example.com", "customer", "", "upload", cx_manager.pk),
    ]
    assert records[0].given_at == datetime(2026, 11, 1, 9, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    upload("email;legal_basis;consent_text\nanna@example.com;consent;" + AGREED + "\n", touchpoint)
    assert ConsentRecord.objects.count() == 2


def test_a_preview_of_an_upload_records_nothing():
    touchpoint = make_touchpoint(send_window=None)
    upload("email;legal_basis\nanna@example.com;consent\n", touchpoint, dry_run=True)
    assert not ConsentRecord.objects.exists()


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("anna@example.com;;Ich stimme zu;", "A consent needs the legal_basis it proves in the same row."),
        ("anna@example.com;consent;" + "x" * 2001 + ";", "consent_text is longer than 2000 characters."),
        ("anna@example.com;consent;;2099-01-01T10:00+01:00", "consent_given_at lies in the future."),
        ("anna@example.com;consent;;gestern", "consent_given_at must be a time with its offset"),
        (
            "anna@example.com;consent;;2026-02-30T10:00+01:00",
            "consent_given_at must be a time with its offset",
        ),
    ],
)
def test_an_upload_row_with_a_consent_that_proves_nothing_is_reported_with_its_line(row, message):
    touchpoint = make_touchpoint(send_window=None)
    parsed = parse_contacts(
        f"email;legal_basis;consent_text;consent_given_at\nben@example.com;customer;;\n{row}\n".encode(),
        touchpoint=touchpoint,
        now=NOW,
    )
    assert [line for line, _ in parsed.errors] == [3]
    assert parsed.errors[0][1].startswith(message)
    assert [event.email for event in parsed.events] == ["ben@example.com"]


def test_the_upload_page_records_who_uploaded(client, cx_manager):
    touchpoint = make_touchpoint(send_window=None)
    client.force_login(cx_manager)
    url = reverse("admin:surveys_touchpoint_upload", args=[touchpoint.pk])
    file = SimpleUploadedFile(
        "c.csv", f"email;legal_basis;consent_text\nanna@example.com;consent;{AGREED}\n".encode()
    )
    preview = client.post(url, {"file": file}, headers={"Accept-Language": "en"})
    assert preview.status_code == 200
    assert not ConsentRecord.objects.exists()
    client.post(url, {"upload": preview.context["token"]})
    record = ConsentRecord.objects.get()
    assert (record.source, record.recorded_by, record.text) == ("upload", cx_manager, AGREED)


# The back office.


def contact_form(contact: Contact, **changes) -> dict:
    fields = {
        "email": contact.email,
        "external_id": contact.external_id,
        "name": contact.name,
        "language": contact.language,
        "properties": json.dumps(contact.properties),
        "legal_basis": contact.legal_basis,
        "consent_text": "",
        "consent_given_at_0": "",
        "consent_given_at_1": "",
        "consent_records-TOTAL_FORMS": 0,
        "consent_records-INITIAL_FORMS": 0,
    }
    return fields | changes


def change_page(contact: Contact) -> str:
    return reverse("admin:surveys_contact_change", args=[contact.pk])


def test_the_back_office_records_a_changed_legal_basis_with_who_changed_it(client, cx_manager):
    contact = make_contact(language="de", legal_basis="customer")
    client.force_login(cx_manager)
    form = contact_form(
        contact,
        legal_basis="consent",
        consent_text=AGREED,
        consent_given_at_0="2026-11-20",
        consent_given_at_1="18:02:11",
    )
    assert client.post(change_page(contact), form).status_code == 302
    record = ConsentRecord.objects.get()
    assert (record.legal_basis, record.text, record.language, record.source, record.recorded_by) == (
        "consent",
        AGREED,
        "de",
        "back_office",
        cx_manager,
    )
    assert timezone.localtime(record.given_at).strftime("%Y-%m-%d %H:%M:%S") == "2026-11-20 18:02:11"
    contact.refresh_from_db()
    assert client.post(change_page(contact), contact_form(contact, name="Anna")).status_code == 302
    assert client.post(change_page(contact), contact_form(contact, consent_text="  \n ")).status_code == 302
    assert ConsentRecord.objects.count() == 1  # nothing about the legal basis changed


def test_a_contact_made_in_the_back_office_with_a_legal_basis_starts_its_history(client, cx_manager):
    client.force_login(cx_manager)
    form = contact_form(Contact(email="new@example.com"), legal_basis="customer")
    assert client.post(reverse("admin:surveys_contact_add"), form).status_code == 302
    assert history() == [("customer", "", "back_office")]
    form = contact_form(Contact(email="other@example.com"))
    assert client.post(reverse("admin:surveys_contact_add"), form).status_code == 302
    assert ConsentRecord.objects.count() == 1


def test_the_back_office_refuses_a_consent_given_in_the_future(client, cx_manager):
    contact = make_contact()
    client.force_login(cx_manager)
    tomorrow = timezone.localtime() + timedelta(days=1)
    form = contact_form(
        contact,
        legal_basis="consent",
        consent_given_at_0=tomorrow.strftime("%Y-%m-%d"),
        consent_given_at_1=tomorrow.strftime("%H:%M:%S"),
    )
    answer = client.post(change_page(contact), form, headers={"Accept-Language": "en"})
    assert answer.status_code == 200
    assert "A consent cannot have been given in the future." in answer.content.decode()
    contact.refresh_from_db()
    assert contact.legal_basis == "none"
    assert not ConsentRecord.objects.exists()


def test_the_contacts_page_shows_its_history_read_only(client, cx_manager):
    contact = make_contact()
    record(state(contact, "consent", None, Consent(text="<b>Ja</b>, gern")))
    client.force_login(cx_manager)
    html = client.get(change_page(contact), headers={"Accept-Language": "en"}).content.decode()
    assert "Consent history" in html
    assert "&lt;b&gt;Ja&lt;/b&gt;, gern" in html
    # No field to change or delete a record.
    assert not re.search(r'name="consent_records-\d+-(legal_basis|text|given_at|source|DELETE)"', html)
    assert "consent_records-empty" not in html  # and none to add one


def test_who_may_only_view_a_contact_sees_its_history_but_no_fields_to_prove_a_consent(client, cx_manager):
    contact = make_contact()
    record(state(contact, "consent", None, Consent(text=AGREED)))
    take_away(cx_manager, "change_contact")
    client.force_login(cx_manager)
    html = client.get(change_page(contact), headers={"Accept-Language": "en"}).content.decode()
    assert AGREED in html
    assert 'name="consent_text"' not in html
