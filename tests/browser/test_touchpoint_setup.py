"""A touchpoint set up in a real browser by keyboard alone, on a phone and a desktop, in German and
English: the day checkboxes and times become the send window the dispatcher reads, the delay its
seconds; the example request is copied with the keyboard. No horizontal scrolling, no other host."""

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from surveys import roles
from surveys.models import Touchpoint
from tests.factories import make_staff, make_survey, make_team

pytestmark = pytest.mark.django_db(transaction=True)

CONTROLS = "#touchpoint-form :is(input:not([type=hidden]), select, textarea, button)"


def sign_in(page, live_server, user, language: str) -> None:
    client = Client()
    client.force_login(user)
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    cookies[settings.LANGUAGE_COOKIE_NAME] = language
    page.context.add_cookies(
        [{"name": name, "value": value, "url": live_server.url} for name, value in cookies.items()]
    )


def focused(page) -> str:
    return page.evaluate("document.activeElement.id")


def tab_to(page, element_id: str, *, limit: int = 60) -> None:
    for _ in range(limit):
        if focused(page) == element_id:
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"#{element_id} is not reached with the Tab key")


def no_horizontal_scroll(page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def only_this_host(page, live_server) -> None:
    hosts = {request.url.split("/")[2] for request in page.requests if request.url.startswith("http")}
    assert hosts == {live_server.url.split("/")[2]}


@pytest.mark.parametrize("width", [390, 768, 1440])
@pytest.mark.parametrize("language", ["de", "en"])
def test_a_touchpoint_is_set_up_by_keyboard_with_days_and_times(page, live_server, width, language):
    survey = make_survey(name="Lieferung")
    manager = make_staff("manager", roles.CX_MANAGER)
    make_team("Service", surveys=[survey], members=[manager])
    sign_in(page, live_server, manager, language)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/setup/touchpoints/new/?survey={survey.pk}")
    expect(page.locator("html")).to_have_attribute("lang", language)
    no_horizontal_scroll(page)

    # Every control of the form is reached with the Tab key, in the order it is shown (a time field
    # takes a Tab for each of its parts).
    ids = page.locator(CONTROLS).evaluate_all("controls => controls.map(control => control.id)")
    page.locator("#id_name").focus()
    reached = [focused(page)]
    for _ in range(3 * len(ids)):
        page.keyboard.press("Tab")
        if focused(page) != reached[-1]:
            reached.append(focused(page))
        if len(reached) == len(ids):
            break
    assert reached == ids

    # Filled in and sent with the keyboard alone.
    page.locator("#id_name").focus()
    page.keyboard.type("Rücksendung erhalten")
    tab_to(page, "id_delay_amount")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    page.keyboard.press("Tab")
    assert focused(page) == "id_delay_unit"
    page.keyboard.press("ArrowUp")  # days → hours
    expect(page.locator("#id_delay_unit")).to_have_value("hours")
    tab_to(page, "id_send_days_4")
    page.keyboard.press("Space")  # no Friday
    page.keyboard.press("Tab")
    page.keyboard.press("Space")  # but Saturday
    tab_to(page, "id_send_start")
    page.keyboard.type("0830")
    tab_to(page, "id_send_end")
    page.keyboard.type("1245")
    expect(page.locator("#id_send_start")).to_have_value("08:30")
    expect(page.locator("#id_send_end")).to_have_value("12:45")
    tab_to(page, "submit-id-save")
    page.keyboard.press("Enter")

    page.wait_for_url(f"{live_server.url}/setup/touchpoints/*/")
    touchpoint = Touchpoint.objects.get()
    assert page.url == f"{live_server.url}/setup/touchpoints/{touchpoint.pk}/"
    assert touchpoint.slug == "rucksendung-erhalten"
    assert touchpoint.delay_seconds == 3 * 3600
    assert touchpoint.send_window == {"days": [0, 1, 2, 3, 5], "start": "08:30", "end": "12:45"}
    expect(page.locator(".notice")).to_contain_text("Rücksendung erhalten")
    # Shown back as it was chosen.
    expect(page.locator("#id_delay_amount")).to_have_value("3")
    expect(page.locator("#id_delay_unit")).to_have_value("hours")
    expect(page.locator("#id_send_days_4")).not_to_be_checked()
    expect(page.locator("#id_send_days_5")).to_be_checked()
    expect(page.locator("#event-example")).to_contain_text('"touchpoint": "rucksendung-erhalten"')
    no_horizontal_scroll(page)
    only_this_host(page, live_server)
    assert page.errors == []


@pytest.mark.parametrize("width", [390, 768, 1440])
@pytest.mark.parametrize("language", ["de", "en"])
def test_a_refused_window_is_explained_beside_its_field(page, live_server, width, language):
    survey = make_survey(name="Lieferung")
    manager = make_staff("manager", roles.CX_MANAGER)
    make_team("Service", surveys=[survey], members=[manager])
    sign_in(page, live_server, manager, language)
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/setup/touchpoints/new/?survey={survey.pk}")
    page.fill("#id_name", "Nachts")
    page.fill("#id_send_start", "22:00")
    page.fill("#id_send_end", "06:00")
    for day in range(5):
        page.uncheck(f"#id_send_days_{day}")
    page.click("#submit-id-save")

    expect(page.locator("#form-problem")).to_be_visible()
    expect(page.locator("#error_1_id_send_days")).to_be_visible()
    expect(page.locator("#id_send_end.is-invalid")).to_have_count(0)  # judged once a day is chosen
    page.check("#id_send_days_6")
    page.click("#submit-id-save")
    expect(page.locator("#error_1_id_send_end")).to_be_visible()
    expect(page.locator("#id_send_end")).to_have_class("timeinput form-control is-invalid")
    assert not Touchpoint.objects.exists()
    no_horizontal_scroll(page)
    only_this_host(page, live_server)


@pytest.mark.parametrize("width", [390, 768, 1440])
def test_the_example_request_is_copied_with_the_keyboard(page, live_server, width):
    survey = make_survey(name="Lieferung")
    manager = make_staff("manager", roles.CX_MANAGER)
    make_team("Service", surveys=[survey], members=[manager])
    touchpoint = Touchpoint.objects.create(survey=survey, name="Zugestellt", slug="delivered")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    sign_in(page, live_server, manager, "en")
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/setup/touchpoints/{touchpoint.pk}/")

    page.locator("#submit-id-save").focus()
    tab_to(page, "copy-event-example")
    page.keyboard.press("Enter")
    expect(page.locator("#copy-status")).not_to_be_empty()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#event-example").text_content()
    assert '"touchpoint": "delivered"' in copied and "/api/v1/events/" in copied
    no_horizontal_scroll(page)
    only_this_host(page, live_server)
    assert page.errors == []
