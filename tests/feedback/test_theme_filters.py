"""Themes filter the dashboard and the explorer and break the dashboard down, as tags do: for a
theme, the numbers a hand count of its answers gives."""

import re
from collections import Counter
from datetime import date

import pytest

from feedback import counts
from feedback.counts import Filters
from insights import themes
from insights.models import ResponseTone, Theme
from tests.factories import make_api_token, make_survey
from tests.feedback.pages import answer, by_id
from tests.feedback.test_tag_filters import api, nps, table_rows

pytestmark = pytest.mark.django_db

NOVEMBER = {"since": "2026-11-01", "until": "2026-11-30"}
ANSWERS = [
    (10, "Lieferung pünktlich"),
    (3, "Lieferung zu spät"),
    (0, "Lieferung kaputt, Preis zu hoch"),
    (8, "Preis fair"),
    (10, "Alles bestens"),
    (1, ""),
]


def scores_with(*words: str) -> list[int]:
    return [score for score, comment in ANSWERS if any(word in comment for word in words)]


@pytest.fixture
def survey():
    survey = make_survey(kind="nps", name="Weiterempfehlung")
    for number, (score, comment) in enumerate(ANSWERS):
        answer(survey, score, date(2026, 11, 2 + number), comment=comment)
    for name, rules in (("Lieferung", "liefer*"), ("Preis", "preis*"), ("Hotline", "hotline")):
        themes.start_matching(Theme.objects.create(name=name, include=rules), now=survey.created_at)
    while themes.match_again(now=survey.created_at):
        pass
    return survey


def theme_ids(*names: str) -> tuple[int, ...]:
    return tuple(sorted(Theme.objects.filter(name__in=names).values_list("pk", flat=True)))


def test_a_theme_counts_the_answers_whose_comment_has_it(survey):
    chosen = Filters(
        survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30), themes=theme_ids("Preis")
    )
    assert counts.panels(chosen, "day").histogram == Counter(scores_with("Preis"))
    assert counts.histograms_by_theme(
        Filters(survey=survey, since=date(2026, 11, 1), until=date(2026, 11, 30))
    ) == {
        (Theme.objects.get(name="Lieferung").pk, "Lieferung"): Counter(scores_with("Lieferung")),
        (Theme.objects.get(name="Preis").pk, "Preis"): Counter(scores_with("Preis")),
    }


def test_the_dashboard_filters_and_breaks_down_by_theme(manager_client, survey):
    page = manager_client.get("/dashboard/", {"survey": survey.pk, **NOVEMBER, "theme": "Lieferung"})
    assert page.status_code == 200
    html = page.content.decode()
    chosen = scores_with("Lieferung")
    assert by_id(html, "headline-n") == str(len(chosen))
    assert by_id(html, "headline-value") == f"{nps(chosen):.1f}"
    assert "ignores the theme filter" in by_id(html, "headline-rate-ignores")
    assert re.findall(r'<input type="checkbox" name="theme" value="([^"]+)" checked>', html) == ["Lieferung"]
    assert "theme=Lieferung" in html  # the explorer's link keeps it
    everything = manager_client.get("/dashboard/", {"survey": survey.pk, **NOVEMBER}).content.decode()
    rows = table_rows(everything, "theme-table")
    # Overall NPS −16.7; Preis (0, 8): −50 on a third of the answers pulls by −11.1, Lieferung
    # (10, 3, 0): −33.3 on half of them by −8.3. The biggest problem comes first.
    assert [row[0].split()[0] for row in rows] == ["Preis", "Lieferung"]
    assert rows[1][3] == str(len(chosen))


def test_the_explorer_lists_the_comments_with_a_theme(manager_client, survey):
    html = manager_client.get(
        "/verbatims/", {"survey": survey.pk, **NOVEMBER, "theme": "Preis"}
    ).content.decode()
    assert re.findall(r'<span class="score[^"]*">(\d+)</span>', html) == ["8", "0"]  # newest first


def test_an_unknown_theme_is_refused_by_name(manager_client, survey):
    for url in ("/dashboard/", "/verbatims/"):
        page = manager_client.get(url, {"survey": survey.pk, "theme": "Unbekannt"})
        assert page.status_code == 400
        assert "There is no theme “Unbekannt”." in page.content.decode()


def test_the_metrics_api_filters_by_theme(client, cx_manager, survey):
    token = make_api_token(user=cx_manager)
    params = {"survey": survey.pk, **NOVEMBER}
    figures = api(client, "/api/v1/metrics/", token, **params, theme="Lieferung").json()
    assert (figures["responses"], figures["nps"]) == (3, nps(scores_with("Lieferung")))
    refused = api(client, "/api/v1/metrics/", token, **params, theme="Unbekannt")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"theme": ["There is no theme “Unbekannt”."]}


def test_the_responses_api_filters_by_theme_and_lists_themes_and_tone(client, cx_manager, survey):
    token = make_api_token(user=cx_manager)
    url = "/api/v1/responses/"
    late = survey.responses.get(comment="Lieferung kaputt, Preis zu hoch")
    ResponseTone.objects.create(response=late, value=-1.25)
    page = api(client, url, token, survey=survey.pk, theme=["Preis", "Hotline"])
    assert page.status_code == 200
    results = {result["comment"]: result for result in page.json()["results"]}
    assert sorted(result["score"] for result in results.values()) == sorted(scores_with("Preis"))
    chosen = results["Lieferung kaputt, Preis zu hoch"]
    assert (chosen["themes"], chosen["tone"], chosen["tone_value"]) == (
        ["Lieferung", "Preis"],
        "negative",
        -1.25,
    )
    assert (results["Preis fair"]["themes"], results["Preis fair"]["tone"]) == (["Preis"], None)
    one = api(client, f"{url}{late.public_id}/", token).json()
    assert (one["themes"], one["tone"]) == (["Lieferung", "Preis"], "negative")


def test_a_page_of_responses_reads_themes_and_tones_in_one_query(
    client, cx_manager, survey, django_assert_num_queries, django_assert_max_num_queries
):
    """The token, the user's surveys and permissions, the page, its tags, its themes: as many for
    one answer as for all six."""
    token = make_api_token(user=cx_manager)
    url = "/api/v1/responses/"
    for found in survey.responses.all():
        ResponseTone.objects.create(response=found, value=0.75)
    api(client, url, token, survey=survey.pk, limit=1)  # the token's first use is noted once
    with django_assert_max_num_queries(12) as one:
        assert len(api(client, url, token, survey=survey.pk, limit=1).json()["results"]) == 1
    with django_assert_num_queries(len(one.captured_queries)) as all_six:
        results = api(client, url, token, survey=survey.pk).json()["results"]
    assert len(results) == 6 and {result["tone"] for result in results} == {"positive"}
    themes_read = [
        query["sql"] for query in all_six.captured_queries if "insights_responsetheme" in query["sql"]
    ]
    assert len(themes_read) == 1


def test_the_responses_api_refuses_an_unknown_theme_by_name(client, cx_manager, survey):
    refused = api(client, "/api/v1/responses/", make_api_token(user=cx_manager), theme="Unbekannt")
    assert refused.status_code == 400
    assert refused.json()["error"]["fields"] == {"theme": ["There is no theme “Unbekannt”."]}


def test_a_theme_with_a_nul_character_is_unknown_not_a_server_error(manager_client, survey):
    page = manager_client.get("/dashboard/", {"survey": survey.pk, "theme": "Lieferung\x00"})
    assert page.status_code == 400
    assert "There is no theme “Lieferung\x00”." in page.content.decode()
