"""The customer's answer to a reply, as Postmark's inbound webhook posts it (its documented
payload, through anymail's real endpoint): threaded on the case, which goes back to work."""

import pytest
from django.urls import reverse
from django.utils import timezone

from followup import replies
from followup.models import Case, CaseEntry
from tests.followup.conftest import INBOUND_SECRET, answer, case_for, inbound, post_inbound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": INBOUND_SECRET}
    settings.FOLLOWUP_REPLY_ADDRESS = "replies@cx.example.com"


@pytest.fixture
def case(loop):
    return case_for(answer(loop.survey, 4), assignee=loop.agent)


@pytest.fixture
def sent(client, loop, case):
    """The reply the customer answers, sent; the case waits for them."""
    client.force_login(loop.agent)
    client.post(
        reverse("followup:reply", args=[case.public_id]), {"subject": "Your rating", "body": "Sorry!"}
    )
    replies.send_queued_replies(now=timezone.now())
    Case.objects.filter(pk=case.pk).update(status="waiting")
    client.logout()
    return CaseEntry.objects.get(case=case, kind="reply_sent")


def test_an_answer_to_the_plus_address_lands_on_its_case_which_goes_back_to_work(client, case, sent):
    response = post_inbound(client, inbound(to=f"replies+{replies.reply_token(case)}@cx.example.com"))

    assert response.status_code == 200
    received = CaseEntry.objects.get(case=case, kind="reply_received")
    assert received.text == "Thanks, it arrived today."
    assert received.message_id == "<CAJ9z4+answer@mail.example.com>"
    assert received.details == {"subject": "Re: Your rating", "from": "erika@example.com"}
    assert Case.objects.get(pk=case.pk).status == "in_progress"


def test_an_answer_found_by_the_message_it_answers_is_threaded_and_the_next_reply_answers_it(
    client, loop, case, sent, smtp
):
    post_inbound(client, inbound(to="service@cx.example.com", in_reply_to=sent.message_id))

    received = CaseEntry.objects.get(case=case, kind="reply_received")
    assert received.in_reply_to == sent.message_id
    client.force_login(loop.agent)
    client.post(reverse("followup:reply", args=[case.public_id]), {"subject": "Re", "body": "Glad!"})
    replies.send_queued_replies(now=timezone.now())
    assert smtp.messages[-1]["In-Reply-To"] == received.message_id
    assert smtp.messages[-1]["References"] == f"{sent.message_id} {received.message_id}"
    html = client.get(case.get_absolute_url()).content.decode()
    assert 'data-kind="reply_received"' in html and "Thanks, it arrived today." in html


def test_a_retried_delivery_is_stored_once(client, case, sent):
    payload = inbound(to=f"replies+{replies.reply_token(case)}@cx.example.com")
    post_inbound(client, payload)
    post_inbound(client, payload)

    assert CaseEntry.objects.filter(case=case, kind="reply_received").count() == 1


def test_mail_that_matches_no_case_is_ignored_without_error(client, case, sent):
    forged = "replies+" + case.public_id.hex + "0" * 16 + "@cx.example.com"

    for payload in (inbound(to="hello@cx.example.com"), inbound(to=forged, in_reply_to="<unknown@x>")):
        assert post_inbound(client, payload).status_code == 200

    assert not CaseEntry.objects.filter(kind="reply_received").exists()
    assert Case.objects.get(pk=case.pk).status == "waiting"


def test_the_webhook_needs_the_shared_secret_and_does_not_exist_without_one(client, case, sent, settings):
    payload = inbound(to=f"replies+{replies.reply_token(case)}@cx.example.com")

    assert post_inbound(client, payload, secret="postmark:wrong").status_code == 401
    settings.ANYMAIL = {}
    assert post_inbound(client, payload).status_code == 404
    assert not CaseEntry.objects.filter(kind="reply_received").exists()


def test_an_erased_customers_mail_is_not_kept(client, case, sent):
    case.response.contact.delete()

    post_inbound(client, inbound(to=f"replies+{replies.reply_token(case)}@cx.example.com"))

    assert not CaseEntry.objects.filter(kind="reply_received").exists()


def test_the_quoted_history_is_stripped_from_the_customers_words():
    text = "Yes, thanks!\n\nAm 01.08.2026 um 10:00 schrieb Acme <service@acme.de>:\n> Sorry!"

    assert replies.strip_quoted(text) == "Yes, thanks!"
    assert replies.strip_quoted("> only a quote") == "> only a quote"
