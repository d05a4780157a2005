"""The insights page: who may see it, the terms of each side with their numbers, the links to the
comments behind each term, the empty states and bad filters."""

import re
from datetime import date, timedelta
from html import unescape
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.utils import timezone

from feedback.counts import Filters
from insights import themes
from insights.compare import against_previous_period, lowest_against_highest
from insights.counts import Group
from insights.models import ResponseTone, Theme, ToneLexicon
from surveys import roles
from surveys.models import Response
from surveys.terms import comment_ngrams
from tests.factories import make_staff, make_survey, make_team, take_away
from tests.feedback.pages import answer, by_id

pytestmark = pytest.mark.django_db

URL = "/insights/"
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
DAY = date(2026, 11, 10)
# The session, the user, the filters' choices and the two comparisons' counts, one each (13); the
# themes (1: without any, no figures are counted); the suggestions (the themes' rules: 1; they weigh
# the page's count of detractors and promoters again); the tone's lexicons (1) and, once one is
# learned, the disagreements (1 more). Each comparison sums its terms in a transaction of its own:
# a savepoint and its release within the test's transaction, and on PostgreSQL its settings. On
# PostgreSQL the comparison of detractors and promoters, of one period, also reads the last day
# rolled up into months.
SUMMING = 3 if connection.vendor == "postgresql" else 2
ROLLED = 1 if connection.vendor == "postgresql" else 0
QUERIES = 16 + 2 * SUMMING + ROLLED
THEMES_FIGURES = 7  # each period's themed answers and comments, the answers, and each week's of the trend


def term_of(word: str, language: str = "de") -> str:
    (term,) = comment_ngrams(word, language)
    return term


