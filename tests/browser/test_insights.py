"""The insights page in a real browser, on a phone and a desktop, in German and English: a term
planted in the detractors' comments stands out, and its link opens exactly the comments with it."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from surveys import roles
from surveys.models import Response
from surveys.terms import comment_ngrams
from tests.browser.conftest import sign_in
from tests.browser.test_small_screens import no_sideways_scrolling
from tests.factories import make_staff, make_survey
from tests.feedback.pages import answer

pytestmark = pytest.mark.django_db(transaction=True)

PLANTED = "Wartezeit"
# Until the German catalogue has the page's texts, the German heading shows its German category names.
HEADINGS = {"en": "What sets detractors apart from promoters", "de": "Kritiker.*Promotoren"}


@pytest.fixture
def survey():
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    day = timezone.localdate() - timedelta(days=1)
    for hour in range(16):
        answer(survey, 2, day, hour=hour, comment=f"{PLANTED}!" if hour % 2 else f"{PLANTED}?")
        answer(survey, 10, day, hour=hour, comment="Freundliche Beratung")
    answer(survey, 8, day, hour=16, comment=PLANTED)  # a passive's: not among the detractors' comments
    answer(survey, 3, day, hour=17, comment="Rechnung <b>falsch</b>")
    answer(survey, 2, day, hour=18, comment=PLANTED)  # a detractor's, without the others' words
    return survey


@pytest.mark.parametrize("width", [390, 1440])
@pytest.mark.parametrize("language", ["en", "de"])
def test_a_planted_term_leads_to_exactly_its_comments(page, live_server, survey, width, language):
    (term,) = comment_ngrams(PLANTED, "de")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, make_staff("manager", roles.CX_MANAGER), language=language)
    page.goto(f"{live_server.url}/insights/?survey={survey.pk}")

    expect(page.locator("#categories-title")).to_have_text(re.compile(HEADINGS[language]))
    row = page.locator(f'#categories-a tr[data-term="{term}"]')
    expect(row).to_be_visible()
    no_sideways_scrolling(page)

    row.get_by_role("link", name=term).click()
    page.wait_for_url("**/verbatims/?*")
    expected = sorted(
        response.comment
        for response in Response.objects.filter(survey=survey).in_category("detractor")
        if term in response.comment_ngrams
    )
    assert len(expected) == 17
    shown = page.locator("#verbatims blockquote").all_inner_texts()
    assert sorted(shown) == expected
    expect(page.locator("#term-filter")).to_contain_text(term)  # quoted as the language quotes
    no_sideways_scrolling(page)
    assert page.errors == []
    assert [r.url for r in page.requests if not r.url.startswith(live_server.url)] == []
