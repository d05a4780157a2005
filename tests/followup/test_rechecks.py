"""Asking again after a case ("Was your issue solved?"): scheduled when a case is resolved at a
touchpoint that asks, sent by the sender over real SMTP, answered on its own page."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from followup import cases, rechecks
from followup.models import Case, CaseEntry, Recheck
from surveys.models import Suppression
from tests.factories import make_contact, make_response, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.get_fixed_timezone(60))


def resolved_case(*, days: int | None = 7, contact=None, score: int = 3, status=Case.Status.RESOLVED) -> Case:
    survey = make_survey(brand="Nordwind")
    touchpoint = make_touchpoint(survey=survey, recheck_after_days=days)
    contact = contact or make_contact(email="kunde@example.com", name="Erika Muster", language="de")
    response = make_response(
        survey=survey, touchpoint=touchpoint, contact=contact, score=score, language="de"
    )
    case, _ = cases.open_case(response=response, now=NOW - timedelta(days=1))
    cases.change_case(
        case, by=None, now=NOW, status=status, resolution="solved" if status == "resolved" else None
    )
    return case


def sent_question(smtp) -> Recheck:
    case = resolved_case()
    assert rechecks.send_due_rechecks(now=NOW + timedelta(days=7)) == {"sent": 1}
    return Recheck.objects.get(case=case)


def test_resolving_a_case_schedules_the_question_after_the_touchpoints_days():
    case = resolved_case(days=7)
    recheck = Recheck.objects.get(case=case)
    assert (recheck.status, recheck.due_at, recheck.language) == ("scheduled", NOW + timedelta(days=7), "de")


@pytest.mark.parametrize(
    "setup",
    [
        {"days": None},  # the touchpoint does not ask again
        {"status": Case.Status.NO_ACTION},  # nothing was fixed
    ],
)
def test_nothing_is_asked_without_a_reason(setup):
    resolved_case(**setup)
    assert not Recheck.objects.exists()


def test_an_answer_without_a_contact_is_not_asked_again():
    survey = make_survey()
    touchpoint = make_touchpoint(survey=survey, recheck_after_days=3)
    case, _ = cases.open_case(response=make_response(survey=survey, touchpoint=touchpoint, score=2), now=NOW)
    cases.change_case(case, by=None, now=NOW, status=Case.Status.RESOLVED, resolution="solved")
    assert not Recheck.objects.exists()


def test_reopening_takes_the_unsent_question_back_and_resolving_again_asks_later():
    case = resolved_case(days=7)
    cases.change_case(case, by=None, now=NOW + timedelta(days=1), status=Case.Status.IN_PROGRESS)
    assert not Recheck.objects.exists()

    cases.change_case(
        case, by=None, now=NOW + timedelta(days=2), status=Case.Status.RESOLVED, resolution="solved"
    )
    assert Recheck.objects.get(case=case).due_at == NOW + timedelta(days=9)


def test_the_sender_asks_in_the_customers_language_when_due(smtp):
    case = resolved_case(days=7)
    assert rechecks.send_due_rechecks(now=NOW + timedelta(days=6)) == {}

    assert rechecks.send_due_rechecks(now=NOW + timedelta(days=7)) == {"sent": 1}

    [mail] = smtp.messages
    recheck = Recheck.objects.get(case=case)
    assert mail["To"] == "Erika Muster <kunde@example.com>"
    with translation.override("de"):
        assert mail["Subject"] == translation.gettext("Was your issue solved? – %(brand)s") % {
            "brand": "Nordwind"
        }
    text = mail.get_body(("plain",)).get_content()
    page = reverse("followup:recheck", args=[recheck.token])
    assert f"{page}?solved=yes" in text and f"{page}?solved=no" in text
    assert mail["List-Unsubscribe"].startswith("<http")
    assert mail["Message-ID"]
    assert (recheck.status, recheck.sent_at, recheck.attempts) == ("sent", NOW + timedelta(days=7), 1)
    assert rechecks.send_due_rechecks(now=NOW + timedelta(days=8)) == {}  # once


@pytest.mark.parametrize(
    ("mark", "reason"),
    [("unsubscribed_at", "unsubscribed"), ("bounced_at", "bounced"), ("complained_at", "complained")],
)
def test_a_customer_who_objected_meanwhile_is_not_asked(smtp, mark, reason):
    case = resolved_case()
    contact = case.response.contact
    setattr(contact, mark, NOW)
    contact.save()

    assert rechecks.send_due_rechecks(now=NOW + timedelta(days=7)) == {"skipped": 1}

    assert smtp.messages == []
    assert Recheck.objects.values_list("status", "skip_reason").get() == ("skipped", reason)


def test_an_address_on_the_suppression_list_is_not_asked(smtp):
    contact = make_contact(email="gone@example.com")
    Suppression.objects.add(contact, reason="unsubscribed")
    resolved_case(contact=contact)

    assert rechecks.send_due_rechecks(now=NOW + timedelta(days=7)) == {"skipped": 1}
    assert smtp.messages == []


def test_a_mail_server_that_defers_gets_the_question_again_later(smtp):
    smtp.replies["kunde@example.com"] = "451 4.3.0 Try again later"
    case = resolved_case()

    assert rechecks.send_due_rechecks(now=NOW + timedelta(days=7)) == {"retry": 1}

    recheck = Recheck.objects.get(case=case)
    assert (recheck.status, recheck.due_at) == ("scheduled", NOW + timedelta(days=7) + rechecks.RETRY_AFTER)
    assert "451" in recheck.last_error


def test_the_page_shows_the_emails_choice_and_records_nothing(client, smtp):
    recheck = sent_question(smtp)
    page = client.get(reverse("followup:recheck", args=[recheck.token]) + "?solved=no")

    assert page.status_code == 200
    assert b'value="no" checked' in page.content
    assert b'<html lang="de">' in page.content
    recheck.refresh_from_db()
    assert recheck.answered_at is None


def test_a_yes_is_recorded_on_the_case(client, smtp):
    recheck = sent_question(smtp)
    url = reverse("followup:recheck", args=[recheck.token])

    answer = client.post(url, {"solved": "yes", "comment": "Alles gut, danke!"})

    assert answer.status_code == 302 and answer["Location"] == f"{url}?answered=1"
    recheck.refresh_from_db()
    assert (recheck.solved, recheck.comment) == (True, "Alles gut, danke!")
    entry = recheck.case.entries.get(kind=CaseEntry.Kind.RECHECKED)
    assert (entry.details, entry.text) == ({"solved": True}, "Alles gut, danke!")
    assert Case.objects.get(pk=recheck.case_id).status == Case.Status.RESOLVED
    assert client.get(answer["Location"]).status_code == 200


def test_a_no_opens_the_case_again(client, smtp):
    recheck = sent_question(smtp)

    client.post(reverse("followup:recheck", args=[recheck.token]), {"solved": "no"})

    case = Case.objects.get(pk=recheck.case_id)
    assert (case.status, case.resolved_at) == (Case.Status.IN_PROGRESS, None)
    assert case.entries.filter(kind=CaseEntry.Kind.STATUS).last().details["to"] == "in_progress"


@pytest.mark.parametrize("body", [{}, {"solved": "maybe"}, {"solved": "yes", "comment": "x" * 5001}])
def test_a_bad_answer_is_refused_with_a_message_and_nothing_stored(client, smtp, body):
    recheck = sent_question(smtp)

    answer = client.post(reverse("followup:recheck", args=[recheck.token]), body)

    assert answer.status_code == 400
    assert b'role="alert"' in answer.content
    recheck.refresh_from_db()
    assert recheck.answered_at is None


@pytest.mark.parametrize("token", ["unknown", "x" * 65, "a/b"])
def test_unknown_and_unsent_questions_are_not_found(client, token):
    unsent = Recheck.objects.get(case=resolved_case())
    for asked in (token, unsent.token):
        assert client.get(f"/r/{asked}/").status_code == 404