def comments(survey, score, comment, count, *, day=DAY):
    for hour in range(count):
        answer(survey, score, day + timedelta(days=hour // 12), hour=8 + hour % 12, comment=comment)


@pytest.fixture(autouse=True)
def _english(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"


@pytest.fixture
def survey():
    """Detractors write of delays, promoters of friendliness; last month's answers of invoices."""
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    comments(survey, 2, "Verspätung", 12)
    comments(survey, 10, "Freundlichkeit", 12)
    comments(survey, 3, "Rechnung", 12, day=date(2026, 10, 10))
    return survey


@pytest.fixture
def manager_client(client, cx_manager):
    client.force_login(cx_manager)
    return client


def look(client, survey, **params):
    return client.get(URL, {"survey": survey.pk, **NOVEMBER, **params})


def table_rows(html: str, side_id: str) -> list[list[str]]:
    """The cells of each row of a side's table, as text."""
    side = re.search(rf'<div class="side" id="{side_id}">(.*?)</table>', html, re.S)
    if side is None:
        return []
    return [
        [
            " ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
        ]
        for row in re.findall(r"<tr data-term[^>]*>(.*?)</tr>", side.group(1), re.S)
    ]


def term_link(html: str, term: str) -> dict[str, list[str]]:
    match = re.search(rf'<tr data-term="{re.escape(term)}">\s*<th[^>]*><a href="/verbatims/\?([^"]+)"', html)
    assert match, f"no link for {term}"
    return parse_qs(unescape(match.group(1)))


# Access


def test_anonymous_visitors_are_sent_to_the_login(client, survey):
    page = look(client, survey)
    assert page.status_code == 302
    assert page.url.startswith("/login/?next=/insights/")


def test_staff_without_a_role_are_refused(client, outsider, survey):
    client.force_login(outsider)
    assert look(client, survey).status_code == 403


def test_staff_who_may_not_read_answers_are_refused(client, cx_manager, survey):
    take_away(cx_manager, "view_response")
    client.force_login(cx_manager)
    assert look(client, survey).status_code == 403


def test_another_teams_survey_is_not_found_and_not_offered(client, survey):
    own = make_survey(kind="nps", name="Eigene Umfrage")
    reader = make_staff("reader", roles.ANALYST)
    make_team("A", surveys=[own], members=[reader])
    make_team("B", surveys=[survey])
    client.force_login(reader)
    assert look(client, survey).status_code == 404
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Eigene Umfrage" in html and "Weiterempfehlung" not in html


def test_it_answers_only_get_under_the_pages_content_security_policy(manager_client, survey):
    assert manager_client.post(URL).status_code == 405
    page = look(manager_client, survey)
    assert page.status_code == 200
    assert "script-src 'self';" in page["Content-Security-Policy"]


def test_the_navigation_leads_readers_to_it(manager_client, survey):
    html = look(manager_client, survey).content.decode()
    assert re.search(r'<a href="/insights/"[^>]*aria-current="page"', html)


# What it shows


def test_the_terms_that_set_detractors_apart_from_promoters(manager_client, survey):
    late, kind = term_of("Verspätung"), term_of("Freundlichkeit")
    html = look(manager_client, survey).content.decode()
    assert by_id(html, "categories-title") == "What sets detractors apart from promoters"
    expected = lowest_against_highest(Filters(survey, date(2026, 11, 1), date(2026, 11, 30)))
    (score,) = [score for score in expected.terms.a if score.term == late]
    assert table_rows(html, "categories-a") == [
        [late, "12 (100 %)", "0 (0 %)", f"+{score.z:.1f}"],
    ]
    assert [row[0] for row in table_rows(html, "categories-b")] == [kind]
    assert table_rows(html, "categories-b")[0][3].startswith("−")  # a true minus
    assert by_id(html, "categories-comments") == "Comments with terms: Detractors 12, Promoters 12."


def test_each_term_links_to_the_comments_of_its_side_with_it(manager_client, survey):
    late, kind = term_of("Verspätung"), term_of("Freundlichkeit")
    html = look(manager_client, survey, range="").content.decode()
    assert term_link(html, late) == {
        "survey": [str(survey.pk)],
        "since": ["2026-11-01"],
        "until": ["2026-11-30"],
        "category": ["detractor"],
        "term": [late],
    }
    assert term_link(html, kind)["category"] == ["promoter"]


def test_what_is_new_rises_against_the_previous_period_and_links_to_it(manager_client, survey):
    late, invoice = term_of("Verspätung"), term_of("Rechnung")
    html = look(manager_client, survey).content.decode()
    expected = against_previous_period(Group(Filters(survey, date(2026, 11, 1), date(2026, 11, 30))))
    assert [row[0] for row in table_rows(html, "periods-a")] == [score.term for score in expected.terms.a]
    assert late in [row[0] for row in table_rows(html, "periods-a")]
    assert [row[0] for row in table_rows(html, "periods-b")] == [invoice]
    assert table_rows(html, "periods-b")[0][1:3] == ["0 (0 %)", "12 (100 %)"]
    link = term_link(html, invoice)
    assert (link["since"], link["until"], link["term"]) == (["2026-10-02"], ["2026-10-31"], [invoice])
    assert "category" not in link


def test_csat_names_its_own_categories(manager_client):
    survey = make_survey(kind="csat", name="Zufriedenheit")
    comments(survey, 1, "Wartezeit", 6)
    comments(survey, 5, "Beratung", 6)
    html = look(manager_client, survey).content.decode()
    assert by_id(html, "categories-title") == "What sets dissatisfied apart from satisfied"
    assert term_link(html, term_of("Wartezeit"))["category"] == ["dissatisfied"]


def test_too_few_comments_say_so(manager_client):
    survey = make_survey(kind="nps")
    comments(survey, 2, "Verspätung", 4)
    comments(survey, 10, "Freundlichkeit", 12)
    html = look(manager_client, survey).content.decode()
    assert by_id(html, "categories-too-few").startswith("Too few comments to tell")
    assert 'id="categories-a"' not in html


def test_a_language_without_comments_leaves_nothing_to_compare(manager_client, survey):
    html = look(manager_client, survey, language="en").content.decode()
    assert by_id(html, "categories-comments") == "Comments with terms: Detractors 0, Promoters 0."
    assert 'id="categories-too-few"' in html


def test_z_is_explained_in_plain_words(manager_client, survey):
    html = look(manager_client, survey).content.decode()
    explained = by_id(html, "z-explained")
    assert explained.startswith("What do these numbers mean?")
    assert "z says how clearly a term belongs to one group rather than the other" in explained
    assert "at least 5 comments" in explained


def test_the_page_in_german(client, cx_manager, survey):
    client.force_login(cx_manager)
    page = client.get(URL, {"survey": survey.pk, **NOVEMBER}, HTTP_ACCEPT_LANGUAGE="de")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<html lang="de">' in html
    assert table_rows(html, "categories-a")[0][0] == term_of("Verspätung")


# Bad filters


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "gestern"}, "From: Enter a valid date."),
        ({"language": "fr"}, "Language: Select a valid choice. fr is not one of the available choices."),
        ({"since": "2026-12-01", "until": "2026-11-01"}, "The period must end after it starts."),
    ],
)
def test_bad_filters_are_refused_with_a_message(manager_client, survey, params, message):
    page = look(manager_client, survey, **params)
    assert page.status_code == 400
    assert message in unescape(page.content.decode())


