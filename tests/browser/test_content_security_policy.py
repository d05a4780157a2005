"""The back office, the dashboard and the API docs in a real browser under their Content-Security-Policy:
every script and style they need runs, and the browser reports no violation."""

import pytest
from django.contrib.auth import get_user_model
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from tests.factories import make_survey, make_touchpoint

pytestmark = pytest.mark.django_db(transaction=True)

# Registered before any page script runs, in every page and frame the test opens.
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""


@pytest.fixture
def guarded(page, live_server):
    """The page, counting CSP violations (as events and as the console's refusals) and failed requests."""
    page.context.add_init_script(COLLECT_VIOLATIONS)
    page.failed = []
    page.on(
        "response",
        lambda response: (
            response.status >= 400
            and not response.url.endswith("/favicon.ico")  # the admin asks for one it does not have
            and page.failed.append(f"{response.status} {response.url}")
        ),
    )
    return page


def no_violations(page) -> None:
    for frame in page.frames:
        assert frame.evaluate("window.__violations || []") == [], frame.url
    refusals = [error for error in page.errors if "Content Security Policy" in error]
    assert refusals == []
    assert [error for error in page.errors if "Failed to load resource" not in error] == []
    assert page.failed == []


@pytest.fixture
def boss(db):
    return get_user_model().objects.create_superuser("boss", "boss@example.com", "Boss-password-77")


def log_in(page, live_server, token: str = "") -> None:
    page.goto(f"{live_server.url}/login/?next=/admin/")
    page.fill("#id_username", "boss")
    page.fill("#id_password", "Boss-password-77")
    if token:
        page.fill("#id_otp_token", token)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")


def test_the_back_office_s_scripts_run_under_its_policy(guarded, live_server, boss):
    page = guarded
    survey = make_survey(kind="nps", name="Delivery survey")
    make_touchpoint(survey=survey, name="Delivery")
    log_in(page, live_server)
    no_violations(page)

    # A list with its actions, filters and search.
    page.goto(f"{live_server.url}/admin/surveys/survey/")
    page.check("#result_list input.action-select")
    expect(page.locator(".actions .action-counter")).to_contain_text("1 of 1 selected")
    no_violations(page)

    # A change form: an inline row added by its script, its slug filled from the name as typed.
    page.goto(f"{live_server.url}/admin/surveys/survey/add/")
    rows = page.locator("tr.form-row.dynamic-touchpoints")
    expect(rows).to_have_count(0)
    page.click(".add-row a")
    expect(rows).to_have_count(1)
    page.locator("tr.dynamic-touchpoints input[name$='-name']").press_sequentially("Online Shop")
    expect(page.locator("tr.dynamic-touchpoints input[name$='-slug']")).to_have_value("online-shop")
    no_violations(page)

    # Date and time widgets: the calendar opens, the shortcuts fill the fields.
    page.goto(f"{live_server.url}/admin/auth/user/{boss.pk}/change/")
    page.fill("#id_date_joined_0", "")
    page.locator(".field-date_joined .datetimeshortcuts a", has_text="Today").first.click()
    expect(page.locator("#id_date_joined_0")).not_to_have_value("")
    page.click("#calendarlink0")
    expect(page.locator("#calendarbox0")).to_be_visible()
    no_violations(page)

    # The email preview: the email's own inline styles in a sandboxed frame.
    page.goto(f"{live_server.url}/admin/surveys/survey/{survey.pk}/email/")
    expect(page.locator("iframe")).to_have_count(2)
    no_violations(page)


def test_setting_up_two_factor_authentication_and_signing_in_with_it(guarded, live_server, boss):
    page = guarded
    log_in(page, live_server)
    page.goto(f"{live_server.url}/admin/two-factor/")
    qr_code = page.locator("#two-factor-qr-code")
    expect(qr_code).to_be_visible()
    assert qr_code.evaluate("image => image.naturalWidth") > 0  # drawn by the app, allowed by img-src
    device = TOTPDevice.objects.get(user=boss)
    page.fill("#id_code", f"{totp(device.bin_key):06d}")
    page.click("#two-factor-confirm")
    page.wait_for_url(f"{live_server.url}/admin/")
    expect(page.locator(".messagelist")).to_contain_text("Two-factor authentication is on.")
    no_violations(page)

    page.click("#logout-form button")
    log_in(page, live_server, token=f"{totp(device.bin_key, drift=1):06d}")
    no_violations(page)


def test_the_dashboard_and_the_api_docs_run_under_their_policies(guarded, live_server, boss):
    page = guarded
    make_survey(kind="nps", name="Delivery survey")
    log_in(page, live_server)
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.locator("#filter-summary")).to_be_visible()
    no_violations(page)

    page.goto(f"{live_server.url}/api/docs/")
    operations = page.locator("#swagger-ui .opblock")
    expect(operations.first).to_be_visible()
    assert operations.count() >= 10
    operations.first.locator(".opblock-summary").click()
    expect(page.locator("#swagger-ui .opblock.is-open")).to_have_count(1)
    no_violations(page)
