"""The login page in a real browser: a wrong password, the page asked for after signing in, the
authenticator app's code for whoever set one up, and back to the login page after logging out."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from surveys import roles
from tests.factories import make_staff, make_survey, make_team

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def manager(db):
    user = make_staff("manager", roles.CX_MANAGER)
    make_team("Service", surveys=[make_survey(name="Lieferung")], members=[user])
    return user


def submit(page, username: str, password: str, code: str = "") -> None:
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    if code:
        page.fill("#id_otp_token", code)
    page.click("#login-form button[type=submit]")


@pytest.mark.parametrize("browser_locale", ["de-DE", "en-GB"])
def test_a_wrong_password_is_refused_and_the_right_one_leads_to_the_page_asked_for(
    page, live_server, manager, browser_locale
):
    page.goto(f"{live_server.url}/verbatims/?range=90d")
    page.wait_for_url(f"{live_server.url}/login/?next=/verbatims/%3Frange%3D90d")
    assert page.evaluate("document.documentElement.lang") == browser_locale[:2]
    expect(page.locator(".topbar .product")).to_be_visible()  # the staff pages' look
    expect(page.locator(".sections")).to_have_count(0)  # no sections for whoever is signed out

    submit(page, "manager", "wrong")
    expect(page.locator("#sign-in-errors")).to_be_visible()
    expect(page.locator("#id_username")).to_have_value("manager")

    submit(page, "manager", "manager-password")
    page.wait_for_url(f"{live_server.url}/verbatims/?range=90d")
    expect(page.locator('.sections a[aria-current="page"]')).to_have_attribute("data-section", "comments")

    page.click(".logout button")
    page.wait_for_url(f"{live_server.url}/login/")
    expect(page.locator("#login-form")).to_be_visible()
    assert page.errors == []


def test_without_a_page_asked_for_the_login_leads_home_and_the_admin_s_login_leads_here(
    page, live_server, manager
):
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.wait_for_url(f"{live_server.url}/login/?next=/admin/")
    page.goto(f"{live_server.url}/login/")
    submit(page, "manager", "manager-password")
    page.wait_for_url(f"{live_server.url}/")
    expect(page.locator("#surveys")).to_be_visible()
    assert page.errors == []


def test_who_set_up_an_authenticator_app_is_asked_for_its_code(page, live_server, manager):
    device = TOTPDevice.objects.create(user=manager, name="Phone", confirmed=True)
    page.goto(f"{live_server.url}/dashboard/")

    submit(page, "manager", "manager-password")
    expect(page.locator("#sign-in-errors")).to_be_visible()
    expect(page.locator("#id_otp_token")).to_be_visible()
    assert page.url.startswith(f"{live_server.url}/login/")

    submit(page, "manager", "manager-password", code=f"{totp(device.bin_key):06d}")
    page.wait_for_url(f"{live_server.url}/dashboard/")
    assert page.errors == []
