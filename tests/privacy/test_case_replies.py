"""Replies on follow-up cases are the customer's personal data: the access export shows them, the
erasure deletes them (and the case with the staff's notes stays, without them)."""

import pytest
from django.utils import timezone

from followup.cases import add_note, open_case
from followup.models import Case, CaseEntry, Recheck
from privacy.access import personal_data
from privacy.erasure import erase_contact
from privacy.places import Person
from surveys.models import LegalBasis
from tests.factories import make_contact, make_invitation, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation():
    """A case of Anna's answer with a reply to her and her answer; Bob's case with his own."""
    cases = {}
    for name in ("anna", "bob"):
        contact = make_contact(email=f"{name}@example.com", legal_basis=LegalBasis.CUSTOMER)
        invitation = make_invitation(contact=contact)
        response = invitation.record_answer(score=2, comment="Late", language="en", now=timezone.now())
        case, _opened = open_case(response=response, now=timezone.now())
        CaseEntry.objects.create(
            case=case,
            kind="reply_sent",
            text=f"Dear {name}, sorry.",
            message_id=f"<{name}.1@cx.example.com>",
            details={"subject": "Your rating", "to": contact.email, "status": "sent"},
        )
        CaseEntry.objects.create(
            case=case,
            kind="reply_received",
            text=f"Thanks, {name} here.",
            message_id=f"<{name}.2@mail.example.com>",
            details={"subject": "Re: Your rating", "from": contact.email},
        )
        add_note(case, by=make_staff(f"agent-of-{name}"), text="Called back", now=timezone.now())
        cases[name] = (contact, case)
    return cases


def test_the_access_export_shows_what_was_written_to_her_and_what_she_wrote(conversation):
    anna, _case = conversation["anna"]

    rows = personal_data(Person.of(anna))["case_replies"]

    assert [(row["kind"], row["text"], row["address"]) for row in rows] == [
        ("reply_sent", "Dear anna, sorry.", "anna@example.com"),
        ("reply_received", "Thanks, anna here.", "anna@example.com"),
    ]


def test_the_erasure_deletes_her_replies_and_keeps_the_case_and_others(conversation):
    anna, case = conversation["anna"]

    erased = erase_contact(contact_id=anna.pk)

    assert erased.counts["case_replies"] == 2
    assert Case.objects.filter(pk=case.pk).exists()
    assert list(CaseEntry.objects.filter(case=case).values_list("kind", flat=True)) == ["opened", "note"]
    assert not CaseEntry.objects.filter(text__contains="anna").exists()
    assert CaseEntry.objects.filter(text__contains="bob").count() == 2


def test_the_question_after_her_case_keeps_only_its_yes_or_no(conversation):
    anna, case = conversation["anna"]
    answered = Recheck.objects.create(
        case=case,
        due_at=timezone.now(),
        language="en",
        sent_at=timezone.now(),
        answered_at=timezone.now(),
        solved=False,
        comment="Still broken, anna",
    )
    CaseEntry.objects.create(
        case=case, kind="rechecked", text="Still broken, anna", details={"solved": False}
    )
    _bob, bobs_case = conversation["bob"]
    Recheck.objects.create(case=bobs_case, due_at=timezone.now(), language="en")
    assert personal_data(Person.of(anna))["questions_after_cases"][0]["comment"] == "Still broken, anna"

    erased = erase_contact(contact_id=anna.pk)

    assert erased.counts["questions_after_cases"] == 1
    kept = Recheck.objects.get(case=case)
    assert (kept.solved, kept.comment) == (False, "")
    assert kept.token != answered.token  # her link answers nothing any more
    assert CaseEntry.objects.get(case=case, kind="rechecked").text == ""
    assert Recheck.objects.filter(case=bobs_case).exists()


def test_an_unanswered_question_after_her_case_goes(conversation):
    anna, case = conversation["anna"]
    Recheck.objects.create(case=case, due_at=timezone.now(), language="en")

    erase_contact(contact_id=anna.pk)

    assert not Recheck.objects.filter(case=case).exists()
