"""The filters in one line, the summary of the filter form that phones show closed."""

import pytest
from django.utils import translation

from feedback.templatetags.filter_summary import filter_summary
from feedback.views import Option
from tests.factories import make_survey, make_touchpoint
from tests.feedback.pages import by_id

pytestmark = pytest.mark.django_db


def options(chosen: set[str], *values: str) -> list[Option]:
    return [Option(value, value.capitalize(), value in chosen) for value in values]


CONTROLS = {
    "surveys": options({"nps"}, "nps", "csat"),
    "ranges": [Option("30d", "last 30 days", True), Option("custom", "custom", False)],
    "since": "2026-11-06",
    "until": "2026-12-05",
    "touchpoints": options({"checkout", "delivery"}, "checkout", "delivery", "returns"),
    "properties": [("property.region", "region", options({"nord"}, "nord", "süd"))],
    "tags": options({"late"}, "late", "damaged"),
}


@pytest.mark.parametrize(
    ("controls", "summary"),
    [
        (CONTROLS, ["Nps", "Last 30 days", "Touchpoints: Checkout, Delivery", "2 more filters"]),
        (
            {**CONTROLS, "touchpoints": options({"returns"}, "returns"), "properties": [], "tags": []},
            ["Nps", "Last 30 days", "Touchpoint: Returns"],
        ),
        (
            {**CONTROLS, "ranges": [Option("custom", "custom", True)], "touchpoints": [], "tags": []},
            ["Nps", "11/06/2026 – 12/05/2026", "1 more filter"],
        ),
        ("", []),  # the form without controls (no survey yet)
    ],
)
def test_the_summary_names_the_survey_the_period_the_touchpoints_and_counts_the_rest(controls, summary):
    with translation.override("en"):
        assert filter_summary(controls) == summary


def test_the_dashboard_and_the_comments_show_it_over_their_filters(manager_client, cx_manager):
    survey = make_survey(name="Lieferung")
    touchpoint = make_touchpoint(survey=survey, name="Checkout")
    for path in ("/dashboard/", "/verbatims/"):
        html = manager_client.get(f"{path}?survey={survey.pk}&touchpoint={touchpoint.pk}").content.decode()
        assert '<details class="filter-box" id="filter-box" data-open-wide open>' in html
        assert by_id(html, "filter-summary") == "Filters: Lieferung · Last 30 days · Touchpoint: Checkout"
