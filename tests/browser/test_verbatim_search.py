"""Searching the comments on a phone: inflected words found and marked, and a search that finds
nothing saying what to try."""

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from surveys import roles
from tests.factories import make_staff, make_survey, make_touchpoint
from tests.feedback.pages import answer

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def survey():
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    delivery = make_touchpoint(survey=survey, name="Lieferung")
    day = timezone.localdate()
    answer(survey, 2, day, hour=8, comment="Die Lieferungen kamen <b>zu spät</b>", touchpoint=delivery)
    answer(survey, 3, day, hour=9, comment="Lieferung beschädigt")
    answer(survey, 9, day, hour=10, comment="Schnell und freundlich")
    make_staff("manager", roles.CX_MANAGER)
    return survey


def log_in(page, live_server, survey) -> None:
    page.goto(f"{live_server.url}/login/?next=/verbatims/?survey={survey.pk}")
    page.fill("#id_username", "manager")
    page.fill("#id_password", "manager-password")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"**/verbatims/?survey={survey.pk}")


def search(page, text: str) -> None:
    page.fill("#f-q", text)
    page.press("#f-q", "Enter")
    page.wait_for_url("**/verbatims/?*q=*")


def test_a_search_on_a_phone_finds_other_forms_and_explains_an_empty_result(page, live_server, survey):
    page.set_viewport_size(PHONE)
    log_in(page, live_server, survey)

    search(page, "Lieferung")
    expect(page.locator("#results-title")).to_have_text("2 answers")
    expect(page.locator("#verbatims mark")).to_have_text(["Lieferung", "Lieferungen"])  # newest first
    expect(page.locator("#verbatims blockquote").last).to_contain_text("<b>zu spät</b>")  # escaped

    # Inside a phrase, a word must be as typed; with a touchpoint ticked nothing is left. On a
    # phone the filters are one closed line until opened.
    page.click("#filter-box > summary")
    page.check(f"input[name=touchpoint][value='{survey.touchpoints.get().pk}']")
    search(page, '"Lieferung kam" <i>')
    expect(page.locator("#results-title")).to_have_text("0 answers")
    hint = page.locator("#search-hint")
    expect(hint).to_be_visible()
    expect(hint.locator("p").first).to_have_text(
        'No comment matches “"Lieferung kam" <i>”. You could search with:'
    )
    expect(hint.locator("li")).to_have_count(4)
    expect(hint.locator("li").nth(2)).to_contain_text("Touchpoints: Lieferung")
    box = hint.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert page.locator("#f-q").input_value() == '"Lieferung kam" <i>'  # the text stays to be changed
    assert page.errors == []
    assert [r.url for r in page.requests if not r.url.startswith(live_server.url)] == []
