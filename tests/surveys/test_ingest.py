from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from surveys.ingest import EventIn, in_sample, ingest_events
from surveys.models import Contact, Event, Invitation
from tests.factories import make_contact, make_invitation, make_survey, make_touchpoint
from tests.threads import at_once

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Messages are checked in English; the installation's default is German."""
    with translation.override("en"):
        yield


BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)


def ingest_one(touchpoint, *, now=MONDAY_10, **fields):
    fields.setdefault("email", "anna@example.com")
    fields.setdefault("occurred_at", now)
    [outcome] = ingest_events([EventIn(touchpoint=touchpoint, **fields)], now=now)
    return outcome


def test_an_event_is_stored_and_its_invitation_scheduled_after_the_delay():
    touchpoint = make_touchpoint(delay_seconds=2 * 86400)
    outcome = ingest_one(touchpoint, properties={"order_id": "10042"})
    invitation = Invitation.objects.get()
    assert invitation == outcome.invitation
    assert (invitation.status, invitation.skip_reason) == ("scheduled", "")
    assert invitation.scheduled_for == datetime(2026, 11, 25, 10, 0, tzinfo=BERLIN)
    assert invitation.expires_at == invitation.scheduled_for + timedelta(days=30)
    assert invitation.reminder_due_at is None
    assert invitation.event == Event.objects.get()
    assert invitation.properties == invitation.event.properties == {"order_id": "10042"}
    assert invitation.survey == touchpoint.survey


def test_an_invitation_due_after_friday_hours_waits_for_monday_morning():
    touchpoint = make_touchpoint(delay_seconds=3600)
    friday_evening = datetime(2026, 11, 27, 17, 30, tzinfo=BERLIN)
    ingest_one(touchpoint, now=friday_evening)
    assert Invitation.objects.get().scheduled_for == datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)


def test_an_old_event_is_asked_about_now_not_in_the_past():
    touchpoint = make_touchpoint(delay_seconds=3600, send_window=None)
    ingest_one(touchpoint, occurred_at=MONDAY_10 - timedelta(days=3))
    assert Invitation.objects.get().scheduled_for == MONDAY_10


def test_the_touchpoint_sets_expiry_and_reminder():
    touchpoint = make_touchpoint(send_window=None, expires_after_days=7, reminder_after_days=3)
    invitation = ingest_one(touchpoint).invitation
    assert invitation.expires_at == MONDAY_10 + timedelta(days=7)
    assert invitation.reminder_due_at == MONDAY_10 + timedelta(days=3)


@pytest.mark.parametrize("suppression", ["unsubscribed", "bounced", "complained"])
def test_a_suppressed_contact_is_skipped_with_the_reason(suppression):
    make_contact(email="anna@example.com", **{f"{suppression}_at": MONDAY_10 - timedelta(days=400)})
    outcome = ingest_one(make_touchpoint())
    assert (outcome.invitation.status, outcome.invitation.skip_reason) == ("skipped", suppression)
    assert outcome.invitation.scheduled_for is None
    assert Event.objects.count() == 1


def test_suppression_is_found_whatever_the_case_of_the_address():
    make_contact(email="Anna@Example.com", unsubscribed_at=MONDAY_10)
    outcome = ingest_one(make_touchpoint(), email="ANNA@example.COM")
    assert outcome.invitation.skip_reason == "unsubscribed"
    assert Contact.objects.count() == 1


def test_a_contact_known_only_by_external_id_cannot_be_emailed():
    outcome = ingest_one(make_touchpoint(), email="", external_id="C-1")
    assert outcome.invitation.skip_reason == "no_email"
    assert Contact.objects.get().external_id == "C-1"


def test_a_paused_touchpoint_or_survey_asks_nobody():
    assert ingest_one(make_touchpoint(active=False)).invitation.skip_reason == "paused"
    touchpoint = make_touchpoint(survey=make_survey(active=False))
    assert ingest_one(touchpoint, email="ben@example.com").invitation.skip_reason == "paused"


def test_a_touchpoint_requiring_a_legal_basis_skips_contacts_without_one():
    touchpoint = make_touchpoint(require_consent=True)
    assert ingest_one(touchpoint).invitation.skip_reason == "no_legal_basis"
    customer = ingest_one(touchpoint, email="ben@example.com", legal_basis="customer")
    assert customer.invitation.status == "scheduled"
    assert Contact.objects.get(email="ben@example.com").legal_basis == "customer"


def test_a_contact_invited_by_any_survey_within_the_period_is_not_asked_again():
    contact = make_contact(email="anna@example.com")
    make_invitation(contact=contact, now=MONDAY_10 - timedelta(days=29))
    touchpoint = make_touchpoint(recontact_days=30)
    assert ingest_one(touchpoint).invitation.skip_reason == "recently_invited"
    shorter = make_touchpoint(recontact_days=28)
    assert ingest_one(shorter).invitation.status == "scheduled"


