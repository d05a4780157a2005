"""Every staff page on phones, tablets and desktops, in German and English, with the demo's data:
no sideways scrolling, the menu and the filters usable by keyboard, tables as stacked cards on
phones, the first number on a phone's first screen, no request to another host, no console error."""

import io
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from feedback import exports
from feedback.models import ExportRecord
from followup.models import Case
from surveys.models import Response, Touchpoint

pytestmark = pytest.mark.django_db(transaction=True)

PHONES = ((320, 568), (390, 844))
SIZES = (*PHONES, (768, 1024), (1440, 900))
FILTERED = {"/dashboard/", "/verbatims/"}  # the pages with the filter form
TABLES = {  # a page, and a table on it that becomes cards on phones
    "/dashboard/": "#touchpoint-table",
    "/cases/": "#cases",
    "/exports/": "#exports",
}


@pytest.fixture
def demo_pages(live_server) -> list[str]:
    """The demo company, an export of the demo user's with a long file name, and every staff page."""
    with override_settings(DEBUG=True):  # the demo user's public password, as in development
        call_command("seed_demo", contacts=300, responses=1500, stdout=io.StringIO())
    answer = Response.objects.exclude(comment="").latest("created_at")
    case = Case.objects.latest("created_at")
    demo = get_user_model().objects.get(username="demo")
    record = ExportRecord.objects.create(
        user=demo,
        username="demo",
        format="csv",
        filters={"survey": [str(answer.survey.pk)]},
        personal=False,
        background=True,
        status="running",
        filename="nordwind-weiterempfehlung-lieferung-und-montage-2026-11-01-bis-2026-11-30.csv",
        expires_at=timezone.now() + exports.EXPORT_LIFETIME,
    )
    return [
        "/",
        "/dashboard/",
        "/verbatims/",
        f"/responses/{answer.public_id}/",
        "/cases/",
        f"/cases/{case.public_id}/",
        "/exports/",
        f"/exports/{record.public_id}/",
        "/digest/",
        "/setup/",
        "/setup/surveys/new/",
        f"/setup/surveys/{answer.survey.pk}/",
        "/setup/touchpoints/new/",
        f"/setup/touchpoints/{Touchpoint.objects.earliest('pk').pk}/",
    ]


def log_in(page, live_server) -> None:
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", "demo")
    page.fill("#id_password", "cxsurvey-demo")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def tab_to(page, selector: str, presses: int = 40) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _press in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("(selector) => document.activeElement.matches(selector)", selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


# The deepest elements that stick out on the right, to name in a failure.
STICKING_OUT = """() => {
  const out = (element) => element.getBoundingClientRect().right > window.innerWidth + 0.5;
  return [...document.querySelectorAll("body *")]
    .filter((element) => out(element) && ![...element.children].some(out))
    .slice(0, 5).map((element) => element.outerHTML.slice(0, 160));
}"""


def no_sideways_scrolling(page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        raise AssertionError(
            f"{page.url} is {widths[0]} px wide in {widths[1]} px: {page.evaluate(STICKING_OUT)}"
        )


def menu_works_by_keyboard(page, phone: bool) -> None:
    menu = page.locator("details.sections")
    first_link = page.locator(".sections nav a").first
    if phone:
        expect(menu).not_to_have_attribute("open", "")
        expect(first_link).to_be_hidden()
        tab_to(page, "details.sections > summary")
        page.keyboard.press("Enter")
        expect(menu).to_have_attribute("open", "")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.matches('.sections nav a')")
        expect(first_link).to_be_visible()
        no_sideways_scrolling(page)  # the open menu too
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Enter")
        expect(menu).not_to_have_attribute("open", "")
    else:
        expect(page.locator("details.sections > summary")).to_be_hidden()
        tab_to(page, ".sections nav a")
        expect(first_link).to_be_visible()


def filters_work_by_keyboard(page, phone: bool) -> None:
    box = page.locator("#filter-box")
    expect(page.locator("#filter-summary")).to_be_visible()
    expect(page.locator("#filter-summary")).to_contain_text("·")  # the survey · the period
    if phone:
        expect(box).not_to_have_attribute("open", "")
        expect(page.locator("#f-survey")).to_be_hidden()
        tab_to(page, "#filter-summary")
        page.keyboard.press("Enter")
        expect(box).to_have_attribute("open", "")
        expect(page.locator("#f-survey")).to_be_visible()
        no_sideways_scrolling(page)
    else:
        expect(box).to_have_attribute("open", "")
        expect(page.locator("#f-survey")).to_be_visible()


def tables_fit(page, table: str, phone: bool) -> None:
    """On phones a row is a card: its cells stacked, each named by its column; the header row is
    out of sight but still in the table for screen readers."""
    cell = page.locator(f"{table} tbody td[data-label]").first
    display = cell.evaluate("cell => getComputedStyle(cell).display")
    header = page.locator(f"{table} thead")
    assert page.locator(f"{table} thead th").count() > 1
    if phone:
        assert display != "table-cell"
        label = cell.evaluate("cell => getComputedStyle(cell, '::before').content")
        assert label.strip('"') == cell.get_attribute("data-label")
        assert header.evaluate("head => head.getBoundingClientRect().width") <= 1
    else:
        assert display == "table-cell"


@pytest.mark.parametrize("browser_locale", ["de-DE", "en-GB"])
def test_every_staff_page_fits_phones_tablets_and_desktops(page, live_server, demo_pages, browser_locale):
    log_in(page, live_server)
    origin = urlsplit(live_server.url).netloc
    for width, height in SIZES:
        phone = (width, height) in PHONES
        page.set_viewport_size({"width": width, "height": height})
        for path in demo_pages:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            assert page.evaluate("document.documentElement.lang") == browser_locale[:2]
            no_sideways_scrolling(page)
            if path == "/dashboard/" and width == 390:
                # The first number on the phone's first screen, under the bar and the filters' line.
                box = page.locator("#headline-value").bounding_box()
                assert box and box["y"] + box["height"] <= height
            menu_works_by_keyboard(page, phone)
            if path in FILTERED:
                filters_work_by_keyboard(page, phone)
            if path in TABLES:
                tables_fit(page, TABLES[path], phone)
    assert page.errors == []
    others = {urlsplit(request.url).netloc for request in page.requests if request.url.startswith("http")}
    assert others == {origin}


def test_the_admin_s_header_carries_the_same_menu(page, live_server, admin_user):
    responses: list = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    for width, height in SIZES:
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        no_sideways_scrolling(page)
        menu_works_by_keyboard(page, (width, height) in PHONES)
        expect(page.locator('.sections a[aria-current="page"]')).to_have_attribute(
            "data-section", "back-office"
        )
    missing = {urlsplit(response.url).path for response in responses if response.status >= 400}
    assert missing <= {"/favicon.ico"}  # the admin asks for one it does not have
    assert [error for error in page.errors if not error.startswith("Failed to load resource")] == []
