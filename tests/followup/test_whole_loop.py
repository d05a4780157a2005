"""The whole loop, through the doors a customer and a colleague use: a detractor answers on the
answering page; the worker opens a case, emails its owner over SMTP and posts to a chat receiver;
the agent replies from the case page; the customer's answer comes back through the provider's
inbound webhook, threaded on the case; the case is resolved, and the customer, asked a week later,
says the issue was solved: the dashboard's loop counts it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from feedback.counts import Filters
from feedback.loop import count_loop, loop_figures
from followup import alerts, rechecks, replies
from followup.cases import change_case
from followup.models import AlertRule, Case, CaseEntry, Recheck
from surveys import roles
from surveys.models import LegalBasis, Response
from tests.factories import make_contact, make_invitation, make_staff, make_survey, make_team, make_touchpoint
from tests.followup.conftest import INBOUND_SECRET, inbound, post_inbound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _mailboxes(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": INBOUND_SECRET}
    settings.FOLLOWUP_REPLY_ADDRESS = "replies@cx.example.com"


def test_a_detractor_is_heard_answered_and_won_back(client, smtp, chat_receiver):
    survey = make_survey(kind="nps", brand="Acme", sender_name="Acme Service")
    touchpoint = make_touchpoint(survey=survey, name="Delivery", recheck_after_days=7)
    agent = make_staff("agnes", roles.AGENT)
    make_team("Service", surveys=[survey], members=[agent])
    rule = AlertRule.objects.create(
        survey=survey,
        name="Detractors",
        active=True,
        categories=["detractor"],
        assignee=agent,
        sla_hours=48,
        slack_url=chat_receiver.url("/slack"),
    )
    rule.notify.set([agent])
    customer = make_contact(
        email="erika@example.com", name="Erika Muster", language="en", legal_basis=LegalBasis.CUSTOMER
    )
    invitation = make_invitation(survey=survey, touchpoint=touchpoint, contact=customer)

    # The customer answers on the answering page, score first, then the comment.
    client.post(f"/s/{invitation.token}/", {"score": "2"}, headers={"Accept": "application/json"})
    client.post(f"/s/{invitation.token}/", {"score": "2", "comment": "The sofa arrived scratched."})
    answer = Response.objects.get(invitation=invitation)
    assert not Case.objects.exists()  # the answering requests only queue the answer

    alerts.evaluate_due()

    case = Case.objects.get(response=answer)
    assert (case.assignee, case.rule, case.due_at) == (agent, rule, case.created_at + timedelta(hours=48))
    [alert_mail] = smtp.messages
    assert alert_mail["To"] == "agnes@example.com"
    assert f"/responses/{answer.public_id}/" in alert_mail.get_body(("plain",)).get_content()
    [(path, post)] = chat_receiver.posts
    assert path == "/slack" and "scratched" in post["blocks"][0]["text"]["text"]

    # The agent replies from the case page; a worker sends it.
    client.force_login(agent)
    page = client.post(
        reverse("followup:reply", args=[case.public_id]),
        {"subject": "Your sofa", "body": "Dear Erika, we are sending a technician."},
    )
    assert page.status_code == 302
    assert replies.send_queued_replies(now=timezone.now()) == {"sent": 1}
    reply = smtp.messages[-1]
    assert reply["To"] == "Erika Muster <erika@example.com>"
    assert reply["Reply-To"] == f"replies+{replies.reply_token(case)}@cx.example.com"
    sent = CaseEntry.objects.get(case=case, kind=CaseEntry.Kind.REPLY_SENT)
    assert reply["Message-ID"] == sent.message_id
    change_case(case, by=agent, now=timezone.now(), status=Case.Status.WAITING)

    # Her answer comes back through the provider's inbound webhook, threaded under the reply.
    delivered = post_inbound(
        client,
        inbound(to=reply["Reply-To"], in_reply_to=reply["Message-ID"], text="Thank you, Thursday suits me."),
    )
    assert delivered.status_code == 200
    received = CaseEntry.objects.get(case=case, kind=CaseEntry.Kind.REPLY_RECEIVED)
    assert (received.in_reply_to, received.text) == (sent.message_id, "Thank you, Thursday suits me.")
    case.refresh_from_db()
    assert case.status == Case.Status.IN_PROGRESS
    assert case.sla_state(timezone.now()) == "met"

    # Resolved; a week later she is asked whether it was, and says yes.
    resolved_at = timezone.now()
    change_case(case, by=agent, now=resolved_at, status=Case.Status.RESOLVED, resolution="solved")
    assert rechecks.send_due_rechecks(now=resolved_at + timedelta(days=7)) == {"sent": 1}
    question = Recheck.objects.get(case=case)
    client.logout()
    client.post(reverse("followup:recheck", args=[question.token]), {"solved": "yes"})

    period = Filters(survey=survey, since=timezone.localdate(), until=timezone.localdate())
    figures = loop_figures(count_loop(period, now=timezone.now()))
    assert (figures.cases, figures.open) == (1, 0)
    assert (figures.contacted_in_time.successes, figures.contacted_in_time.n) == (1, 1)
    assert (figures.solved_when_asked.successes, figures.solved_when_asked.n) == (1, 1)
