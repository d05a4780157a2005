"""The demo company's themes and tone (insights.demo, run by seed_demo): the carrier's failed
February shows, and the tone learned from the demo's comments agrees with their scores."""

import calendar
import io
from datetime import date

import pytest
from django.core.management import call_command
from django.utils import timezone

from feedback.counts import Filters
from insights.figures import theme_figures
from insights.models import ResponseTheme, ResponseTone, Theme, ToneLexicon
from insights.tone import agreement, disagreements
from surveys.models import Response, Survey

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


def test_the_demos_comments_have_a_tone_that_mostly_agrees_with_their_score(settings):
    settings.DEBUG = True
    call_command("seed_demo", contacts=300, responses=3000, stdout=io.StringIO())
    assert not ToneLexicon.objects.filter(toning_after__isnull=False).exists()  # all toned
    commented = Response.objects.exclude(comment_ngrams=[])
    assert ResponseTone.objects.count() == commented.count()
    german, english = (agreement(lexicon) for lexicon in ToneLexicon.objects.order_by("language"))
    # The demo's comments are built from sentences in the tone of their score: the tone learned
    # from them agrees on nearly all held-out German comments; the English ones are fewer, so
    # fewer of their terms are significant and more comments stay neutral.
    assert german.n >= 100
    assert german.share is not None and german.share >= 90
    assert german.interval is not None and german.interval[0] >= 80
    assert english.n >= 20
    assert english.share is not None and english.neutral is not None
    assert english.share + english.neutral >= 90  # a neutral tone, rarely a contradicting one
    # Disagreements are few: sentences of praise that share words with complaints.
    assert disagreements(Response.objects.all()).count() < commented.count() / 50
