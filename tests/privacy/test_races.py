"""An answer arriving while its person is erased: it is erased too, or refused; never left behind."""

import threading

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from privacy import places
from privacy.erasure import erase_contact
from surveys.models import Contact, Invitation, Response, tally_drift
from surveys.models.invitation import ContactErased
from tests.factories import make_contact, make_invitation
from tests.privacy.conftest import NAME, TRACES
from tests.privacy.traces import in_database
from tests.threads import at_once
from webhooks.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises all writers; the race needs PostgreSQL")


def in_a_thread(work) -> None:
    """``work()`` on a connection of its own, as another request would, to its end."""

    def run() -> None:
        try:
            work()
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()


def test_an_answer_that_commits_after_the_batches_is_swept_up_with_its_webhook_message(world, monkeypatch):
    """A request that read her invitation before the erasure began stores its answer after every
    batch is done: the last pass, under the contact's lock, finds it."""
    invitation = make_invitation(survey=world.survey, touchpoint=world.touchpoint, contact=world.anna)
    invitation = Invitation.objects.select_related("survey", "contact").get(pk=invitation.pk)
    stored: list[Response] = []
    erase_contact_row = places.ContactRow.erase

    def answer_meanwhile(self, run) -> None:
        if not run.final:
            in_a_thread(
                lambda: stored.append(
                    invitation.record_answer(
                        score=1, comment=f"Noch einmal: {NAME}", language="de", now=timezone.now()
                    )
                )
            )
        erase_contact_row(self, run)

    monkeypatch.setattr(places.ContactRow, "erase", answer_meanwhile)

    erase_contact(contact_id=world.anna.pk)

    late = Response.objects.get(pk=stored[0].pk)
    assert (late.contact_id, late.comment, late.score) == (None, "", 1)
    assert not Message.objects.filter(payload__data__id=str(late.public_id)).exists()
    assert in_database(TRACES) == []
    assert tally_drift() == []


def erase_or_answer(contact: Contact, invitation: Invitation):
    """The two requests of a race: erasing the contact, and answering its open invitation."""

    def act(what: str):
        if what == "erase":
            return erase_contact(contact_id=contact.pk)
        return Client().post(f"/s/{invitation.token}/", {"score": "9", "comment": f"Ich, {NAME}"}).status_code

    return act


def test_an_answer_at_the_same_moment_as_the_erasure_is_erased_or_refused():
    for round_number in range(4):
        contact = make_contact(email=f"race{round_number}@example.com", name=NAME)
        invitation = make_invitation(contact=contact)
        invitation.record_answer(score=5, comment=f"{NAME} war hier", language="de", now=timezone.now())
        second = make_invitation(survey=invitation.survey, touchpoint=invitation.touchpoint, contact=contact)

        _erased, status = at_once(erase_or_answer(contact, second), ["erase", "answer"])

        assert status in (302, 410)  # stored (then erased) or refused as closed, never a server error
        assert not Contact.objects.filter(pk=contact.pk).exists()
        assert not Response.objects.filter(comment__contains=NAME).exists()
        assert Response.objects.filter(survey=invitation.survey).count() == (2 if status == 302 else 1)
    assert in_database([NAME]) == []
    assert tally_drift() == []


def test_a_change_to_an_answer_already_anonymised_is_refused(world, monkeypatch):
    """A request that read her answered invitation before the erasure began changes the answer
    after the batches: the change would bring a comment back to an answer of nobody, so it is
    refused, and the page says the survey has ended."""
    invitation = Invitation.objects.select_related("survey", "contact").get(pk=world.answers[2].invitation_id)
    refused: list[Exception] = []
    erase_contact_row = places.ContactRow.erase

    def change_meanwhile(self, run) -> None:
        if not run.final:

            def change() -> None:
                try:
                    invitation.record_answer(
                        score=1, comment=f"Doch: {NAME}", language="de", now=timezone.now()
                    )
                except ContactErased as error:
                    refused.append(error)

            in_a_thread(change)
        erase_contact_row(self, run)

    monkeypatch.setattr(places.ContactRow, "erase", change_meanwhile)

    erase_contact(contact_id=world.anna.pk)

    assert len(refused) == 1
    assert Response.objects.get(pk=world.answers[2].pk).comment == ""
    assert in_database(TRACES) == []