def test_skipped_invitations_do_not_count_as_contact():
    contact = make_contact(email="anna@example.com")
    yesterday = MONDAY_10 - timedelta(days=1)
    make_invitation(contact=contact, now=yesterday, status="skipped", skip_reason="paused")
    assert ingest_one(make_touchpoint()).invitation.status == "scheduled"


def test_the_installation_minimum_overrides_a_shorter_recontact_period(settings):
    settings.RECONTACT_MINIMUM_DAYS = 7
    make_invitation(contact=make_contact(email="anna@example.com"), now=MONDAY_10 - timedelta(days=5))
    assert ingest_one(make_touchpoint(recontact_days=0)).invitation.skip_reason == "recently_invited"


def test_two_events_for_one_person_in_a_batch_invite_once():
    touchpoint = make_touchpoint()
    events = [
        EventIn(touchpoint=touchpoint, occurred_at=MONDAY_10, email="anna@example.com"),
        EventIn(touchpoint=touchpoint, occurred_at=MONDAY_10, email="ANNA@example.com"),
    ]
    first, second = ingest_events(events, now=MONDAY_10)
    assert first.invitation.status == "scheduled"
    assert second.invitation.skip_reason == "recently_invited"
    assert Contact.objects.count() == 1


def test_sampling_decides_the_same_for_the_same_event_and_keeps_about_the_share():
    touchpoint = make_touchpoint(sample_percent=30)
    events = [
        EventIn(touchpoint=touchpoint, occurred_at=MONDAY_10, email=f"c{number}@example.com")
        for number in range(2000)
    ]
    decisions = [in_sample(event, 30) for event in events]
    assert decisions == [in_sample(event, 30) for event in events]
    assert 0.27 < sum(decisions) / len(decisions) < 0.33
    assert all(in_sample(event, 100) for event in events[:50])
    assert not any(in_sample(event, 0) for event in events[:50])


def test_an_event_outside_the_sample_is_skipped_and_its_retry_too():
    touchpoint = make_touchpoint(sample_percent=50, recontact_days=0)
    event = next(
        EventIn(touchpoint=touchpoint, occurred_at=MONDAY_10, email=f"c{n}@example.com")
        for n in range(100)
        if not in_sample(EventIn(touchpoint=touchpoint, occurred_at=MONDAY_10, email=f"c{n}@example.com"), 50)
    )
    outcomes = ingest_events([event], now=MONDAY_10) + ingest_events([event], now=MONDAY_10)
    assert [outcome.invitation.skip_reason for outcome in outcomes] == ["not_sampled", "not_sampled"]


def test_an_event_older_than_the_answering_period_is_too_late():
    touchpoint = make_touchpoint(expires_after_days=14)
    outcome = ingest_one(touchpoint, occurred_at=MONDAY_10 - timedelta(days=15))
    assert outcome.invitation.skip_reason == "too_late"


def test_events_update_what_the_company_knows_about_the_contact():
    contact = make_contact(
        email="anna@example.com", name="Anna", properties={"plan": "basic", "region": "DE"}
    )
    ingest_one(
        make_touchpoint(),
        external_id="C-7",
        name="Anna Berger",
        language="de",
        contact_properties={"plan": "pro"},
    )
    contact.refresh_from_db()
    assert (contact.name, contact.language, contact.external_id) == ("Anna Berger", "de", "C-7")
    assert contact.properties == {"plan": "pro", "region": "DE"}
    assert contact.updated_at == MONDAY_10


def test_an_email_and_external_id_of_two_contacts_are_refused_and_nothing_is_stored():
    make_contact(email="anna@example.com")
    make_contact(email="ben@example.com", external_id="C-2")
    outcome = ingest_one(make_touchpoint(), external_id="C-2")
    assert outcome.error == "The email and the external id belong to two contacts."
    assert (Event.objects.count(), Invitation.objects.count()) == (0, 0)


def test_a_batch_takes_the_same_few_queries_whatever_its_size():
    touchpoint = make_touchpoint()
    events = [
        EventIn(touchpoint=touchpoint, occurred_at=MONDAY_10, email=f"c{number}@example.com", name="C")
        for number in range(300)
    ]
    make_contact(email="c1@example.com")
    with CaptureQueriesContext(connection) as queries:
        ingest_events(events, now=MONDAY_10)
    reads = [query for query in queries if query["sql"].startswith("SELECT")]
    # contacts (locked), contacts after creating (locked), last invitations, the suppression list
    assert len(reads) == 4
    if connection.vendor == "postgresql":  # SQLite splits inserts by its variable limit
        assert len(queries) <= 10
    assert Invitation.objects.filter(status="scheduled").count() == 300


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_events_for_one_new_person_invite_once():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises all writers; the race needs PostgreSQL")
    touchpoint = make_touchpoint()
    at_once(lambda _: ingest_one(touchpoint), range(2))  # raises what a thread raised
    assert Contact.objects.count() == 1
    statuses = sorted(Invitation.objects.values_list("status", "skip_reason"))
    assert statuses == [("scheduled", ""), ("skipped", "recently_invited")]
