"""A forgotten password, reset by email: the whole way through a real SMTP server."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client

pytestmark = pytest.mark.django_db

RESET = "/admin/password_reset/"
NEW_PASSWORD = "Lantern-harbour-93-quiet"


@pytest.fixture
def visitor():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def reset_link(message) -> str:
    found = re.search(r"http://127\.0\.0\.1:8000(/reset/\S+/)", message.get_content())
    assert found, message.get_content()
    return found[1]


def test_a_user_resets_the_password_by_email_and_signs_in_with_the_new_one(visitor, cx_manager, smtp):
    login = visitor.get("/login/").content.decode()
    assert f'href="{RESET}"' in login

    sent = visitor.post(RESET, {"email": "manager@example.com"})
    assert sent["Location"] == "/admin/password_reset/done/"
    assert "We’ve emailed you instructions" in visitor.get(sent["Location"]).content.decode()
    [message] = smtp.messages
    assert message["To"] == "manager@example.com"
    assert message["Subject"] == "Password reset on 127.0.0.1"
    text = message.get_content()
    assert "reset the password of your account “manager” in the CXSurvey back office" in text
    assert "open this link within an hour. It works once." in text

    # The link leads to a form (Django moves the token out of the address first).
    form = visitor.get(reset_link(message), follow=True)
    assert form.status_code == 200
    form_url = form.redirect_chain[-1][0]
    assert form_url.endswith("/set-password/")
    weak = visitor.post(form_url, {"new_password1": "password", "new_password2": "password"})
    assert "This password is too common." in weak.content.decode()  # the validators apply here too
    done = visitor.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == "/reset/done/"

    cx_manager.refresh_from_db()
    assert cx_manager.check_password(NEW_PASSWORD)
    assert visitor.get(reset_link(message), follow=True).context["validlink"] is False  # used once
    signed = visitor.post("/login/", {"username": "manager", "password": NEW_PASSWORD, "next": "/admin/"})
    assert signed.status_code == 302
    assert SESSION_KEY in visitor.session


def test_an_unknown_address_gets_the_same_answer_and_no_email(visitor, cx_manager, smtp):
    known = visitor.post(RESET, {"email": "manager@example.com"})
    unknown = visitor.post(RESET, {"email": "nobody@example.com"})
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert [message["To"] for message in smtp.messages] == ["manager@example.com"]


def test_the_link_points_at_the_site_whatever_host_the_request_named(visitor, cx_manager, smtp, settings):
    settings.SITE_URL = "https://cx.example.com"
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]
    visitor.post(RESET, {"email": "manager@example.com"}, HTTP_HOST="localhost")
    [message] = smtp.messages
    assert "https://cx.example.com/reset/" in message.get_content()
    assert "localhost" not in message.get_content()


def test_the_email_speaks_the_language_of_the_request(cx_manager, smtp):
    Client(HTTP_ACCEPT_LANGUAGE="de").post(RESET, {"email": "manager@example.com"})
    [message] = smtp.messages
    assert message["Subject"] == "Passwort auf 127.0.0.1 zurücksetzen"


def test_requests_are_limited_per_client(visitor, cx_manager, smtp, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": 2}
    for _request in range(2):
        assert visitor.post(RESET, {"email": "manager@example.com"}).status_code == 302
    refused = visitor.post(RESET, {"email": "manager@example.com"})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert "Too many requests from your network. Wait a minute and try again." in refused.content.decode()
    assert len(smtp.messages) == 2
    # Another client is not limited.
    assert visitor.post(RESET, {"email": "manager@example.com"}, REMOTE_ADDR="192.0.2.3").status_code == 302


def test_a_new_password_lifts_the_lockout_of_the_account(visitor, cx_manager, smtp):
    for address in range(5):
        visitor.post(
            "/login/",
            {"username": "manager", "password": "wrong"},
            REMOTE_ADDR=f"198.51.100.{address}",
        )
    assert AccessAttempt.objects.filter(username="manager").exists()
    visitor.post(RESET, {"email": "manager@example.com"})
    form_url = visitor.get(reset_link(smtp.messages[0]), follow=True).redirect_chain[-1][0]
    visitor.post(form_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert not AccessAttempt.objects.filter(username="manager").exists()
    signed = visitor.post("/login/", {"username": "manager", "password": NEW_PASSWORD, "next": "/admin/"})
    assert signed.status_code == 302
