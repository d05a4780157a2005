"""The demo company's themes (insights.demo, run by seed_demo): the carrier's failed February shows."""

import calendar
import io
from datetime import date

import pytest
from django.core.management import call_command
from django.utils import timezone

from feedback.counts import Filters
from insights.figures import theme_figures
from insights.models import ResponseTheme, Theme
from surveys.models import Survey

pytestmark = pytest.mark.django_db


def test_the_demos_comments_have_themes_and_the_february_carrier_failure_rises(settings):
    settings.DEBUG = True  # the demo seeds only there
    call_command("seed_demo", contacts=800, responses=8000, stdout=io.StringIO())
    assert not Theme.objects.filter(matching_after__isnull=False).exists()  # all matched
    assert ResponseTheme.objects.values("theme").distinct().count() == Theme.objects.count()
    today = timezone.localdate()
    year = today.year if today.month > 2 else today.year - 1
    february = Filters(
        survey=Survey.objects.get(kind="nps"),
        since=date(year, 2, 1),
        until=date(year, 2, calendar.monthrange(year, 2)[1]),
    )
    figures = {row.theme.name: row for row in theme_figures(february)}
    delivery = figures["Lieferung"]
    assert delivery.change == 1  # significantly more of February's comments than of January's
    assert delivery.share.value > 2 * delivery.previous.value
    assert max(figures.values(), key=lambda row: row.impact.value or 0) is delivery
