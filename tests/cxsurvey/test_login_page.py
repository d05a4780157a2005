"""The one login page (/login/): where it leads, the admin's login address, logging out, and who is
already signed in."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def visitor():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def sign_in(client, query: str = "", **data):
    fields = {"username": "manager", "password": "manager-password", **data}
    return client.post(f"/login/{query}", fields, REMOTE_ADDR="203.0.113.5")


def test_signing_in_leads_to_the_page_asked_for(visitor, cx_manager):
    answer = sign_in(visitor, next="/verbatims/?range=90d")
    assert (answer.status_code, answer["Location"]) == (302, "/verbatims/?range=90d")
    assert SESSION_KEY in visitor.session


def test_without_a_page_asked_for_or_with_another_site_s_it_leads_home(visitor, cx_manager):
    assert sign_in(visitor)["Location"] == "/"
    visitor.logout()
    assert sign_in(visitor, next="https://evil.example/")["Location"] == "/"


def test_the_page_is_in_the_staff_pages_look_with_the_password_reset_link(visitor):
    for language in ("de", "en"):
        html = visitor.get("/login/?next=/dashboard/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
        assert f'<html lang="{language}">' in html
        assert 'class="topbar"' in html and 'id="login-form"' in html
        assert 'href="/admin/password_reset/"' in html
        assert 'name="otp_token"' in html
        assert re.search(r'name="next" value="/dashboard/"', html)
        assert 'class="sections"' not in html  # no sections for whoever is signed out


def test_the_admin_s_login_address_leads_here_with_its_parameters(visitor):
    answer = visitor.get("/admin/login/?next=/admin/surveys/")
    assert (answer.status_code, answer["Location"]) == (302, "/login/?next=/admin/surveys/")
    assert visitor.get("/admin/login/")["Location"] == "/login/"


def test_who_is_signed_in_goes_on_to_the_page_asked_for(client, cx_manager):
    client.force_login(cx_manager)
    assert client.get("/login/?next=/dashboard/")["Location"] == "/dashboard/"
    assert client.get("/login/")["Location"] == "/"


def test_who_is_signed_in_without_staff_rights_may_sign_in_as_someone_else(client, non_staff):
    client.force_login(non_staff)
    answer = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert answer.status_code == 200
    assert "You are authenticated as visitor" in answer.content.decode()


def test_logging_out_leads_to_the_login_page(client, cx_manager):
    client.force_login(cx_manager)
    answer = client.post("/admin/logout/")
    assert (answer.status_code, answer["Location"]) == (302, "/login/")
    assert SESSION_KEY not in client.session
