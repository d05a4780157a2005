"""From a touchpoint event to an answer and an unsubscribe, over real HTTP, SMTP and a browser."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from surveys.email.dispatch import dispatch_due
from surveys.models import Response
from tests.factories import make_api_token, make_survey, make_touchpoint

pytestmark = pytest.mark.django_db(transaction=True)


def post_event(live_server, token: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/events/",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 202
        return json.load(answer)


def test_an_event_becomes_an_email_whose_score_link_records_the_answer(
    page, live_server, smtp_server, settings, cx_manager
):
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.host, smtp_server.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    token = make_api_token(user=cx_manager, write=True)
    survey = make_survey(kind="nps", brand="Nordwind")
    make_touchpoint(survey=survey, slug="order-delivered", send_window=None, recontact_days=0)
    make_touchpoint(survey=survey, slug="ticket-closed", send_window=None, recontact_days=0)
    customer = {"email": "anna@example.com", "name": "Anna Berger", "language": "en"}

    scheduled = post_event(live_server, token, {"touchpoint": "order-delivered", **customer})
    assert scheduled["invitation"]["status"] == "scheduled"
    assert dispatch_due() == {"sent": 1}

    [mail] = smtp_server.messages
    assert mail["To"] == "Anna Berger <anna@example.com>"
    html = mail.get_body(("html",)).get_content()
    links = re.findall(r'href="([^"]+\?score=(\d+))"', html)
    assert [int(score) for _, score in links] == list(range(11))
    nine = dict((score, link) for link, score in links)["9"]

    page.goto(nine)
    expect(page.locator("#saved-status")).to_contain_text("Your score has been saved")
    response = Response.objects.get()
    assert (response.score, response.channel) == (9, "email")
    assert response.invitation_id == scheduled["invitation"]["id"]
    assert page.errors == []

    # The mail provider's one-click unsubscribe: a POST without cookies or CSRF token.
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = mail["List-Unsubscribe"].strip("<>")
    one_click = urllib.request.Request(unsubscribe_url, data=b"List-Unsubscribe=One-Click", method="POST")
    with urllib.request.urlopen(one_click) as answer:
        assert answer.status == 200
        assert answer.url == unsubscribe_url  # no redirect

    skipped = post_event(live_server, token, {"touchpoint": "ticket-closed", **customer})
    assert skipped["invitation"] == {
        "id": skipped["invitation"]["id"],
        "status": "skipped",
        "reason": "unsubscribed",
        "scheduled_for": None,
    }
    assert dispatch_due() == {}
    assert len(smtp_server.messages) == 1
