"""The Content-Security-Policy of the pages that set none of their own, and the idle time of sessions."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cxsurvey.security import BACK_OFFICE_CSP
from feedback.views import PAGE_CSP
from surveys.public import RESPONDENT_CSP
from tests.factories import make_survey

pytestmark = pytest.mark.django_db


def nonce(policy: str) -> str:
    found = re.search(r"'nonce-([^']+)'", policy)
    assert found, policy
    return found[1]


def test_back_office_pages_get_a_policy_with_a_new_nonce_on_every_request(client, admin_user):
    login = client.get("/login/")["Content-Security-Policy"]
    assert login == BACK_OFFICE_CSP.format(nonce=nonce(login))
    assert "script-src 'self' 'nonce-" in login
    # No inline script and no <style> element without the nonce; style attributes only.
    assert "'unsafe-inline'" not in login.split("style-src-attr")[0]
    client.force_login(admin_user)
    pages = ["/admin/", "/admin/surveys/survey/", "/admin/surveys/survey/add/", "/admin/two-factor/"]
    policies = [client.get(page)["Content-Security-Policy"] for page in pages]
    assert all(policy.startswith("default-src 'self'; script-src 'self' 'nonce-") for policy in policies)
    assert len({nonce(policy) for policy in [login, *policies]}) == 5
    assert client.get("/admin/password_reset/")["Content-Security-Policy"].startswith("default-src 'self'")


def test_the_docs_page_s_inline_style_carries_the_nonce_of_its_policy(client, admin_user):
    client.force_login(admin_user)
    page = client.get("/api/docs/")
    assert f'<style nonce="{nonce(page["Content-Security-Policy"])}">' in page.content.decode()


def test_pages_with_a_policy_of_their_own_keep_it(client, cx_manager):
    survey = make_survey(kind="nps")
    assert client.get(f"/l/{survey.public_key}/")["Content-Security-Policy"] == RESPONDENT_CSP
    client.force_login(cx_manager)
    assert client.get("/dashboard/")["Content-Security-Policy"] == PAGE_CSP


def test_other_answers_than_html_get_no_policy(client, admin_user):
    client.force_login(admin_user)
    assert "Content-Security-Policy" not in client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert "Content-Security-Policy" not in client.get("/admin/jsi18n/")


class Clock:
    def __init__(self, monkeypatch):
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)


def session_writes(client, path: str) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get(path).status_code
    writes = [query["sql"] for query in queries if re.match(r"(UPDATE|INSERT)", query["sql"])]
    return status, [sql for sql in writes if "django_session" in sql]


def test_a_session_lives_on_while_used_and_ends_after_an_hour_without_a_request(cx_manager, monkeypatch):
    clock = Clock(monkeypatch)
    office = Client()
    office.force_login(cx_manager)
    clock.advance(minutes=50)
    assert office.get("/dashboard/").status_code == 200  # moves the end on to an hour from now
    clock.advance(minutes=50)
    assert office.get("/dashboard/").status_code == 200
    clock.advance(minutes=61)
    assert office.get("/dashboard/")["Location"] == "/login/?next=/dashboard/"
    assert office.get("/admin/")["Location"] == "/admin/login/?next=/admin/"


def test_the_idle_time_is_a_setting(cx_manager, monkeypatch, settings):
    settings.SESSION_COOKIE_AGE = 10 * 60  # what SESSION_IDLE_MINUTES=10 sets
    clock = Clock(monkeypatch)
    office = Client()
    office.force_login(cx_manager)
    clock.advance(minutes=11)
    assert office.get("/admin/").status_code == 302


def test_a_session_is_written_at_most_once_a_minute(cx_manager, monkeypatch):
    clock = Clock(monkeypatch)
    office = Client()
    office.force_login(cx_manager)  # signing in marks the session active
    assert session_writes(office, "/admin/") == (200, [])
    clock.advance(seconds=59)
    assert session_writes(office, "/admin/") == (200, [])
    clock.advance(seconds=2)
    status, writes = session_writes(office, "/admin/")
    assert status == 200
    assert len(writes) == 1


def test_anonymous_visitors_get_no_session(client):
    survey = make_survey(kind="nps")
    client.get(f"/l/{survey.public_key}/")
    client.get("/login/")
    assert "sessionid" not in client.cookies