def test_the_page_takes_a_fixed_number_of_queries(manager_client, survey, django_assert_num_queries):
    look(manager_client, survey)  # the session and the user are read once per request; warm the rest
    with django_assert_num_queries(QUERIES):
        assert look(manager_client, survey).status_code == 200
    comments(survey, 2, "Lange Wartezeit am Telefon", 30)
    with django_assert_num_queries(QUERIES):
        assert look(manager_client, survey).status_code == 200
    Theme.objects.create(name="Warten", include="warte*")
    with django_assert_num_queries(QUERIES + THEMES_FIGURES):
        assert look(manager_client, survey).status_code == 200


def test_the_themes_costliest_first_link_to_their_unhappy_answers_and_suggestions_follow(
    manager_client, survey
):
    comments(survey, 2, "Ewig in der Warteschleife", 30)
    comments(survey, 1, "Lieferung kaputt", 10)
    comments(survey, 9, "Lieferung pünktlich", 5)
    comments(survey, 10, "Sehr freundliche Beratung", 60)  # enough praise to tell the complaints apart
    comments(survey, 2, "Lieferung wieder zu spät", 4, day=date(2026, 11, 24))  # all of a later week's
    theme = Theme.objects.create(name="Lieferung", include="liefer*")
    themes.start_matching(theme, now=timezone.now())
    while themes.match_again(now=timezone.now()):
        pass
    html = look(manager_client, survey).content.decode()
    rows = re.findall(r'<tr data-theme="([^"]+)">', html)
    assert rows == ["Lieferung"]
    link = unescape(re.search(r'<tr data-theme="Lieferung">.*?href="([^"]+)"', html, re.S).group(1))
    page = manager_client.get(link)
    assert page.status_code == 200
    expected = Response.objects.filter(survey=survey, themes__theme=theme).in_category("detractor").count()
    assert expected and len(re.findall(r'<span class="score[^"]*">', page.content.decode())) == expected
    # Week by week: November touches six weeks (from Monday 26 October), 24 px apart; the third and
    # the fifth have comments, the fifth's all about deliveries (at the top of the line).
    trend = re.search(r'<tr data-theme="Lieferung">.*?<polyline points="([^"]+)"', html, re.S).group(1)
    points = [tuple(float(number) for number in point.split(",")) for point in trend.split()]
    assert [x for x, _y in points] == [48.0, 96.0] and points[1][1] == 0.0 < points[0][1]
    suggested = re.search(r"<div id=\"suggested-themes\">(.*?)</div>", html, re.S).group(1)
    assert "warteschleife" in suggested
    assert "make a theme" in suggested  # a CX manager may define one


