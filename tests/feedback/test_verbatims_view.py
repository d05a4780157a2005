"""The verbatim explorer: who may read it, what each row shows, the filters, paging and bad input."""

import re
from datetime import date
from html import unescape

import pytest

from feedback.views import VERBATIMS_PER_PAGE
from tests.factories import make_survey, make_touchpoint, take_away
from tests.feedback.pages import answer, by_id

pytestmark = pytest.mark.django_db

URL = "/verbatims/"
NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
XSS = '<img src=x onerror="alert(1)"><script>alert(2)</script> Lieferung kam spät'


@pytest.fixture
def survey():
    return make_survey(kind="nps", name="Weiterempfehlung")


@pytest.fixture
def answers(survey):
    """Five November answers, oldest first: four with a comment, one by email through "Lieferung"."""
    delivery = make_touchpoint(survey=survey, name="Lieferung")
    day = date(2026, 11, 10)
    answer(
        survey, 2, day, hour=8, comment=XSS, touchpoint=delivery, properties={"plan": "pro", "region": "DE"}
    )
    answer(survey, 9, day, hour=9, comment="Freundlicher Kundendienst", properties={"plan": "basic"})
    answer(survey, 7, day, hour=10)
    answer(survey, 10, day, hour=11, comment="Great value", language="en", properties={"plan": "basic"})
    answer(survey, 6, day, hour=12, comment="Die Lieferung war pünktlich, aber teuer")
    answer(survey, 0, date(2026, 10, 30), comment="Before the period")
    return survey


def rows(html: str) -> list[str]:
    """Each row's text, tags removed and whitespace collapsed."""
    listing = re.search(r'<ol class="verbatims explorer" id="verbatims">(.*?)</ol>', html, re.S)
    if listing is None:
        return []
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", row)).split())
        for row in re.findall(r"<li>(.*?)</li>", listing.group(1), re.S)
    ]


def explore(client, survey, **params):
    return client.get(URL, {"survey": survey.pk, **NOVEMBER, **params})


def explored(client, survey, **params) -> str:
    return explore(client, survey, **params).content.decode()


# Access


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    page = client.get(URL, {"q": "Lieferung"})
    assert page.status_code == 302
    assert page.url == "/login/?next=/verbatims/%3Fq%3DLieferung"


def test_staff_who_may_not_view_responses_are_refused(client, cx_manager):
    take_away(cx_manager, "view_response")
    client.force_login(cx_manager)
    assert client.get(URL).status_code == 403


def test_it_answers_only_get_under_the_pages_content_security_policy(manager_client, answers):
    assert manager_client.post(URL).status_code == 405
    page = explore(manager_client, answers)
    html = page.content.decode()
    assert page.status_code == 200
    assert "script-src 'self';" in page["Content-Security-Policy"]
    assert "<script>" not in html


# What a row shows


def test_comments_come_newest_first_with_their_context(manager_client, answers):
    html = explored(manager_client, answers)
    assert by_id(html, "results-title") == "4 answers"
    assert by_id(html, "results-range") == "1 to 4, newest first"
    found = rows(html)
    assert [row.split(" ")[0] for row in found] == ["6", "10", "9", "2"]
    assert found[0].startswith("6 Detractor Link and widget")
    assert "DE Die Lieferung war pünktlich, aber teuer" in found[0]
    assert "EN Great value plan basic" in found[1].replace("event property: ", "")
    assert found[3].startswith("2 Detractor Lieferung")
    assert found[3].endswith("plan pro region DE")  # the contact's properties


def test_comments_are_escaped(manager_client, answers):
    html = explored(manager_client, answers)
    assert XSS not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html


# Filters


