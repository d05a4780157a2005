"""The front door in a real browser on the demo data: a card per survey with its numbers and trend,
on a phone, a tablet and a desktop, in German and English, used with the keyboard alone."""

import io
import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings
from django.utils import timezone
from playwright.sync_api import expect

from feedback.home import PERIOD_DAYS
from surveys.models import Response, Survey
from tests.browser.conftest import sign_in

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(live_server):
    with override_settings(DEBUG=True):  # the demo user's public password, as in development
        call_command("seed_demo", contacts=300, responses=1500, stdout=io.StringIO())


def test_the_home_page_shows_every_survey_and_is_used_with_the_keyboard(page, live_server, demo):
    demo_user = get_user_model().objects.get(username="demo")
    since = timezone.localdate() - timedelta(days=PERIOD_DAYS - 1)
    surveys = list(Survey.objects.filter(active=True))
    assert surveys
    for width in (390, 768, 1440):
        for language in ("de", "en"):
            page.set_viewport_size({"width": width, "height": 900})
            sign_in(page, live_server, demo_user, language=language)
            page.goto(f"{live_server.url}/")
            expect(page.locator("html")).to_have_attribute("lang", language)

            for survey in surveys:
                card = page.locator(f"#survey-{survey.pk}")
                answered = Response.objects.filter(survey=survey, created_at__date__gte=since).count()
                expect(card).to_have_attribute("data-n", str(answered))
                if answered:
                    expect(card.locator(".value")).not_to_have_text("")
                    expect(card.locator("svg.sparkline polyline")).to_have_count(1)
                    expect(card.locator(".change")).to_have_attribute(
                        "data-significant", re.compile("^(true|false)$")
                    )

            scroll_width = page.evaluate("document.documentElement.scrollWidth")
            assert scroll_width <= page.evaluate("window.innerWidth"), (width, language)

    # From the top of the page, the Tab key reaches the first card's link, and Enter opens its
    # survey's dashboard.
    first = min(surveys, key=lambda survey: survey.name)
    page.goto(f"{live_server.url}/")
    target = page.locator(f"#survey-{first.pk}-name a")
    for _ in range(40):
        page.keyboard.press("Tab")
        if target.evaluate("link => link === document.activeElement"):
            break
    else:
        pytest.fail("The keyboard never reached the first survey's link.")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/dashboard/?survey={first.pk}")

    assert page.errors == []
    hosts = {request.url.split("/")[2] for request in page.requests if request.url.startswith("http")}
    assert hosts == {live_server.url.split("/")[2]}
