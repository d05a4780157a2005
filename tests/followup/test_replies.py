"""Replies to the customer from a case: the template in their language, personalised and edited,
queued by the request and sent by the worker, with a Reply-To that comes back to the case and
threading headers; and the customers who may not be written to."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from followup import replies
from followup.models import Case, CaseEntry, ReplyTemplate
from surveys.models import LegalBasis, LegalInformation, Suppression
from tests.factories import make_contact
from tests.followup.conftest import answer, case_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reply_mailbox(settings):
    settings.FOLLOWUP_REPLY_ADDRESS = "replies@cx.example.com"
    settings.DEFAULT_FROM_EMAIL = "CXSurvey <surveys@cx.example.com>"


@pytest.fixture
def templates(loop):
    ReplyTemplate.objects.create(
        name="Entschuldigung",
        language="de",
        subject="Ihre Bewertung bei {{ brand }}",
        body="Guten Tag {{ contact.name }}, Sie gaben uns {{ score }} Punkte.",
    )
    ReplyTemplate.objects.create(
        name="Entschuldigung",
        language="en",
        subject="Your rating of {{ brand }}",
        body="Hello {{ contact.name }}, you gave us {{ score }} points. Order {{ properties.order }}.",
    )
    ReplyTemplate.objects.create(
        name="Other survey's", language="en", subject="x", body="y", survey=loop.other
    )


@pytest.fixture
def case(loop):
    return case_for(answer(loop.survey, 4, "Zu spät"), assignee=loop.agent)


def send(client, case, subject="Your rating of Acme", body="Hello Erika, sorry."):
    return client.post(reverse("followup:reply", args=[case.public_id]), {"subject": subject, "body": body})


def test_a_template_is_offered_in_the_customers_language_personalised_to_edit(client, loop, case, templates):
    client.force_login(loop.agent)

    html = client.get(case.get_absolute_url() + "?template=Entschuldigung").content.decode()

    assert "Other survey&#x27;s" not in html and "Other survey's" not in html
    assert 'value="Your rating of Acme"' in html
    assert "Hello Erika Muster, you gave us 4 points." in html


def test_the_answers_language_serves_when_the_contact_has_none(loop, templates):
    contact = make_contact(name="Hans", language="", legal_basis=LegalBasis.CUSTOMER)
    case = case_for(answer(loop.survey, 2, contact=contact, language="de"))

    subject, body = replies.render_reply(case, "Entschuldigung")

    assert (subject, body) == ("Ihre Bewertung bei Acme", "Guten Tag Hans, Sie gaben uns 2 Punkte.")
    assert replies.render_reply(case, "Unknown") is None


def test_the_request_only_queues_the_reply_and_the_worker_sends_it(client, loop, case, smtp):
    client.force_login(loop.agent)

    response = send(client, case)

    entry = CaseEntry.objects.get(case=case, kind="reply_sent")
    assert response.status_code == 302
    assert smtp.messages == []
    assert entry.details["status"] == "queued"
    assert Case.objects.get(pk=case.pk).first_response_at is None

    report = replies.send_queued_replies(now=timezone.now())

    assert report == {"sent": 1}
    entry.refresh_from_db()
    assert entry.details["status"] == "sent"
    assert Case.objects.get(pk=case.pk).first_response_at is not None
    assert replies.send_queued_replies(now=timezone.now()) == {}


def test_the_customer_receives_the_reply_from_the_survey_with_a_reply_to_that_comes_back(
    client, loop, case, smtp
):
    LegalInformation.objects.update_or_create(
        pk=LegalInformation.ONLY_ID, defaults={"company_name_en": "Acme GmbH", "company_name_de": "Acme GmbH"}
    )
    client.force_login(loop.agent)
    send(client, case, body="Hello Erika,\nwe are sorry.")
    replies.send_queued_replies(now=timezone.now())

    [mail] = smtp.messages
    entry = CaseEntry.objects.get(case=case, kind="reply_sent")
    assert mail["To"] == f"Erika Muster <{case.response.contact.email}>"
    assert mail["From"] == "Acme Service <surveys@cx.example.com>"
    assert mail["Subject"] == "Your rating of Acme"
    assert mail["Reply-To"] == f"replies+{replies.reply_token(case)}@cx.example.com"
    assert mail["Message-ID"] == entry.message_id
    assert mail["In-Reply-To"] is None
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Hello Erika,\nwe are sorry." in text
    assert "Acme GmbH" in text
    assert '<html lang="en">' in mail.get_body(("html",)).get_content()


def test_a_second_reply_is_threaded_under_the_first(client, loop, case, smtp):
    client.force_login(loop.agent)
    send(client, case, body="First")
    replies.send_queued_replies(now=timezone.now())
    send(client, case, subject="Re: Your rating of Acme", body="Second")
    replies.send_queued_replies(now=timezone.now())

    first, second = smtp.messages
    assert second["In-Reply-To"] == first["Message-ID"]
    assert second["References"] == first["Message-ID"]
    assert second["Message-ID"] != first["Message-ID"]


def test_a_mail_server_that_is_down_leaves_the_reply_queued_with_the_error(client, loop, case, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens
    client.force_login(loop.agent)
    send(client, case)

    assert replies.send_queued_replies(now=timezone.now()) == {"retry": 1}

    entry = CaseEntry.objects.get(case=case, kind="reply_sent")
    assert entry.details["status"] == "queued"
    assert entry.details["attempts"] == 1
    assert entry.details["error"]
    assert Case.objects.get(pk=case.pk).first_response_at is None
    assert replies.send_queued_replies(now=timezone.now()) == {}  # waits a minute before the next try
    assert replies.send_queued_replies(now=timezone.now() + timedelta(minutes=2)) == {"retry": 1}


def test_a_refused_recipient_fails_the_reply_for_good(client, loop, case, smtp):
    smtp.replies[case.response.contact.email] = "550 5.1.1 No such user"
    client.force_login(loop.agent)
    send(client, case)

    assert replies.send_queued_replies(now=timezone.now()) == {"failed": 1}
    assert CaseEntry.objects.get(case=case, kind="reply_sent").details["status"] == "failed"


def _unsubscribed(contact):
    contact.unsubscribed_at = timezone.now()


def _bounced(contact):
    contact.bounced_at = timezone.now()


def _complained(contact):
    contact.complained_at = timezone.now()


def _no_email(contact):
    contact.email = ""
    contact.external_id = "K-1"


def _no_legal_basis(contact):
    contact.legal_basis = LegalBasis.NONE


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (_unsubscribed, "unsubscribed"),
        (_bounced, "bounced"),
        (_complained, "complained"),
        (_no_email, "no_email"),
        (_no_legal_basis, "no_legal_basis"),
    ],
)
def test_no_reply_goes_to_a_customer_who_may_not_be_written_to(client, loop, case, change, reason):
    contact = case.response.contact
    change(contact)
    contact.save()
    client.force_login(loop.agent)

    with translation.override("en"):
        html = client.get(case.get_absolute_url()).content.decode()
        refused = send(client, case)

    assert replies.reason_not_to_reply(Case.objects.get(pk=case.pk)) == reason
    assert 'id="reply-refusal"' in html
    assert str(replies.REFUSALS[reason]).replace("'", "&#x27;") in html
    assert 'id="reply-form"' not in html
    assert refused.status_code == 409
    assert not CaseEntry.objects.filter(kind="reply_sent").exists()


def test_no_reply_goes_to_an_address_on_the_suppression_list_or_an_answer_without_contact(loop, case):
    Suppression.objects.add(case.response.contact, reason="unsubscribed")
    assert replies.reason_not_to_reply(case) == "suppressed"

    anonymous = case_for(answer(loop.survey))
    anonymous.response.contact = None
    assert replies.reason_not_to_reply(anonymous) == "no_contact"


def test_a_customer_who_objected_after_the_reply_was_written_gets_nothing(client, loop, case, smtp):
    client.force_login(loop.agent)
    send(client, case)
    case.response.contact.unsubscribed_at = timezone.now()
    case.response.contact.save()

    assert replies.send_queued_replies(now=timezone.now()) == {"failed": 1}
    assert smtp.messages == []


def test_replying_needs_the_permission_and_a_subject_and_text(client, loop, case, analyst):
    loop.team.members.add(analyst)
    client.force_login(analyst)
    assert send(client, case).status_code == 403
    client.force_login(loop.agent)
    assert send(client, case, subject="").status_code == 400
    assert send(client, case, body="").status_code == 400
    assert not CaseEntry.objects.filter(kind="reply_sent").exists()


def test_a_foreign_manager_cannot_reply_to_the_case(client, loop, case):
    client.force_login(loop.foreigner)
    assert send(client, case).status_code == 404


def test_the_token_of_the_plus_address_cannot_be_made_up():
    token = "0" * 32 + "1" * 16
    assert replies.case_for_token(token) is None
    assert replies.case_for_token("nonsense") is None


def test_the_sla_counts_the_reply_as_the_first_response(client, loop, case, smtp):
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() + timedelta(hours=1))
    client.force_login(loop.agent)
    send(client, case)
    replies.send_queued_replies(now=timezone.now())

    assert Case.objects.get(pk=case.pk).sla_state(timezone.now()) == "met"
    assert re.search(r'data-delivery="sent"', client.get(case.get_absolute_url()).content.decode())


def test_a_reply_whose_sender_stopped_fails_instead_of_going_out_twice(client, loop, case, smtp):
    client.force_login(loop.agent)
    send(client, case)
    entry = CaseEntry.objects.get(case=case, kind="reply_sent")
    claimed = timezone.now() - replies.CLAIM_LEASE - timedelta(minutes=1)
    CaseEntry.objects.filter(pk=entry.pk).update(
        details={**entry.details, "status": "sending", "claimed_at": claimed.isoformat()}
    )

    assert replies.send_queued_replies(now=timezone.now()) == {"stalled": 1}
    assert CaseEntry.objects.get(pk=entry.pk).details["status"] == "failed"
    assert smtp.messages == []