# Tone


def toned(survey, score, comment, tone, *, hour, day=DAY, language="de"):
    response = answer(survey, score, day, hour=hour, comment=comment, language=language)
    ResponseTone.objects.create(response=response, value=tone)
    return response


def disagreement_rows(html: str) -> list[str]:
    listing = re.search(r'<ol class="verbatims" id="disagreement-list">(.*?)</ol>', html, re.S)
    assert listing, "no disagreements"
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in re.findall(r"<li>(.*?)</li>", listing.group(1), re.S)
    ]


def test_without_a_learned_tone_the_page_says_so_instead_of_disagreements(manager_client, survey):
    html = look(manager_client, survey).content.decode()
    assert by_id(html, "no-tone").startswith("No tone has been learned yet")
    assert 'id="disagreement-list"' not in html and 'id="tone-agreement"' not in html


def test_the_strongest_disagreements_of_the_period_show_with_the_tones_agreement(
    manager_client, survey, django_assert_num_queries
):
    ToneLexicon.objects.create(language="de", learned_at=timezone.now(), held_out=40, agreeing=30, neutral=6)
    toned(survey, 9, "Leider kaputt", -1.2, hour=8)
    toned(survey, 3, "Fahrer sehr nett", 2.5, hour=9)
    toned(survey, 10, "Kaputt, aber gut", -0.6, hour=10)
    for hour in range(11, 17):
        toned(survey, 1, "Nett, aber zu spät", 0.7 + hour / 100, hour=hour)
    toned(survey, 2, "Kaputt und spät", -1.5, hour=17)  # agrees
    toned(survey, 10, "Alles prima", 1.4, hour=18)  # agrees
    toned(survey, 7, "Hotline besetzt", -2.8, hour=19)  # a passive disagrees with nothing
    toned(survey, 9, "Im Oktober kaputt", -3.0, hour=12, day=date(2026, 10, 20))  # another period
    look(manager_client, survey)
    with django_assert_num_queries(QUERIES + 1):
        html = look(manager_client, survey).content.decode()
    assert "agrees with the score on 75 % (60–86 %) of 40 held-out comments" in by_id(html, "tone-agreement")
    assert [" ".join(row.split(" ")[:5]) for row in disagreement_rows(html)] == [
        "3 Detractor tone: positive 11/10/2026",
        "9 Promoter tone: negative 11/10/2026",
        "1 Detractor tone: positive 11/10/2026",  # 0.86, at 16:00
        "1 Detractor tone: positive 11/10/2026",  # 0.85, at 15:00
        "1 Detractor tone: positive 11/10/2026",
    ]
    assert disagreement_rows(html)[0].endswith("Fahrer sehr nett")
    link = re.search(r'<a id="all-disagreements" href="/verbatims/\?([^"]+)"', html)
    assert link
    assert parse_qs(unescape(link.group(1))) == {
        "survey": [str(survey.pk)],
        "since": ["2026-11-01"],
        "until": ["2026-11-30"],
        "tone": ["disagree"],
    }


def test_the_disagreements_follow_the_language_filter(manager_client, survey):
    ToneLexicon.objects.create(language="de", learned_at=timezone.now())
    toned(survey, 9, "Leider kaputt", -1.2, hour=8)
    toned(survey, 9, "Broken, sadly", -1.1, hour=9, language="en")
    rows = disagreement_rows(look(manager_client, survey, language="en").content.decode())
    assert len(rows) == 1 and rows[0].endswith("Broken, sadly")
    december = {"since": "2026-12-01", "until": "2026-12-31"}
    html = look(manager_client, survey, language="de", **december).content.decode()
    assert by_id(html, "no-disagreements") == "No comment of this period disagrees with its score."