def test_category_score_and_comment_filters(manager_client, answers):
    assert [row.split(" ")[0] for row in rows(explored(manager_client, answers, category="detractor"))] == [
        "6",
        "2",
    ]
    assert [row.split(" ")[0] for row in rows(explored(manager_client, answers, score="9"))] == ["9"]
    without = rows(explored(manager_client, answers, comment="without"))
    assert without == ["7 Passive Link and widget 11/10/2026 10 a.m. DE No comment"]
    assert len(rows(explored(manager_client, answers, comment="any"))) == 5


def test_the_dashboards_filters_apply(manager_client, answers):
    delivery = answers.touchpoints.get()
    assert len(rows(explored(manager_client, answers, touchpoint=delivery.pk))) == 1
    # "plan" is a property of only some answers: those without it are not matched.
    basic = rows(explored(manager_client, answers, **{"property.plan": "basic"}))
    assert [row.split(" ")[0] for row in basic] == ["10", "9"]
    html = explored(manager_client, answers, since="2026-10-01", until="2026-10-31")
    assert [row.split(" ")[0] for row in rows(html)] == ["0"]


def test_search_marks_the_matches(manager_client, answers):
    html = explored(manager_client, answers, q="Lieferung")
    assert by_id(html, "results-title") == "2 answers"
    assert html.count("<mark>Lieferung</mark>") == 2
    assert "&lt;script&gt;alert(2)&lt;/script&gt; <mark>Lieferung</mark> kam spät" in html
    assert 'value="Lieferung"' in html  # the search box keeps the text


def test_inflected_words_and_phrases_are_found_on_every_database(manager_client, answers):
    html = explored(manager_client, answers, q="Lieferungen")
    assert by_id(html, "results-title") == "2 answers"
    assert html.count("<mark>Lieferung</mark>") == 2
    html = explored(manager_client, answers, q='"lieferung war" teuer')
    assert by_id(html, "results-title") == "1 answer"
    assert "Die <mark>Lieferung war</mark> pünktlich, aber <mark>teuer</mark>" in html
    assert 'id="search-hint"' not in html


def test_filters_that_match_nothing(manager_client, answers):
    page = explore(manager_client, answers, score="3")
    html = page.content.decode()
    assert page.status_code == 200
    assert by_id(html, "results-title") == "0 answers"
    assert "No answers match these filters." in html
    assert 'id="search-hint"' not in html


def hint_items(html: str) -> list[str]:
    hint = re.search(r'<div class="no-data" id="search-hint">(.*?)</div>', html, re.S)
    assert hint, "no search hint"
    return [
        " ".join(unescape(re.sub(r"<[^>]+>", " ", item)).split())
        for item in re.findall(r"<li>(.*?)</li>", hint.group(1), re.S)
    ]


def test_a_search_that_finds_nothing_says_what_it_searched_for_and_what_to_try(manager_client, answers):
    html = explored(manager_client, answers, q="Kaffeemaschine")
    assert by_id(html, "results-title") == "0 answers"
    assert by_id(html, "search-hint").startswith("No comment matches “Kaffeemaschine”.")
    assert "No answers match these filters." not in html
    items = hint_items(html)
    assert [item.split(":")[0] for item in items] == ["Fewer words", "A longer period."]
    assert "a verb does not find its noun" in items[0]


def test_the_hint_names_the_quotes_and_every_filter_that_narrowed_the_search(manager_client, answers):
    delivery = answers.touchpoints.get()
    html = explored(
        manager_client,
        answers,
        q='"Lieferung kam spät" <b>',
        touchpoint=[delivery.pk, 0],
        category="detractor",
        score="2",
        **{"property.plan": "pro"},
    )
    assert by_id(html, "results-title") == "0 answers"
    assert "No comment matches “&quot;Lieferung kam spät&quot; &lt;b&gt;”." in html
    items = hint_items(html)
    assert [item.split(":")[0] for item in items] == [
        "Fewer words",
        "No quotation marks",
        "Fewer filters",
        "A longer period.",
    ]
    assert items[2] == (
        "Fewer filters: these narrow the answers too: Touchpoints: Lieferung, Link and widget; "
        "plan: pro; Category: Detractor; Score: 2."
    )


