"""The tone in the verbatim explorer: beside the score, as a filter (disagreements above all), and
how far to trust it."""

import re
from datetime import date
from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from feedback.counts import Filters
from feedback.verbatims import VerbatimQuery, find_verbatims
from insights.models import ResponseTone, ToneLexicon
from tests.factories import make_survey
from tests.feedback.pages import answer, by_id

pytestmark = pytest.mark.django_db

URL = "/verbatims/"
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
DAY = date(2026, 11, 10)


@pytest.fixture
def client_en(client, cx_manager):
    client.force_login(cx_manager)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def survey():
    """Answers of each kind, oldest first, with their tones as the background work writes them:
    a 9 with a complaint, a 3 with praise, agreeing ones, a neutral one, and one without a tone yet."""
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    for hour, (score, comment, value) in enumerate(
        [
            (9, "Leider kaputt", -1.2),  # disagrees
            (3, "Fahrer sehr nett", 0.9),  # disagrees
            (2, "Kaputt und spät", -1.5),
            (10, "Alles prima", 1.4),
            (7, "Hotline besetzt", -0.8),  # a passive: agrees with nothing, disagrees with nothing
            (9, "Paket kam", 0.1),
            (1, "Noch ohne Tonfall", None),
        ]
    ):
        response = answer(survey, score, DAY, hour=8 + hour, comment=comment)
        if value is not None:
            ResponseTone.objects.create(response=response, value=value)
    return survey


def rows(html: str) -> list[str]:
    listing = re.search(r'<ol class="verbatims explorer" id="verbatims">(.*?)</ol>', html, re.S)
    if listing is None:
        return []
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in re.findall(r"<li>(.*?)</li>", listing.group(1), re.S)
    ]


def explored(client, survey, **params) -> str:
    page = client.get(URL, {"survey": survey.pk, **NOVEMBER, **params})
    assert page.status_code == 200
    return page.content.decode()


def scores(html: str) -> list[str]:
    return [row.split(" ")[0] for row in rows(html)]


def test_each_row_shows_its_tone_in_words_beside_the_score(client_en, survey):
    found = rows(explored(client_en, survey))
    assert found[0].startswith("1 Detractor Link and widget")  # no tone yet: nothing shown
    assert "tone" not in found[0]
    assert found[1].startswith("9 Promoter tone: neutral")
    assert found[5].startswith("3 Detractor tone: positive")
    assert found[6].startswith("9 Promoter tone: negative")


def test_the_tone_filter_finds_disagreements_and_each_tone(client_en, survey):
    assert scores(explored(client_en, survey, tone="disagree")) == ["3", "9"]
    assert scores(explored(client_en, survey, tone="negative")) == ["7", "2", "9"]
    assert scores(explored(client_en, survey, tone="positive")) == ["10", "3"]
    assert scores(explored(client_en, survey, tone="neutral")) == ["9"]
    assert len(rows(explored(client_en, survey))) == 7
    html = explored(client_en, survey, tone="disagree")
    assert '<option value="disagree" selected>Disagreeing with the score</option>' in html


def test_the_filter_combines_with_the_others_and_counts_in_the_database(survey):
    period = Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    disagreeing = find_verbatims(VerbatimQuery(period, tone="disagree", category="promoter"))
    assert [response.comment for response in disagreeing] == ["Leider kaputt"]
    assert not find_verbatims(VerbatimQuery(period, tone="disagree", text="Hotline")).exists()


def test_tones_cost_no_query_per_row(client_en, survey):
    explored(client_en, survey)  # what the page caches (the survey's properties) is cached
    with CaptureQueriesContext(connection) as few:
        explored(client_en, survey, tone="negative")
    with CaptureQueriesContext(connection) as many:
        explored(client_en, survey)
    assert len(many) == len(few)  # 7 rows, 6 with a tone, against 3


def test_the_agreement_on_held_out_answers_is_shown_so_nobody_trusts_it_blindly(client_en, survey):
    assert 'id="tone-agreement"' not in explored(client_en, survey)  # nothing learned yet
    ToneLexicon.objects.create(
        language="de", learned_at=survey.created_at, held_out=40, agreeing=30, neutral=6
    )
    ToneLexicon.objects.create(language="en", learned_at=survey.created_at)
    shown = by_id(explored(client_en, survey), "tone-agreement")
    assert (
        "Tone (DE), learned from the scored comments: agrees with the score on 75 % (60–86 %) of 40 "
        "held-out comments of the lowest and highest category; 15 % neutral." in shown
    )
    assert "Tone (EN): no held-out comments to check it on yet." in shown


def test_an_unknown_tone_is_refused_with_a_message(client_en, survey):
    page = client_en.get(URL, {"survey": survey.pk, **NOVEMBER, "tone": "angry"})
    assert page.status_code == 400
    assert "Tone: Select a valid choice. angry is not one of the available choices." in unescape(
        page.content.decode()
    )


def test_the_tone_in_german(client, cx_manager, survey):
    client.force_login(cx_manager)
    html = client.get(
        URL, {"survey": survey.pk, **NOVEMBER, "tone": "disagree"}, HTTP_ACCEPT_LANGUAGE="de"
    ).content.decode()
    assert scores(html) == ["3", "9"]
