"""The suppression list: keyed hashes of erased contacts' addresses, asked once per batch."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from surveys.email.dispatch import send_due_reminders
from surveys.models import Contact, Invitation, Suppression
from tests.factories import make_contact, make_invitation

pytestmark = pytest.mark.django_db


def test_the_list_holds_keyed_hashes_of_the_address_in_any_case_and_of_the_external_id():
    Suppression.objects.add(Contact(email="Eva.Muster@Example.com", external_id="K-1"), reason="complained")

    digests = list(Suppression.objects.values_list("kind", "reason", "digest"))
    assert sorted(kind for kind, _reason, _digest in digests) == ["email", "external_id"]
    assert all(len(digest) == 64 and "eva" not in digest for _kind, _reason, digest in digests)
    newcomers = [
        make_contact(email=" eva.muster@example.COM"),
        make_contact(email="other@example.com", external_id="K-1"),
        make_contact(email="someone@example.com"),
    ]
    assert Suppression.objects.reasons_for(newcomers) == {
        newcomers[0].pk: "complained",
        newcomers[1].pk: "complained",
    }


def test_adding_twice_keeps_the_first_reason():
    contact = Contact(email="eva@example.com")
    Suppression.objects.add(contact, reason="bounced")
    Suppression.objects.add(contact, reason="unsubscribed")
    assert list(Suppression.objects.values_list("reason", flat=True)) == ["bounced"]


def test_the_list_outlives_a_rotation_of_the_secret_key(settings):
    Suppression.objects.add(Contact(email="eva@example.com"), reason="unsubscribed")
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    newcomer = make_contact(email="eva@example.com")
    assert Suppression.objects.reasons_for([newcomer]) == {newcomer.pk: "unsubscribed"}
    settings.SECRET_KEY_FALLBACKS = []
    assert Suppression.objects.reasons_for([newcomer]) == {}


def test_many_contacts_are_looked_up_in_one_query():
    contacts = [make_contact() for _ in range(50)]
    with CaptureQueriesContext(connection) as queries:
        assert Suppression.objects.reasons_for(contacts) == {}
    assert len(queries) == 1


def test_no_reminder_goes_to_an_address_on_the_list_nor_to_an_erased_contact(mailoutbox):
    now = timezone.now()
    listed, erased, kept = make_contact(email="eva@example.com"), make_contact(), make_contact()
    Suppression.objects.add(listed, reason="bounced")
    invitations = [
        make_invitation(
            contact=contact, reminder_due_at=now - timedelta(minutes=1), now=now - timedelta(days=3)
        )
        for contact in (listed, erased, kept)
    ]
    Invitation.objects.filter(contact=erased).update(contact=None)

    report = send_due_reminders(now=now, limit=10)

    assert report["reminded"] == 1 and report["reminder suppressed"] == 1
    assert [message.to for message in mailoutbox] == [[kept.email]]
    assert Invitation.objects.get(pk=invitations[1].pk).reminder_sent_at is None
