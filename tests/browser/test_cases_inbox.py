"""Triage of the cases inbox by keyboard in a real browser: j/k move, x selects, a goes to the
assignment, the selected cases are assigned, o opens a case, ? shows the keys."""

import pytest
from playwright.sync_api import expect

from followup.models import Case
from surveys import roles
from tests.factories import make_staff, make_survey, make_team
from tests.followup.conftest import answer, case_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def inbox():
    survey = make_survey(name="Lieferung")
    agent = make_staff("agnes", roles.AGENT)
    colleague = make_staff("bert", roles.AGENT)
    make_team("Service", surveys=[survey], members=[agent, colleague])
    cases = [
        case_for(answer(survey, score, f"Kommentar {score}"), hours=hours)
        for score, hours in ((1, 1), (2, 2), (3, 3))
    ]
    return cases, colleague


def log_in(page, live_server):
    page.goto(f"{live_server.url}/login/?next=/cases/")
    page.fill("#id_username", "agnes")
    page.fill("#id_password", "agnes-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/cases/")


def current(page) -> str:
    return page.evaluate("document.activeElement.getAttribute('data-case')")


def test_cases_are_triaged_by_keyboard_alone(page, live_server, inbox):
    cases, colleague = inbox
    first, second, third = (str(case.public_id) for case in cases)
    log_in(page, live_server)

    page.keyboard.press("j")
    assert current(page) == first
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert current(page) == third
    page.keyboard.press("k")
    assert current(page) == second
    page.keyboard.press("x")
    page.keyboard.press("k")
    page.keyboard.press("x")
    expect(page.locator("[data-selected]")).to_have_text("2")
    expect(page.locator(f'tr[data-case="{first}"]')).to_have_attribute("aria-selected", "true")
    expect(page.locator(f'tr[data-case="{third}"]')).to_have_attribute("aria-selected", "false")

    page.keyboard.press("a")
    expect(page.locator("#bulk-assignee")).to_be_focused()
    page.select_option("#bulk-assignee", str(colleague.pk))
    page.click("#bulk-submit")
    page.wait_for_url(f"{live_server.url}/cases/")

    assert set(Case.objects.filter(assignee=colleague).values_list("pk", flat=True)) == {
        cases[0].pk,
        cases[1].pk,
    }
    assert Case.objects.get(pk=cases[2].pk).assignee is None

    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("o")
    page.wait_for_url(f"{live_server.url}/cases/{second}/")
    expect(page.locator("#answer-comment")).to_contain_text("Kommentar 2")
    assert page.errors == []


def test_question_mark_shows_the_keys_and_enter_opens_the_focused_case(page, live_server, inbox):
    cases, _colleague = inbox
    log_in(page, live_server)

    page.keyboard.press("?")
    expect(page.locator("#keys-help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#keys-help")).to_be_hidden()
    page.keyboard.press("j")
    expect(page.locator(f'tr[data-case="{cases[0].public_id}"]')).to_be_focused()
    page.keyboard.press("Enter")

    page.wait_for_url(f"{live_server.url}/cases/{cases[0].public_id}/")
    assert page.errors == []
