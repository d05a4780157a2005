"""The dashboard's insights panel in a real browser: its link opens the Insights page under the
dashboard's filters, where the same theme shows with the same share."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from insights import themes
from insights.models import Theme
from surveys import roles
from tests.browser.conftest import sign_in
from tests.browser.test_small_screens import no_sideways_scrolling
from tests.factories import make_staff, make_survey, make_touchpoint
from tests.feedback.pages import answer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def survey():
    """At the delivery touchpoint, 3 of 4 comments are of deliveries; by link, 1 of 4."""
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    delivery = make_touchpoint(survey=survey, name="Zustellung")
    day = timezone.localdate() - timedelta(days=1)
    late, kind = (2, "Lieferung zu spät"), (10, "Freundliche Beratung")
    for hour in range(8):
        score, comment = late if hour % 4 else kind
        answer(survey, score, day, hour=hour, comment=comment, touchpoint=delivery)
        score, comment = kind if hour % 4 else late
        answer(survey, score, day, hour=hour, comment=comment)
    theme = Theme.objects.create(name="Lieferung", include="liefer*")
    now = timezone.now()
    themes.start_matching(theme, now=now)
    while themes.match_again(now=now):
        pass
    return survey


@pytest.mark.parametrize("width", [390, 1440])
def test_the_panels_link_opens_the_insights_page_with_the_same_filters(page, live_server, survey, width):
    delivery = survey.touchpoints.get()
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, live_server, make_staff("manager", roles.CX_MANAGER), language="en")
    page.goto(f"{live_server.url}/dashboard/?survey={survey.pk}&range=30d&touchpoint={delivery.pk}")

    row = page.locator('#insights-themes tr[data-theme="Lieferung"]')
    expect(row).to_contain_text("75.0 %")  # 6 of the touchpoint's 8 comments
    no_sideways_scrolling(page)

    page.locator("#to-insights").click()
    page.wait_for_url("**/insights/?*")
    assert parse_qs(urlsplit(page.url).query) == {
        "survey": [str(survey.pk)],
        "range": ["30d"],
        "touchpoint": [str(delivery.pk)],
    }
    expect(page.locator(f'input[name="touchpoint"][value="{delivery.pk}"]')).to_be_checked()
    expect(page.locator('#theme-figures tr[data-theme="Lieferung"]')).to_contain_text("75.0 %")
    no_sideways_scrolling(page)
    assert page.errors == []
