"""Signing in to the back office: lockouts after failed sign-ins, unlocking, and the password rules."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY, get_user_model
from django.test import Client

pytestmark = pytest.mark.django_db

LOGIN = "/login/?next=/admin/"


@pytest.fixture
def visitor():
    """Someone at the login page, in English."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


def sign_in(client, username: str, password: str, address: str = "203.0.113.5", **headers):
    return client.post(
        LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address, **headers
    )


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


def test_a_staff_user_signs_in_with_the_password_and_reaches_the_back_office_and_the_dashboard(
    visitor, cx_manager
):
    answer = sign_in(visitor, "manager", "manager-password")
    assert answer.status_code == 302
    assert answer["Location"] == "/admin/"
    assert visitor.get("/admin/").status_code == 200
    assert visitor.get("/dashboard/").status_code == 200  # the app's pages share the login


def test_a_wrong_password_is_refused_and_counted(visitor, cx_manager):
    answer = sign_in(visitor, "manager", "wrong")
    assert answer.status_code == 200
    assert "Please enter the correct username and password" in answer.content.decode()
    assert not signed_in(visitor)
    [attempt] = AccessAttempt.objects.all()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "manager",
        "203.0.113.5",
        1,
    )
    assert "wrong" not in attempt.post_data  # the password is not kept


def test_an_account_is_locked_after_five_failures_from_any_addresses(visitor, cx_manager, admin_user):
    for attempt in range(4):
        assert sign_in(visitor, "manager", "wrong", address=f"198.51.100.{attempt}").status_code == 200
    locked = sign_in(visitor, "manager", "wrong", address="198.51.100.4")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "900"

    # Now even the right password, from yet another address, does not get in.
    refused = sign_in(visitor, "manager", "manager-password", address="192.0.2.1")
    assert refused.status_code == 429
    page = refused.content.decode()
    assert 'id="locked-out"' in page
    assert "Too many failed sign-ins for this account or from your network" in page
    assert "blocked for 15 minutes after the last failed attempt" in page
    assert 'href="/admin/password_reset/"' in page  # the way out
    assert "Content-Security-Policy" in refused  # the login page, not a bare error
    assert not signed_in(visitor)

    # Other accounts are not locked, from the same addresses.
    assert sign_in(Client(), "admin", "admin-password", address="198.51.100.4").status_code == 302


def test_an_address_is_locked_after_twenty_failures_whatever_the_accounts(visitor, admin_user):
    office = "203.0.113.9"
    for attempt in range(19):
        assert sign_in(visitor, f"guess{attempt % 5}", "wrong", address=office).status_code == 200
    assert sign_in(visitor, "guess-last", "wrong", address=office).status_code == 429
    # No account had five failures, but from this address nobody signs in now.
    assert sign_in(Client(), "admin", "admin-password", address=office).status_code == 429
    assert sign_in(Client(), "admin", "admin-password", address="192.0.2.77").status_code == 302


def test_the_limits_and_the_cool_off_come_from_the_settings(visitor, cx_manager, settings):
    settings.LOGIN_FAILURES_PER_USER = settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    sign_in(visitor, "manager", "wrong")
    locked = sign_in(visitor, "manager", "wrong")
    assert locked.status_code == 429
    assert locked["Retry-After"] == "60"
    assert "blocked for 1 minute after" in locked.content.decode()


def test_the_lockout_ends_after_the_cool_off_and_tries_while_locked_do_not_prolong_it(visitor, cx_manager):
    for _attempt in range(5):
        sign_in(visitor, "manager", "wrong")
    before = list(AccessAttempt.objects.values_list("failures_since_start", "attempt_time"))
    assert sign_in(visitor, "manager", "wrong").status_code == 429
    assert sign_in(visitor, "manager", "manager-password").status_code == 429
    assert list(AccessAttempt.objects.values_list("failures_since_start", "attempt_time")) == before

    # Sixteen minutes later (the last failure moved back in time), the right password gets in.
    AccessAttempt.objects.update(attempt_time=before[0][1] - timedelta(minutes=16))
    assert sign_in(visitor, "manager", "manager-password").status_code == 302
    assert signed_in(visitor)
    assert not AccessAttempt.objects.exists()  # a successful sign-in forgets the failures


def test_behind_a_trusted_proxy_the_forwarded_address_is_counted(visitor, cx_manager, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "10.0.0.2"
    for client_address in ("198.51.100.20", "2001:db8::1:2", "2001:db8::1:3"):
        sign_in(visitor, "manager", "wrong", address=proxy, HTTP_X_FORWARDED_FOR=f"1.2.3.4, {client_address}")
    addresses = set(AccessAttempt.objects.values_list("ip_address", flat=True))
    # Each IPv6 address is its own client, and the proxy's address is nobody's.
    assert addresses == {"198.51.100.20", "2001:db8::1:2", "2001:db8::1:3"}


def test_an_administrator_unlocks_an_account_from_the_users_list(visitor, cx_manager, admin_user):
    for _attempt in range(5):
        sign_in(visitor, "manager", "wrong")
    assert sign_in(visitor, "manager", "manager-password").status_code == 429

    office = Client(HTTP_ACCEPT_LANGUAGE="en")
    office.force_login(admin_user)
    answer = office.post(
        "/admin/auth/user/", {"action": "unlock", "_selected_action": [cx_manager.pk]}, follow=True
    )
    assert "Unlocked sign-in for 1 user." in answer.content.decode()
    assert not AccessAttempt.objects.filter(username="manager").exists()
    assert sign_in(visitor, "manager", "manager-password").status_code == 302


def test_the_failed_attempts_are_listed_in_the_back_office(visitor, cx_manager, admin_user):
    sign_in(visitor, "manager", "wrong")
    office = Client(HTTP_ACCEPT_LANGUAGE="en")
    office.force_login(admin_user)
    listing = office.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "203.0.113.5" in listing.content.decode()


def test_the_test_clients_login_and_force_login_are_not_counted(client, cx_manager):
    assert client.login(username="manager", password="manager-password")
    assert not client.login(username="manager", password="wrong")
    assert not AccessAttempt.objects.exists()
    client.force_login(cx_manager)
    assert client.get("/admin/").status_code == 200


def test_a_new_user_needs_a_password_that_passes_the_validators(admin_user):
    office = Client(HTTP_ACCEPT_LANGUAGE="en")
    office.force_login(admin_user)
    add = {"username": "newcomer", "usable_password": "true"}
    refused = office.post("/admin/auth/user/add/", {**add, "password1": "12345678", "password2": "12345678"})
    assert refused.status_code == 200
    page = refused.content.decode()
    assert "This password is too common." in page
    assert "This password is entirely numeric." in page
    assert not get_user_model().objects.filter(username="newcomer").exists()

    strong = "Kettle-ocean-47-violet"
    added = office.post("/admin/auth/user/add/", {**add, "password1": strong, "password2": strong})
    assert added.status_code == 302
    assert get_user_model().objects.get(username="newcomer").check_password(strong)


def test_a_changed_password_passes_the_validators_too(cx_manager):
    office = Client(HTTP_ACCEPT_LANGUAGE="en")
    office.force_login(cx_manager)
    data = {"old_password": "manager-password", "new_password1": "manager1", "new_password2": "manager1"}
    refused = office.post("/admin/password_change/", data)
    assert refused.status_code == 200
    assert "The password is too similar to the username." in refused.content.decode()
