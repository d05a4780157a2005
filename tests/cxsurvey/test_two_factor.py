"""Two-factor authentication with an authenticator app (TOTP): setting it up, signing in with it, and
the setting that requires it. The codes are computed here as an app computes them."""

import re

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db

SETUP = "/admin/two-factor/"


def code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The app's code now (or a later step's: a code is accepted once, and tests are quicker than 30 s)."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, steps_ahead):0{device.digits}d}"


def english() -> Client:
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def sign_in(client, username: str, password: str, token: str = "", next_url: str = "/admin/"):
    data = {"username": username, "password": password, "otp_token": token, "next": next_url}
    return client.post(f"/login/?next={next_url}", data)


def verified(client) -> bool:
    return DEVICE_ID_SESSION_KEY in client.session


@pytest.fixture
def with_app(cx_manager):
    """The CX manager, who set up an authenticator app."""
    return TOTPDevice.objects.create(user=cx_manager, name="Phone", confirmed=True)


def test_a_user_sets_up_an_app_and_from_then_on_signs_in_with_its_code(cx_manager):
    office = english()
    office.force_login(cx_manager)
    page = office.get(SETUP)
    assert page.status_code == 200
    [device] = TOTPDevice.objects.filter(user=cx_manager)
    assert not device.confirmed
    key = re.search(r'id="two-factor-key">([A-Z2-7 ]+)<', page.content.decode())[1]
    assert len(key.replace(" ", "")) == 32  # 20 random bytes in base32, for typing in
    qr = office.get("/admin/two-factor/qr.svg")
    assert qr["Content-Type"] == "image/svg+xml"
    assert qr.content.lstrip().startswith(b"<?xml") and b"<svg" in qr.content

    wrong = office.post(
        SETUP, {"action": "confirm", "code": "000000" if code(device) != "000000" else "111111"}
    )
    assert wrong.status_code == 400
    assert "This code is not right." in wrong.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    # After a wrong code the app waits a second before it checks the next (django-otp's throttling).
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)

    done = office.post(SETUP, {"action": "confirm", "code": code(device)}, follow=True)
    assert done.redirect_chain == [("/admin/", 302)]
    assert "Two-factor authentication is on." in done.content.decode()
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert verified(office)
    # The key is shown while setting up only.
    assert key not in office.get(SETUP).content.decode()
    assert office.get("/admin/two-factor/qr.svg").status_code == 404

    # Signing in now takes the code as well as the password.
    visitor = english()
    without = sign_in(visitor, "manager", "manager-password")
    assert without.status_code == 200
    assert "Enter the code from your authenticator app." in without.content.decode()
    assert SESSION_KEY not in visitor.session
    with_code = sign_in(visitor, "manager", "manager-password", code(device, steps_ahead=1))
    assert with_code.status_code == 302
    assert verified(visitor)
    assert visitor.get("/dashboard/").status_code == 200


def test_a_wrong_code_is_refused_and_counts_towards_the_lockout(with_app):
    visitor = english()
    wrong = "123456" if code(with_app) != "123456" else "654321"
    answer = sign_in(visitor, "manager", "manager-password", wrong)
    assert answer.status_code == 200
    assert "This code is not right." in answer.content.decode()
    assert SESSION_KEY not in visitor.session
    assert AccessAttempt.objects.get(username="manager").failures_since_start == 1


def test_a_used_code_is_not_accepted_twice(with_app):
    token = code(with_app)
    assert sign_in(english(), "manager", "manager-password", token).status_code == 302
    again = sign_in(english(), "manager", "manager-password", token)
    assert again.status_code == 200
    assert "This code is not right." in again.content.decode()


def test_without_the_setting_signing_in_works_as_before(cx_manager, admin_user):
    visitor = english()
    assert sign_in(visitor, "admin", "admin-password").status_code == 302
    assert visitor.get("/admin/").status_code == 200
    assert visitor.get("/dashboard/").status_code == 200


