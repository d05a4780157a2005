"""The demo company's loop (followup.demo, run by seed_demo): the story a CX manager is shown."""

import io

import pytest
from django.core.management import call_command
from django.db.models import F

from followup.models import AlertRule, Case, CaseEntry, Recheck
from surveys.models import Contact, LegalBasis, Response

pytestmark = pytest.mark.django_db


def test_the_demo_tells_the_loops_story(settings):
    """One seeding for all of it: the demo takes seconds to build."""
    settings.DEBUG = True  # the demo seeds only there
    call_command("seed_demo", contacts=800, responses=8000, stdout=io.StringIO())
    active_rules_and_cases_in_every_state()
    replies_are_threaded_and_notes_written()
    customers_whose_case_was_solved_answer_again_later_and_mostly_better()
    the_delivery_touchpoint_asked_whether_issues_were_solved()


def active_rules_and_cases_in_every_state():
    assert AlertRule.objects.filter(active=True).count() == 3
    assert set(Case.objects.values_list("status", flat=True)) == set(Case.Status.values)
    assert Case.objects.filter(resolution="").filter(status="resolved").count() == 0
    # Some missed their SLA, most did not.
    late = Case.objects.filter(first_response_at__gt=F("due_at")).count()
    on_time = Case.objects.filter(first_response_at__lte=F("due_at")).count()
    assert 0 < late < on_time


def replies_are_threaded_and_notes_written():
    # The shop's customers may be answered.
    assert not Contact.objects.exclude(legal_basis=LegalBasis.CUSTOMER).exists()
    kinds = set(CaseEntry.objects.values_list("kind", flat=True))
    assert {"opened", "note", "status", "reply_sent", "reply_received", "rechecked"} <= kinds
    sent = set(CaseEntry.objects.filter(kind="reply_sent").values_list("message_id", flat=True))
    answers = CaseEntry.objects.filter(kind="reply_received")
    assert answers.exists() and all(entry.in_reply_to in sent for entry in answers)


def customers_whose_case_was_solved_answer_again_later_and_mostly_better():
    later = []
    for case in Case.objects.filter(resolution__in=["solved", "compensated"]).select_related("response"):
        later += Response.objects.filter(
            contact_id=case.response.contact_id,
            touchpoint_id=case.touchpoint_id,
            created_at__gt=case.resolved_at,
        )
    won_back = [
        answer for answer in later if answer.category in ("passive", "promoter", "neutral", "satisfied")
    ]
    assert len(later) >= 5
    assert len(won_back) / len(later) > 0.5


def the_delivery_touchpoint_asked_whether_issues_were_solved():
    answered = Recheck.objects.filter(answered_at__isnull=False)
    assert answered.filter(solved=True).count() > answered.filter(solved=False).count() > 0
    assert set(Recheck.objects.values_list("case__touchpoint__slug", flat=True)) == {"order-delivered"}