def test_the_hint_in_german(client, cx_manager, answers):
    client.force_login(cx_manager)
    query = {"survey": answers.pk, **NOVEMBER, "q": '"zu spät"', "comment": "without"}
    html = client.get(URL, query, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert "zu spät" in by_id(html, "search-hint")
    assert len(hint_items(html)) == 4  # words, quotes, the filter "without a comment", the period
    assert 'lang="de"' in html


def test_the_dashboard_with_the_same_filters_is_one_click_away(manager_client, answers):
    delivery = answers.touchpoints.get()
    html = explored(manager_client, answers, touchpoint=delivery.pk, range="90d", q="x")
    link = re.search(r'<a href="([^"]+)" id="to-dashboard">', html).group(1)
    assert unescape(link) == f"/dashboard/?survey={answers.pk}&touchpoint={delivery.pk}&range=90d"


# Paging


def test_pages_of_comments_keep_the_filters(manager_client, survey):
    for minute in range(VERBATIMS_PER_PAGE + 3):
        answer(
            survey,
            minute % 11,
            date(2026, 11, 1 + minute // 24),
            hour=minute % 24,
            comment=f"Kommentar {minute}",
        )
    html = explored(manager_client, survey, q="Kommentar")
    assert by_id(html, "results-range") == f"1 to {VERBATIMS_PER_PAGE}, newest first"
    assert rows(html)[0].endswith(f"Kommentar {VERBATIMS_PER_PAGE + 2}")
    older = re.search(r'<a href="\?([^"]+)" rel="next">', html).group(1)
    assert "q=Kommentar" in unescape(older)
    second = manager_client.get(URL + "?" + unescape(older)).content.decode()
    assert (
        by_id(second, "results-range")
        == f"{VERBATIMS_PER_PAGE + 1} to {VERBATIMS_PER_PAGE + 3}, newest first"
    )
    assert [row.split(" ")[-1] for row in rows(second)] == ["2", "1", "0"]
    assert 'rel="next"' not in second
    # A page number that is not one shows the first or the last page rather than an error.
    assert by_id(explored(manager_client, survey, page="x"), "results-range").startswith("1 to ")
    assert by_id(explored(manager_client, survey, page="99"), "results-range").startswith(
        f"{VERBATIMS_PER_PAGE + 1} to "
    )


# Bad input


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"category": "satisfied"}, "Category: This survey has no such category."),
        ({"score": "11"}, "Score: Scores of this survey run from 0 to 10."),
        ({"score": "ten"}, "Score: Enter a whole number."),
        ({"comment": "maybe"}, "Answers: Select a valid choice. maybe is not one of the available choices."),
        ({"q": "x" * 201}, "Search: Ensure this value has at most 200 characters (it has 201)."),
        ({"q": "a\x00b"}, "Search: Null characters are not allowed."),
        ({"since": "2026-12-01", "until": "2026-11-01"}, "The period must end after it starts."),
    ],
)
def test_bad_filters_show_the_form_with_the_error(manager_client, answers, params, message):
    page = explore(manager_client, answers, **params)
    html = page.content.decode()
    assert page.status_code == 400
    assert message in unescape(html)
    assert 'id="verbatims"' not in html


def test_a_new_installation_without_surveys_explains_itself(manager_client):
    page = manager_client.get(URL)
    assert page.status_code == 200
    assert "There is no survey yet." in page.content.decode()


def test_the_page_in_german(client, cx_manager, answers):
    client.force_login(cx_manager)
    html = client.get(URL, {"survey": answers.pk, **NOVEMBER}, HTTP_ACCEPT_LANGUAGE="de").content.decode()
    assert by_id(html, "results-title") == "4 Antworten"
    assert rows(html)[0].startswith("6 Kritiker Link und Widget")