def test_when_required_for_superusers_one_without_an_app_must_set_one_up_first(
    settings, admin_user, cx_manager
):
    settings.REQUIRE_2FA = "superusers"
    visitor = english()
    signed = sign_in(visitor, "admin", "admin-password", next_url="/dashboard/")
    assert signed.status_code == 302
    # Neither the back office nor the dashboards open until the app is set up: they go to its page.
    for page in ("/admin/", "/admin/surveys/survey/", "/dashboard/"):
        answer = visitor.get(page, follow=True)
        assert answer.redirect_chain[-1][0].startswith(SETUP), page
        assert "set up an authenticator app to go on" in answer.content.decode()
    assert visitor.get("/api/docs/").status_code == 302

    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    done = visitor.post(SETUP, {"action": "confirm", "code": code(device), "next": "/dashboard/"})
    assert done["Location"] == "/dashboard/"
    assert visitor.get("/admin/surveys/survey/").status_code == 200
    assert visitor.get("/dashboard/").status_code == 200

    # Staff who are not superusers sign in as before.
    manager = english()
    assert sign_in(manager, "manager", "manager-password").status_code == 302
    assert manager.get("/dashboard/").status_code == 200


def test_when_required_for_staff_a_session_without_the_code_reads_nothing(settings, with_app, cx_manager):
    settings.REQUIRE_2FA = "staff"
    unverified = english()
    unverified.force_login(cx_manager)  # a session that did not give the code
    assert unverified.get("/dashboard/")["Location"] == "/login/?next=/dashboard/"
    assert unverified.get("/verbatims/").status_code == 302
    assert unverified.get("/admin/")["Location"] == "/admin/login/?next=/admin/"
    login = unverified.get("/login/?next=/admin/")
    assert "Sign in again with the code from your authenticator app." in login.content.decode()
    # Nor may it replace the app: that needs a session verified with the current one.
    assert unverified.get(SETUP)["Location"].startswith("/login/")
    assert unverified.post(SETUP, {"action": "replace"}).status_code == 302
    assert TOTPDevice.objects.filter(user=cx_manager).count() == 1

    visitor = english()
    assert sign_in(visitor, "manager", "manager-password", code(with_app)).status_code == 302
    assert visitor.get("/dashboard/").status_code == 200


def test_a_user_replaces_the_app_and_the_old_one_stops_working(with_app, cx_manager):
    visitor = english()
    sign_in(visitor, "manager", "manager-password", code(with_app))
    assert visitor.post(SETUP, {"action": "replace"}).status_code == 200
    new = TOTPDevice.objects.get(user=cx_manager, confirmed=False)
    assert visitor.post(SETUP, {"action": "confirm", "code": code(new)}).status_code == 302
    assert list(TOTPDevice.objects.filter(user=cx_manager)) == [new]
    refused = sign_in(english(), "manager", "manager-password", code(with_app, steps_ahead=1))
    assert "This code is not right." in refused.content.decode()


def test_a_user_turns_it_off_unless_it_is_required(settings, with_app, cx_manager):
    visitor = english()
    sign_in(visitor, "manager", "manager-password", code(with_app))
    settings.REQUIRE_2FA = "staff"
    kept = visitor.post(SETUP, {"action": "off"})
    assert kept.status_code == 200
    assert TOTPDevice.objects.filter(user=cx_manager).exists()
    assert 'id="two-factor-off"' not in kept.content.decode()

    settings.REQUIRE_2FA = "off"
    assert visitor.post(SETUP, {"action": "off"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=cx_manager).exists()
    assert sign_in(english(), "manager", "manager-password").status_code == 302


def test_the_set_up_page_is_for_signed_in_staff_only(non_staff):
    anonymous = english()
    assert anonymous.get(SETUP)["Location"] == f"/login/?next={SETUP}"
    assert anonymous.get("/admin/two-factor/qr.svg").status_code == 302
    anonymous.force_login(non_staff)
    assert anonymous.get(SETUP).status_code == 302
    assert not TOTPDevice.objects.exists()


def test_the_back_office_links_to_the_set_up_page(cx_manager):
    office = english()
    office.force_login(cx_manager)
    assert f'href="{SETUP}"' in office.get("/admin/").content.decode()


def test_a_command_removes_the_app_of_someone_who_lost_the_phone(with_app, cx_manager):
    from io import StringIO

    from django.core.management import CommandError, call_command

    output = StringIO()
    call_command("remove_two_factor", "manager", stdout=output)
    assert output.getvalue() == "Removed 1 authenticator app(s) of manager.\n"
    assert not TOTPDevice.objects.filter(user=cx_manager).exists()
    assert sign_in(english(), "manager", "manager-password").status_code == 302
    with pytest.raises(CommandError, match=r"There is no user 'nobody'\."):
        call_command("remove_two_factor", "nobody")
